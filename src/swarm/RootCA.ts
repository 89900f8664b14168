// The swarm's root CA, made as swarmkit makes it: an ECDSA P-256 key and a self-signed certificate for
// CN=swarm-ca, valid for 20 years. routemesh speaks no mTLS, but the CA is what Swarm shows of itself: its
// certificate, subject and public key are every node's TLSInfo (`docker node inspect --pretty` prints them),
// and the SHA-256 of its PEM is the digest part of the join tokens. A restored swarm's CA is made again
// from its PEMs (the key is kept so the swarm's data directory holds the whole CA, as Swarm's does).
import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { der } from './der.js';

const VALIDITY_YEARS = 20;
// cfssl, which swarmkit uses, backdates certificates so a clock a little behind still accepts them.
const BACKDATE_MS = 5 * 60_000;

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
};

/** What a CA is made again from: its certificate and its private key (PKCS#8), both PEM. */
export interface RootCAPems {
  certificatePem: string;
  keyPem: string;
}

export class RootCA {
  /** The certificate, PEM-encoded: Swarm's `TrustRoot`. */
  readonly certificatePem: string;
  /** The certificate's subject, DER then base64: Swarm's `CertIssuerSubject`. */
  readonly subject: string;
  /** The CA's public key (SubjectPublicKeyInfo), DER then base64: Swarm's `CertIssuerPublicKey`. */
  readonly publicKey: string;
  /** The CA's private key, PKCS#8 PEM: only for the swarm's data directory. */
  readonly keyPem: string;

  /** A new CA, or with `pems` the CA a swarm had (a restore: same certificate, so the same join-token digest). */
  constructor(now = new Date(), pems?: RootCAPems) {
    const name = der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.printableString('swarm-ca'))));
    this.subject = name.toString('base64');
    if (pems) {
      const certificate = new X509Certificate(pems.certificatePem);
      const privateKey = createPrivateKey(pems.keyPem);
      if (!certificate.checkPrivateKey(privateKey)) throw new Error('the root CA\'s key does not match its certificate');
      this.certificatePem = pems.certificatePem;
      this.keyPem = pems.keyPem;
      this.publicKey = certificate.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      return;
    }
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const notBefore = new Date(now.getTime() - BACKDATE_MS);
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
    const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
    // The key's bits, after SubjectPublicKeyInfo's algorithm and the BIT STRING's unused-bits byte: for
    // P-256, the last 65 bytes (an uncompressed point).
    const keyBits = spki.subarray(spki.length - 65);
    const tbs = der.sequence(
      der.explicit(0, der.integer(Buffer.from([2]))), // v3
      der.integer(randomBytes(16)),
      signatureAlgorithm,
      name,
      der.sequence(der.time(notBefore), der.time(notAfter)),
      name,
      spki,
      der.explicit(3, der.sequence(
        extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
        extension(OID.basicConstraints, true, der.sequence(der.boolean(true))), // CA:TRUE
        extension(OID.subjectKeyIdentifier, false, der.octetString(createHash('sha1').update(keyBits).digest())),
      )),
    );
    const certificate = der.sequence(tbs, signatureAlgorithm, der.bitString(sign('sha256', tbs, privateKey)));
    const lines = certificate.toString('base64').match(/.{1,64}/g)!;
    this.certificatePem = `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
    this.publicKey = spki.toString('base64');
    this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** swarmkit's join-token digest part: the SHA-256 of the PEM, in base 36, zero-padded to 50 characters. */
  get joinTokenDigest(): string {
    const hex = createHash('sha256').update(this.certificatePem).digest('hex');
    return BigInt(`0x${hex}`).toString(36).padStart(50, '0');
  }

  get tlsInfo(): { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string } {
    return { TrustRoot: this.certificatePem, CertIssuerSubject: this.subject, CertIssuerPublicKey: this.publicKey };
  }
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}
