// The cluster port's mutual TLS, where a review found it wanting: a member that restarts after its join token
// was rotated, a node removed while it was away, a client that never finishes its TLS handshake, a worker's
// certificate shown as a manager's, a promoted node's port. A real Manager, Dispatcher and ClusterPortServer on
// loopback, nodes played by ManagerLink.join or raw sockets; then a whole cluster. Managers on 127.196.0.1-9,
// nodes on 127.196.0.11 and up, tasks 127.197/16, VIPs 127.198/16.
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { CLUSTER_PORT, ClusterPortServer, Dispatcher, ManagerLink, clientTls, newNodeKey } from '../src/cluster/index.js';
import type { NodeTls, SessionMessage } from '../src/cluster/index.js';
import { Manager } from '../src/swarm/index.js';
import type { NodeCertificateRole } from '../src/swarm/index.js';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';

const BLOCK = testBlock(196);
const MANAGER = `127.${BLOCK}.0.1`;
const CLUSTER = `${MANAGER}:${CLUSTER_PORT}`;
const nodeAddr = (i: number): string => `127.${BLOCK}.0.${10 + i}`;
/** The cluster port's limit on a request head or body (10 s unless told), which a handshake must keep to as well. */
const REQUEST_TIMEOUT_MS = 1000;

/** A leading manager's control plane serving the protocol on MANAGER:2377. */
async function plane(t: Test): Promise<{ manager: Manager; server: ClusterPortServer }> {
  const manager = new Manager({ taskSubnet: `127.${BLOCK + 1}.0.0/16`, vipSubnet: `127.${BLOCK + 2}.0.0/16`, heartbeatPeriodMs: 1000, log: () => {} });
  const dispatcher = new Dispatcher(manager);
  const server = new ClusterPortServer({ requestTimeoutMs: REQUEST_TIMEOUT_MS });
  t.teardown(async () => {
    dispatcher.close();
    await server.close();
    manager.close();
  });
  await server.listen(MANAGER, CLUSTER_PORT);
  server.setTls(issued(manager, 'manager', 'swarm-manager'));
  server.lead(dispatcher);
  return { manager, server };
}

/** A key and a certificate from the manager's CA, as a node gets at its join. */
function issued(manager: Manager, nodeId: string, role: NodeCertificateRole): NodeTls {
  const key = newNodeKey();
  const cert = manager.rootCA.issue({ nodeId, role, swarmId: manager.swarmId, publicKeyPem: key.publicKeyPem });
  return { key: key.privateKeyPem, cert, ca: manager.rootCA.certificatePem };
}

/** A network request to the cluster port with a node's certificate, as its link sends one: status and answer. */
function networkRequest(as: NodeTls, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: MANAGER, port: CLUSTER_PORT, method: 'POST', path: '/v1/networks', agent: false, headers: { 'content-type': 'application/json' }, ...clientTls(as) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The subject of the certificate a cluster port shows. */
async function shownCertificate(host: string): Promise<tls.PeerCertificate['subject']> {
  const socket = tls.connect({ host, port: CLUSTER_PORT, rejectUnauthorized: false });
  try {
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    return socket.getPeerCertificate().subject;
  } finally {
    socket.destroy();
  }
}

t.test('a member that restarts after `join-token --rotate` is back with its certificate; a new node needs the new token', async (t) => {
  const { manager } = await plane(t);
  const old = manager.tokens.token('worker');
  const { answer, tls } = await ManagerLink.join(CLUSTER, { token: old, hostname: 'node1', addr: nodeAddr(1) });
  manager.tokens.rotate('worker');

  const back = await ManagerLink.join(CLUSTER, { token: old, hostname: 'node1', addr: nodeAddr(1), nodeId: answer.nodeId }, tls).catch((e: Error) => e);
  t.notOk(back instanceof Error, `its certificate brings it back, as a swarmkit node's does (got: ${(back as Error).message})`);
  t.match(back, { answer: { nodeId: answer.nodeId } }, 'as itself');
  t.equal(manager.store.nodes().length, 1);

  const stranger = await ManagerLink.join(CLUSTER, { token: old, hostname: 'node2', addr: nodeAddr(2) }).catch((e: unknown) => e);
  t.match(stranger, { code: 'invalid_argument', message: /A valid join token is necessary/ }, 'the old token admits no one new');
  const fresh = await ManagerLink.join(CLUSTER, { token: manager.tokens.token('worker'), hostname: 'node2', addr: nodeAddr(2) });
  t.equal(fresh.answer.role, 'worker', 'the new one does');
});

t.test('a node removed while it was away is told so when it comes back with its certificate, not made a new node', async (t) => {
  const { manager } = await plane(t);
  const token = manager.tokens.token('manager');
  const { answer, tls } = await ManagerLink.join(CLUSTER, { token: manager.tokens.token('worker'), hostname: 'node1', addr: nodeAddr(1) });
  manager.removeNode(answer.nodeId, true);

  // What a restarted node sends: its ID, its certificate, and the token it kept (a manager's, it may be).
  const back = await ManagerLink.join(CLUSTER, { token, hostname: 'node1', addr: nodeAddr(1), nodeId: answer.nodeId }, tls).catch((e: unknown) => e);
  t.match(back, { code: 'not_found', message: `node ${answer.nodeId} was removed from this swarm: it may join again only with docker swarm join` });
  t.same(manager.store.nodes(), [], 'no node was made of it');
});

t.test('a client that opens the cluster port and never finishes its TLS handshake is cut as a slow request is', async (t) => {
  await plane(t);
  const socket = net.connect({ host: MANAGER, port: CLUSTER_PORT, localAddress: nodeAddr(1) });
  t.teardown(() => socket.destroy());
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const openedAt = Date.now();
  // The verdict comes from whichever is first: the server closing the socket, or a deadline well past its limit.
  const deadline = REQUEST_TIMEOUT_MS + 5000;
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    new Promise<boolean>((resolve) => socket.once('close', () => resolve(true))),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), deadline); }),
  ]);
  clearTimeout(timer);
  t.ok(closed, `the server closed it within ${deadline} ms (after ${Date.now() - openedAt} ms)`);
});

