// The cluster port's mutual TLS, as Swarm's: every node holds a key of its own and a certificate from the
// swarm's root CA (CN = its node ID), managers serve with theirs, and both ends check the other's against
// the root. A node that has none yet (it is joining) first fetches the root and checks it against the
// digest its join token carries, so a token is only ever sent to a manager of the swarm it names.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import https from 'node:https';
import type { PeerCertificate, TLSSocket } from 'node:tls';

/** The OU of a manager's certificate, as swarmkit names it. */
const MANAGER_ROLE = 'swarm-manager';

/** What a node speaks TLS with: its key and certificate, and the swarm's root CA (all PEM). */
export interface NodeTls {
  key: string;
  cert: string;
  ca: string;
}

/** A new P-256 key pair, as swarmkit's nodes make: the private key stays on the node. */
export function newNodeKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The digest part of a join token (SWMTKN-1-<digest>-<secret>), or undefined when it is not one. */
export function tokenDigest(token: string): string | undefined {
  return /^SWMTKN-1-([0-9a-z]{50})-[0-9a-z]{25}$/.exec(token)?.[1];
}

/**
 * What a node connects to a manager with: its certificate, and trust in a manager only with a manager's
 * certificate of the swarm's root (node certificates name node IDs, not addresses: no host name check; but
 * every worker holds a certificate of the same root, and one that took a manager's address must not be
 * sent a token or serve a view). Without a certificate yet (joining), `ca` alone: the root its token's
 * digest vouched for.
 */
export function clientTls(tls: Partial<NodeTls> & { ca: string }): https.RequestOptions {
  return { ...(tls.key && tls.cert ? { key: tls.key, cert: tls.cert } : {}), ca: tls.ca, checkServerIdentity: managerIdentity };
}

function managerIdentity(host: string, certificate: PeerCertificate): Error | undefined {
  if (certificate.subject?.OU === MANAGER_ROLE) return undefined;
  return new Error(`the cluster port at ${host} shows node ${certificate.subject?.CN}'s certificate, a ${certificate.subject?.OU}'s: not a manager of this swarm`);
}

/** Whether a node's certificate is a manager's, and not expired (a promoted node's is a worker's). */
export function isManagerCertificate(certificatePem: string, now = Date.now()): boolean {
  const certificate = new X509Certificate(certificatePem);
  return /^OU=(.*)$/m.exec(certificate.subject)?.[1] === MANAGER_ROLE && Date.parse(certificate.validTo) > now;
}

/** A client agent for the cluster port (see clientTls), its connections from `localAddress`. */
export function clusterAgent(tls: Partial<NodeTls> & { ca: string }, localAddress: string, keepAlive = false): https.Agent {
  return new https.Agent({ keepAlive, localAddress, ...clientTls(tls) } as https.AgentOptions);
}

/** An agent that trusts any manager: only to fetch a root CA, which is checked against the token's digest before any use. */
export function unverifiedAgent(localAddress: string): https.Agent {
  return new https.Agent({ localAddress, rejectUnauthorized: false } as https.AgentOptions);
}

/** The node ID the peer's certificate names, when it chains to the root the server trusts; else undefined. */
export function peerNodeId(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const certificate: PeerCertificate = socket.getPeerCertificate();
  const cn = certificate.subject?.CN;
  return typeof cn === 'string' ? cn : undefined;
}
