// The swarm's root CA, made as swarmkit makes it: an ECDSA P-256 key and a self-signed certificate for
// CN=swarm-ca, valid for 20 years. Its certificate, subject and public key are every node's TLSInfo
// (`docker node inspect --pretty` prints them), and the SHA-256 of its PEM is the digest part of the join
// tokens. It issues each node's certificate as swarmkit's does (`issue`): CN the node's ID, OU its role,
// O the swarm's ID, for both ends of a mutual-TLS connection. A restored swarm's CA is made again from its
// PEMs (the key is kept so the swarm's data directory holds the whole CA, as Swarm's does).
import { X509Certificate, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { der } from './der.js';

const VALIDITY_YEARS = 20;
/** swarmkit's default node certificate expiry (`--cert-expiry`, 2160h). */
const NODE_VALIDITY_MS = 2160 * 3600_000;
// cfssl, which swarmkit uses, backdates certificates so a clock a little behind still accepts them.
const BACKDATE_MS = 5 * 60_000;

const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  organizationalUnitName: '2.5.4.11',
  subjectAltName: '2.5.29.17',
  extKeyUsage: '2.5.29.37',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
};

/** The CA's name (its subject, DER), CN=swarm-ca: every certificate it issues names it as issuer. */
const CA_NAME = der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.printableString('swarm-ca'))));

/** Swarm's TLSInfo: what every node and the swarm show of the root CA. */
export interface TlsInfo {
  /** The certificate, PEM-encoded. */
  TrustRoot: string;
  /** The certificate's subject, DER then base64. */
  CertIssuerSubject: string;
  /** The CA's public key (SubjectPublicKeyInfo), DER then base64. */
  CertIssuerPublicKey: string;
}

/** A node's role, as its certificate's OU and swarmkit name it. */
export type NodeCertificateRole = 'swarm-manager' | 'swarm-worker';

export interface NodeCertificateRequest {
  nodeId: string;
  role: NodeCertificateRole;
  /** The swarm's ID: the certificate's O, which tells one swarm's nodes from another's under any CA. */
  swarmId: string;
  /** The node's own public key (SPKI PEM); its private key never leaves the node. */
  publicKeyPem: string;
  /** How long it is good for: the swarm's `--cert-expiry` (default swarmkit's, 90 days). */
  validityMs?: number;
}

/** What a CA is made again from: its certificate and its private key (PKCS#8), both PEM. */
export interface RootCAPems {
  certificatePem: string;
  keyPem: string;
}

export class RootCA {
  /** The certificate, PEM-encoded: Swarm's `TrustRoot`. */
  readonly certificatePem: string;
  /** The CA's public key (SubjectPublicKeyInfo), DER then base64: Swarm's `CertIssuerPublicKey`. */
  readonly publicKey: string;
  /** The CA's private key, PKCS#8 PEM: only for the swarm's data directory. */
  readonly keyPem: string;
  #privateKey: KeyObject | undefined;