t.test('a worker\'s certificate, of the same root, shown on a manager\'s address gets no token and serves no view', async (t) => {
  const { manager } = await plane(t);
  const { answer, tls: own } = await ManagerLink.join(CLUSTER, { token: manager.tokens.token('worker'), hostname: 'node1', addr: nodeAddr(1) });
  // Another worker of the swarm, listening where a manager was (its host taken, or its address while it is down).
  const asked: string[] = [];
  const impostor = https.createServer({ ...issued(manager, 'worker2', 'swarm-worker'), requestCert: true, rejectUnauthorized: false }, (req, res) => {
    asked.push(`${req.method} ${req.url}`);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => impostor.listen(CLUSTER_PORT, `127.${BLOCK}.0.2`, resolve));
  t.teardown(() => new Promise<void>((resolve) => { impostor.closeAllConnections(); impostor.close(() => resolve()); }));
  const impostorAddr = `127.${BLOCK}.0.2:${CLUSTER_PORT}`;

  const rejoin = await ManagerLink.join(impostorAddr, { token: manager.tokens.token('manager'), hostname: 'node1', addr: nodeAddr(1), nodeId: answer.nodeId }, own).catch((e: unknown) => e);
  t.match(rejoin, { code: 'unreachable', message: /not a manager of this swarm/ }, 'a rejoining node sends its token only to a manager');
  t.equal(await ManagerLink.ping(impostorAddr, nodeAddr(1), own), undefined, 'nor takes a worker\'s pong for a manager\'s');
  t.same(asked, [], 'the impostor heard nothing');
});

t.test('a promoted worker serves its cluster port with a manager\'s certificate', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 2 });
  const [node1, node2] = cluster.nodes;
  const before = await api<any>(node1!.apiUrl, 'GET', `/nodes/${node2!.nodeId}`);
  const promoted = await api(node1!.apiUrl, 'POST', `/nodes/${node2!.nodeId}/update?version=${before.body.Version.Index}`, { ...before.body.Spec, Role: 'manager' });
  t.equal(promoted.status, 200);
  const shown = await waitFor('node2\'s cluster port to show a manager\'s certificate', async () => {
    const subject = await shownCertificate(node2!.address).catch(() => undefined);
    return subject?.OU === 'swarm-manager' ? subject : undefined;
  });
  t.match(shown, { CN: node2!.nodeId, OU: 'swarm-manager' });
});

