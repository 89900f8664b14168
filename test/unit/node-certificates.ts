// RootCA.issue: a node's certificate as swarmkit's CA signs it (O=<swarm>, OU=<role>, CN=<node ID>, the
// role and the ID as DNS names, 90 days), which OpenSSL verifies against the root for both TLS ends, and
// which carries a mutual-TLS connection on real sockets, where a client with no certificate, or one from
// another swarm's CA, is refused.
// Addresses: 127.179.0.1 (one TLS server per test, on port 0).
import { execFile } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import type { Test } from 'tap';
import { RootCA } from '../../src/swarm/index.js';
import type { NodeCertificateRole } from '../../src/swarm/index.js';

const HOST = '127.179.0.1';
const DAY_MS = 24 * 3600_000;

/** A node's key pair and the certificate `ca` issues for it. */
function node(ca: RootCA, nodeId: string, role: NodeCertificateRole, swarmId = 'swarm-one'): { key: string; cert: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = ca.issue({ nodeId, role, swarmId, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), cert };
}

t.test('a node certificate names the node, its role and its swarm, for 90 days, signed by the root', async (t) => {
  const ca = new RootCA();
  const now = new Date('2026-12-07T06:00:00Z');
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = ca.issue({ nodeId: 'abc123', role: 'swarm-worker', swarmId: 'swarm-one', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }, now);
  const cert = new X509Certificate(pem);
  const root = new X509Certificate(ca.certificatePem);
  t.equal(cert.subject, 'O=swarm-one\nOU=swarm-worker\nCN=abc123');
  t.equal(cert.issuer, 'CN=swarm-ca');
  t.equal(cert.ca, false, 'not a CA');
  t.ok(cert.checkIssued(root), 'issued by the root');
  t.ok(cert.verify(root.publicKey), 'signed with the root\'s key');
  t.ok(cert.publicKey.equals(publicKey), 'for the node\'s own key');
  t.equal(cert.subjectAltName, 'DNS:swarm-worker, DNS:abc123');
  t.same(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'], 'server and client authentication');
  t.equal(Math.round((Date.parse(cert.validTo) - now.getTime()) / DAY_MS), 90);
  t.ok(Date.parse(cert.validFrom) <= now.getTime(), 'valid from now (backdated a little)');
  t.not(new X509Certificate(ca.issue({ nodeId: 'abc123', role: 'swarm-worker', swarmId: 'swarm-one', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() })).serialNumber,
    cert.serialNumber, 'each certificate its own serial number');
});

t.test('OpenSSL verifies a node certificate against the root, for a TLS server and a TLS client', async (t) => {
  const ca = new RootCA();
  const dir = await mkdtemp(path.join(tmpdir(), 'routemesh-certs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ca.pem'), ca.certificatePem);
  await writeFile(path.join(dir, 'node.pem'), node(ca, 'mgr1', 'swarm-manager').cert);
  for (const purpose of ['sslserver', 'sslclient']) {
    const { stdout } = await promisify(execFile)('openssl', ['verify', '-purpose', purpose, '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'node.pem')]);
    t.match(stdout, /node\.pem: OK/, purpose);
  }
});

t.test('a key that is not P-256 is refused, with a reason', async (t) => {
  const ca = new RootCA();
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  t.throws(() => ca.issue({ nodeId: 'n', role: 'swarm-worker', swarmId: 's', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }), /P-256/);
});

/** A TLS server that asks every client for a certificate of `ca`'s; resolves with its port. */
async function mutualServer(t: Test, ca: RootCA, identity: { key: string; cert: string }): Promise<{ port: number; peers: string[] }> {
  const peers: string[] = [];
  const server = tls.createServer({ ...identity, ca: ca.certificatePem, requestCert: true, rejectUnauthorized: true }, (socket) => {
    peers.push(socket.getPeerX509Certificate()?.subject ?? '');
    socket.end('hello\n');
  });
  server.on('tlsClientError', () => {});
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return { port: (server.address() as AddressInfo).port, peers };
}

/** Connects to `port` as `identity` (or as nobody), trusting `ca`; resolves with what the server sent, rejects if it sent nothing. */
function connect(t: Test, port: number, ca: RootCA, identity?: { key: string; cert: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    // The server is known by its certificate's role, not a host name (the cluster port's addresses change).
    const socket = tls.connect({ host: HOST, port, ca: ca.certificatePem, ...identity, checkServerIdentity: () => undefined });
    t.teardown(() => { socket.destroy(); });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { text += chunk; });
    // Under TLS 1.3 a client's certificate is judged after its handshake: a refused one sees an alert, or just the end.
    socket.on('end', () => (text ? resolve(text) : reject(new Error('the server closed the connection without an answer'))));
    socket.on('error', reject);
  });
}

t.test('node certificates carry a mutual-TLS connection; no certificate, or another swarm\'s, is refused', async (t) => {
  const ca = new RootCA();
  const manager = node(ca, 'mgr1', 'swarm-manager');
  const { port, peers } = await mutualServer(t, ca, manager);
  t.equal(await connect(t, port, ca, node(ca, 'wrk1', 'swarm-worker')), 'hello\n', 'a worker of the swarm gets in');
  t.same(peers, ['O=swarm-one\nOU=swarm-worker\nCN=wrk1'], 'and the manager knows which node it is');
  await t.rejects(connect(t, port, ca), 'a client with no certificate is refused');
  const other = new RootCA();
  await t.rejects(connect(t, port, ca, node(other, 'wrk2', 'swarm-worker')), 'a certificate from another swarm\'s CA is refused');
  await t.rejects(connect(t, port, other, node(other, 'wrk2', 'swarm-worker')), 'and a client that trusts only another CA refuses the manager');
  t.equal(peers.length, 1, 'only the swarm\'s node was served');
});