  /** A new CA, or with `pems` the CA a swarm had (a restore: same certificate, so the same join-token digest). */
  constructor(now = new Date(), pems?: RootCAPems) {
    if (pems) {
      const certificate = new X509Certificate(pems.certificatePem);
      const privateKey = createPrivateKey(pems.keyPem);
      if (!certificate.checkPrivateKey(privateKey)) throw new Error('the root CA\'s key does not match its certificate');
      this.certificatePem = pems.certificatePem;
      this.keyPem = pems.keyPem;
      this.publicKey = publicKeyOf(certificate);
      return;
    }
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const notBefore = new Date(now.getTime() - BACKDATE_MS);
    const notAfter = new Date(now);
    notAfter.setUTCFullYear(notAfter.getUTCFullYear() + VALIDITY_YEARS);
    const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
    const tbs = der.sequence(
      der.explicit(0, der.integer(Buffer.from([2]))), // v3
      der.integer(randomBytes(16)),
      signatureAlgorithm,
      CA_NAME,
      der.sequence(der.time(notBefore), der.time(notAfter)),
      CA_NAME,
      spki,
      der.explicit(3, der.sequence(
        extension(OID.keyUsage, true, der.bitString(Buffer.from([0x06]), 1)), // keyCertSign, cRLSign
        extension(OID.basicConstraints, true, der.sequence(der.boolean(true))), // CA:TRUE
        extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))),
      )),
    );
    this.certificatePem = pem(der.sequence(tbs, signatureAlgorithm, der.bitString(sign('sha256', tbs, privateKey))));
    this.publicKey = spki.toString('base64');
    this.keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    this.#privateKey = privateKey;
  }

  /**
   * A node's certificate, PEM, valid for 90 days (or `validityMs`) from `now` (backdated a little): subject O=<swarm ID>,
   * OU=<role>, CN=<node ID>, and the role and node ID as DNS names, as swarmkit's CA signs them; usable
   * by both ends of a connection (serverAuth and clientAuth).
   */
  issue(request: NodeCertificateRequest, now = new Date()): string {
    const publicKey = createPublicKey(request.publicKeyPem);
    if (publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('a node\'s key must be ECDSA P-256, as swarmkit\'s are');
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
    const attribute = (oid: string, value: string): Buffer => der.set(der.sequence(der.oid(oid), der.utf8String(value)));
    const subject = der.sequence(
      attribute(OID.organizationName, request.swarmId),
      attribute(OID.organizationalUnitName, request.role),
      attribute(OID.commonName, request.nodeId),
    );
    const dnsNames = [request.role, request.nodeId].map((name) => der.implicit(2, Buffer.from(name, 'ascii')));
    const tbs = der.sequence(
      der.explicit(0, der.integer(Buffer.from([2]))), // v3
      der.integer(randomBytes(16)),
      signatureAlgorithm,
      CA_NAME,
      der.sequence(der.time(new Date(now.getTime() - BACKDATE_MS)), der.time(new Date(now.getTime() + (request.validityMs ?? NODE_VALIDITY_MS)))),
      subject,
      spki,
      der.explicit(3, der.sequence(
        extension(OID.keyUsage, true, der.bitString(Buffer.from([0xa0]), 5)), // digitalSignature, keyEncipherment
        extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth), der.oid(OID.clientAuth))),
        extension(OID.basicConstraints, true, der.sequence()), // CA:FALSE
        extension(OID.subjectKeyIdentifier, false, der.octetString(keyIdentifier(spki))),
        extension(OID.authorityKeyIdentifier, false, der.sequence(der.implicit(0, keyIdentifier(Buffer.from(this.publicKey, 'base64'))))),
        extension(OID.subjectAltName, false, der.sequence(...dnsNames)),
      )),
    );
    this.#privateKey ??= createPrivateKey(this.keyPem);
    return pem(der.sequence(tbs, signatureAlgorithm, der.bitString(sign('sha256', tbs, this.#privateKey))));
  }

  /** swarmkit's join-token digest part: the SHA-256 of the PEM, in base 36, zero-padded to 50 characters. */
  get joinTokenDigest(): string {
    return joinTokenDigestOf(this.certificatePem);
  }

  get tlsInfo(): TlsInfo {
    return tlsInfoOf(this.certificatePem);
  }
}

/**
 * Parsing a certificate takes a quarter of a millisecond, and every node's description and every read of the
 * swarm shows the same CA: the last one's TLSInfo is kept.
 */
let lastTlsInfo: Readonly<TlsInfo> | undefined;

/** The TLSInfo of a swarm's root CA certificate: a RootCA's, or a copy of the swarm's, which holds only the PEM. */
export function tlsInfoOf(certificatePem: string): TlsInfo {
  if (lastTlsInfo?.TrustRoot !== certificatePem) {
    lastTlsInfo = { TrustRoot: certificatePem, CertIssuerSubject: CA_NAME.toString('base64'), CertIssuerPublicKey: publicKeyOf(new X509Certificate(certificatePem)) };
  }
  return { ...lastTlsInfo };
}

function publicKeyOf(certificate: X509Certificate): string {
  return certificate.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * RFC 5280 §4.2.1.2 (1): the SHA-1 of the key's bits, after SubjectPublicKeyInfo's algorithm and the BIT
 * STRING's unused-bits byte (for P-256, the last 65 bytes: an uncompressed point).
 */
function keyIdentifier(spki: Buffer): Buffer {
  return createHash('sha1').update(spki.subarray(spki.length - 65)).digest();
}

function pem(certificate: Buffer): string {
  const lines = certificate.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** swarmkit's join-token digest of a root CA certificate: the SHA-256 of its PEM, in base 36, 50 characters. */
export function joinTokenDigestOf(certificatePem: string): string {
  const hex = createHash('sha256').update(certificatePem).digest('hex');
  return BigInt(`0x${hex}`).toString(36).padStart(50, '0');
}