t.test('a node\'s certificate asks for its own bridge networks and containers only, never the swarm\'s networks or another node\'s', async (t) => {
  const { manager } = await plane(t);
  const token = manager.tokens.token('worker');
  const one = await ManagerLink.join(CLUSTER, { token, hostname: 'node1', addr: nodeAddr(1) });
  const two = await ManagerLink.join(CLUSTER, { token, hostname: 'node2', addr: nodeAddr(2) });
  const overlay = manager.networks.create({ Name: 'shared', Driver: 'overlay', Attachable: true });
  const nodeId = one.answer.nodeId;

  t.match(await networkRequest(one.tls, { nodeId, op: 'create', request: { Name: 'mine', Driver: 'overlay' } }), { status: 403, body: { code: 'permission_denied' } }, 'no swarm network made by a worker');
  t.notOk(manager.store.all('network').some((n) => n.Spec.Name === 'mine'));
  t.match(await networkRequest(one.tls, { nodeId, op: 'remove', ref: overlay.ID }), { status: 403, body: { code: 'permission_denied' } }, 'nor removed');
  t.ok(manager.store.object('network', overlay.ID), 'the swarm network is still there');

  const attached = await networkRequest(two.tls, { nodeId: two.answer.nodeId, op: 'attach', containerId: 'c2', containerName: 'web', network: 'shared', aliases: [] });
  t.equal(attached.status, 200, 'node 2 puts its container on the attachable network');
  t.match(await networkRequest(one.tls, { nodeId, op: 'detach', containerId: 'c2' }), { status: 403, body: { message: /container c2 is node .*'s, not node/ } }, 'node 1 may not take it off');
  t.match(await networkRequest(one.tls, { nodeId, op: 'attach', containerId: 'c2', containerName: 'web', network: 'shared', aliases: [] }), { status: 403 }, 'nor claim its place');
  t.ok(manager.store.all('network').find((n) => n.ID === overlay.ID)?.Containers?.c2, 'it is still on it');

  const bridge = await networkRequest(one.tls, { nodeId, op: 'create', request: { Name: 'mine' } });
  t.equal(bridge.status, 200, 'a bridge of its own it may make');
  t.match(await networkRequest(one.tls, { nodeId, op: 'remove', ref: bridge.body.network.ID }), { status: 200 }, 'and remove');
  t.match(await networkRequest(two.tls, { nodeId: two.answer.nodeId, op: 'detach', containerId: 'c2' }), { status: 200 }, 'and its own container it takes off');
});

t.test('a node renews its certificate half way through its life, and goes on with the new one', async (t) => {
  const { manager } = await plane(t);
  const { answer, tls: own } = await ManagerLink.join(CLUSTER, { token: manager.tokens.token('worker'), hostname: 'node1', addr: nodeAddr(1) });
  // Its certificate as it was 50 days ago: 40 days left of 90, past the half.
  const key = newNodeKey();
  const aging: NodeTls = {
    ...own, key: key.privateKeyPem,
    cert: manager.rootCA.issue({ nodeId: answer.nodeId, role: 'swarm-worker', swarmId: manager.swarmId, publicKeyPem: key.publicKeyPem }, new Date(Date.now() - 50 * 86_400_000)),
  };
  const link = new ManagerLink({ nodeId: answer.nodeId, address: nodeAddr(1), managers: [CLUSTER], heartbeatPeriodMs: answer.heartbeatPeriodMs, retryMs: 50, tls: aging });
  t.teardown(() => link.close());
  const renewed = new Promise<NodeTls>((resolve) => link.once('certificate', resolve));
  await link.start();
  let timer: NodeJS.Timeout | undefined;
  const fresh = await Promise.race([renewed, new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), 5000); })]);
  clearTimeout(timer);
  t.ok(fresh, 'a new certificate within the first heartbeat period');
  if (!fresh) return;
  t.ok(Date.parse(new X509Certificate(fresh.cert).validTo) > Date.now() + 89 * 86_400_000, 'good for 90 days from now');
  t.equal(link.tls, fresh, 'the link speaks with it');
  const report = await link.networks({ op: 'create', request: { Name: 'after-renewal' } });
  t.equal(report.network?.NodeID, answer.nodeId, 'and the manager takes it as the same node');
});

t.test('a node\'s certificate is good for the swarm\'s --cert-expiry, not always 90 days', async (t) => {
  const { manager } = await plane(t);
  const hour = 3600 * 1_000_000_000;
  manager.updateSwarm(manager.swarmVersion, { ...manager.swarmSpec, CAConfig: { NodeCertExpiry: hour } }, { worker: false, manager: false });
  const { tls: own } = await ManagerLink.join(CLUSTER, { token: manager.tokens.token('worker'), hostname: 'node1', addr: nodeAddr(1) });
  const validTo = Date.parse(new X509Certificate(own.cert).validTo);
  t.ok(validTo <= Date.now() + 3600_000 && validTo > Date.now() + 3500_000, `valid for an hour (to ${new Date(validTo).toISOString()})`);
});

t.test('a demoted manager\'s open session sends it a worker\'s share of new secrets, not their data', async (t) => {
  const manager = new Manager({ taskSubnet: `127.${BLOCK + 1}.0.0/16`, vipSubnet: `127.${BLOCK + 2}.0.0/16`, log: () => {} });
  const dispatcher = new Dispatcher(manager);
  t.teardown(() => { dispatcher.close(); manager.close(); });
  manager.addNode({ hostname: 'node1', addr: nodeAddr(1), role: 'manager' });
  const demoted = manager.addNode({ hostname: 'node2', addr: nodeAddr(2), role: 'manager' });
  const seen = new Map<string, string | undefined>();
  dispatcher.streams.open(demoted.ID, {
    write: (line) => {
      const message = JSON.parse(line) as SessionMessage;
      if (message.type === 'changes') for (const c of message.changes) if (c.kind === 'secret' && c.op === 'put') seen.set(c.object.Spec.Name, c.object.Spec.Data);
      return true;
    },
    end: () => {},
  });
  manager.updateNode(demoted.ID, manager.store.node(demoted.ID)!.Version.Index, { Role: 'worker', Availability: 'active', Labels: {} });
  manager.secrets.create({ Name: 'after', Data: Buffer.from('secret').toString('base64') });
  await waitFor('the secret to go out', () => seen.has('after') || undefined);
  t.equal(seen.get('after'), undefined, 'its name only: no task of its needs it');
});
