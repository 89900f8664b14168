// RootCA: a certificate OpenSSL parses and verifies as a self-signed P-256 CA for CN=swarm-ca, the TLSInfo
// fields derived from it, and swarmkit's join-token digest of its PEM.
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import t from 'tap';
import { RootCA } from '../../src/swarm/index.js';
import { der } from '../../src/swarm/der.js';

const YEAR_MS = 365.25 * 24 * 3600_000;

t.test('the certificate is a self-signed P-256 CA for CN=swarm-ca, valid for 20 years', async (t) => {
  const now = new Date('2026-11-22T12:00:00Z');
  const ca = new RootCA(now);
  t.match(ca.certificatePem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  const cert = new X509Certificate(ca.certificatePem);
  t.equal(cert.subject, 'CN=swarm-ca');
  t.equal(cert.issuer, 'CN=swarm-ca');
  t.equal(cert.ca, true, 'basicConstraints CA:TRUE');
  t.ok(cert.verify(cert.publicKey), 'signed by its own key');
  t.ok(cert.checkIssued(cert), 'issued by itself');
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.ok(Date.parse(cert.validFrom) <= now.getTime(), 'valid from now (backdated a little)');
  t.ok(now.getTime() - Date.parse(cert.validFrom) <= 10 * 60_000);
  t.equal(Math.round((Date.parse(cert.validTo) - now.getTime()) / YEAR_MS), 20);
  t.equal(cert.toString().trim(), ca.certificatePem.trim());
});

t.test('TLSInfo: the PEM, the subject and the public key, as Swarm encodes them', async (t) => {
  const ca = new RootCA();
  const cert = new X509Certificate(ca.certificatePem);
  // The subject of every Swarm root CA, as the seed transcript shows it.
  t.equal(ca.tlsInfo.CertIssuerSubject, 'MBMxETAPBgNVBAMTCHN3YXJtLWNh');
  t.equal(ca.tlsInfo.TrustRoot, ca.certificatePem);
  const key = createPublicKey({ key: Buffer.from(ca.tlsInfo.CertIssuerPublicKey, 'base64'), format: 'der', type: 'spki' });
  t.ok(key.equals(cert.publicKey), 'CertIssuerPublicKey is the certificate key, as DER SubjectPublicKeyInfo');
});

t.test('the join-token digest is the SHA-256 of the PEM in base 36, padded to 50', async (t) => {
  const ca = new RootCA();
  const hex = createHash('sha256').update(ca.certificatePem).digest('hex');
  t.match(ca.joinTokenDigest, /^[0-9a-z]{50}$/);
  t.equal(BigInt(`0x${hex}`), [...ca.joinTokenDigest].reduce((n, c) => n * 36n + BigInt(parseInt(c, 36)), 0n));
  t.not(new RootCA().joinTokenDigest, ca.joinTokenDigest, 'each swarm has its own CA');
});

t.test('DER: lengths past 127 bytes, positive integers, OIDs with large arcs, both time forms', async (t) => {
  t.same([...der.octetString(Buffer.alloc(200)).subarray(0, 3)], [0x04, 0x81, 200]);
  t.same([...der.octetString(Buffer.alloc(300)).subarray(0, 4)], [0x04, 0x82, 0x01, 0x2c]);
  t.same([...der.integer(Buffer.from([0x80]))], [0x02, 0x02, 0x00, 0x80], 'a high bit gets a zero byte in front');
  t.same([...der.integer(Buffer.from([0, 0, 0x7f]))], [0x02, 0x01, 0x7f], 'leading zeros dropped');
  t.same([...der.integer(Buffer.from([0]))], [0x02, 0x01, 0x00]);
  t.equal(der.oid('1.2.840.10045.2.1').toString('hex'), '06072a8648ce3d0201');
  t.equal(der.time(new Date('2046-01-02T03:04:05Z')).toString('latin1'), '\x17\x0d460102030405Z');
  t.equal(der.time(new Date('2050-01-02T03:04:05Z')).toString('latin1'), '\x18\x0f20500102030405Z');
});
