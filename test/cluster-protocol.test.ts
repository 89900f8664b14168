// The cluster protocol on its own: a real Manager, Dispatcher and ClusterPortServer on loopback, nodes
// played by ManagerLinks or by raw HTTPS with their certificates, no engines. Join, the session's whole view then numbered changes,
// resync on a gap or a new manager process, the applied watermark behind fenced(), bad requests, a reader
// that stops reading, a follower. Managers on 127.206.0.x (the cluster port), nodes on 127.206.1.x,
// task addresses 127.207/16, VIPs 127.208/16.
import type http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import t from 'tap';
import type { Test } from 'tap';
import { CLUSTER_PORT, ClusterPortServer, ClusterRequestError, Dispatcher, ManagerLink, clientTls, newNodeKey } from '../src/cluster/index.js';
import type { NodeTls, SessionMessage } from '../src/cluster/index.js';
import { Manager, RootCA } from '../src/swarm/index.js';
import type { SwarmState } from '../src/swarm/index.js';
import { testBlock, waitFor } from './support/cluster.js';

const BLOCK = testBlock(206);
const MANAGER = `127.${BLOCK}.0.1`;
const CLUSTER = `${MANAGER}:${CLUSTER_PORT}`;
const nodeAddr = (i: number): string => `127.${BLOCK}.1.${i}`;

/** A key and a certificate from `ca` for `nodeId`, as a node gets at its join. */
function issued(ca: RootCA, nodeId: string, role: 'swarm-manager' | 'swarm-worker' = 'swarm-worker'): NodeTls {
  const key = newNodeKey();
  return { key: key.privateKeyPem, cert: ca.issue({ nodeId, role, swarmId: 'test', publicKeyPem: key.publicKeyPem }), ca: ca.certificatePem };
}

/** The root of the managers played by hand, and of the nodes that talk to them. */
const HAND_CA = new RootCA();

/** A manager played by hand: HTTPS with a manager's certificate of HAND_CA. */
function handServer(handler: http.RequestListener): https.Server {
  const own = issued(HAND_CA, 'hand', 'swarm-manager');
  return https.createServer({ key: own.key, cert: own.cert, ca: own.ca, requestCert: true, rejectUnauthorized: false }, handler);
}

interface Plane {
  manager: Manager;
  dispatcher: Dispatcher;
  server: ClusterPortServer;
  logs: string[];
  close(): Promise<void>;
}

/** A leading manager's control plane serving the protocol on `address`:2377. */
async function plane(t: Test, options: { address?: string; restore?: SwarmState; maxSessionBacklogBytes?: number } = {}): Promise<Plane> {
  const logs: string[] = [];
  const log = (line: string): void => { logs.push(line); };
  const manager = new Manager({ taskSubnet: `127.${BLOCK + 1}.0.0/16`, vipSubnet: `127.${BLOCK + 2}.0.0/16`, heartbeatPeriodMs: 1000, log, ...(options.restore ? { restore: options.restore } : {}) });
  const dispatcher = new Dispatcher(manager);
  const server = new ClusterPortServer({ log, ...(options.maxSessionBacklogBytes ? { maxSessionBacklogBytes: options.maxSessionBacklogBytes } : {}) });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    dispatcher.close();
    await server.close();
    manager.close();
  };
  t.teardown(close);
  await server.listen(options.address ?? MANAGER, CLUSTER_PORT);
  server.setTls(issued(manager.rootCA, 'manager', 'swarm-manager'));
  server.lead(dispatcher);
  return { manager, dispatcher, server, logs, close };
}

/** A node joined and linked: its ManagerLink started (whole view in, first beat answered). */
async function linked(t: Test, p: Plane, i: number, options: { fenceAckTimeoutMs?: number } = {}): Promise<{ link: ManagerLink; logs: string[]; tls: NodeTls }> {
  const { answer, tls } = await joined(p, i);
  const logs: string[] = [];
  const link = new ManagerLink({
    nodeId: answer.nodeId, address: nodeAddr(i), managers: [CLUSTER], heartbeatPeriodMs: answer.heartbeatPeriodMs, retryMs: 50, tls,
    log: (line) => { logs.push(line); }, ...options,
  });
  t.teardown(() => link.close());
  await link.start();
  return { link, logs, tls };
}

/** Node i joined as a worker: its answer, and its key and certificate. */
function joined(p: Plane, i: number): ReturnType<typeof ManagerLink.join> {
  return ManagerLink.join(CLUSTER, { token: p.manager.tokens.token('worker'), hostname: `node${i}`, addr: nodeAddr(i) });
}

/** One request to the cluster port as sent, with a node's certificate or none, from `from`: its status and parsed answer. */
function request(method: string, path: string, body?: string | Buffer, host = MANAGER, as?: NodeTls, from?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host, port: CLUSTER_PORT, method, path, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(from ? { localAddress: from } : {}),
      ...(as ? clientTls(as) : { rejectUnauthorized: false }),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A session read by hand: every message as it comes, and the socket, to pause or close. */
function rawSession(t: Test, nodeId: string, localAddress: string, as: NodeTls): { messages: SessionMessage[]; response: Promise<http.IncomingMessage> } {
  const messages: SessionMessage[] = [];
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = https.get({ host: MANAGER, port: CLUSTER_PORT, localAddress, path: `/v1/session?node=${nodeId}`, agent: false, ...clientTls(as) }, (res) => {
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) messages.push(JSON.parse(line) as SessionMessage);
      });
      resolve(res);
    });
    req.on('error', reject);
    t.teardown(() => req.destroy());
  });
  return { messages, response };
}

t.test('join: a good token admits, a malformed or wrong one is refused with what to do, a known node ID is kept on a rejoin', async (t) => {
  const p = await plane(t);
  const token = p.manager.tokens.token('worker');
  const { answer, tls: own } = await ManagerLink.join(CLUSTER, { token, hostname: 'node1', addr: nodeAddr(1) });
  t.equal(answer.role, 'worker');
  t.equal(answer.rootCA, p.manager.rootCA.certificatePem, 'it gets the swarm\'s root');
  t.match(own.cert, /^-----BEGIN CERTIFICATE-----/, 'and its certificate, for the key it made');
  t.equal(answer.swarmId, p.manager.swarmId);
  t.equal(p.manager.store.node(answer.nodeId)?.Description.Hostname, 'node1');

  const malformed = await ManagerLink.join(CLUSTER, { token: 'SWMTKN-1-nope', hostname: 'node2', addr: nodeAddr(2) }).catch((e: unknown) => e);
  t.ok(malformed instanceof ClusterRequestError);
  t.match(malformed, { code: 'invalid_argument', message: /invalid join token/ });
  const wrong = `${token.slice(0, -1)}${token.endsWith('a') ? 'b' : 'a'}`;
  const invalid = await ManagerLink.join(CLUSTER, { token: wrong, hostname: 'node2', addr: nodeAddr(2) }).catch((e: unknown) => e);
  t.match(invalid, { code: 'invalid_argument', message: /A valid join token is necessary/ });

  const again = await ManagerLink.join(CLUSTER, { token, hostname: 'node1', addr: nodeAddr(1), nodeId: answer.nodeId }, own);
  t.equal(again.answer.nodeId, answer.nodeId, 'the rejoining node keeps its ID');
  t.equal(p.manager.store.nodes().length, 1, 'and no second node is made');
  t.not(again.tls.cert, own.cert, 'with a new certificate');
  const impostor = await ManagerLink.join(CLUSTER, { token, hostname: 'node2', addr: nodeAddr(2), nodeId: answer.nodeId }).catch((e: unknown) => e);
  t.match(impostor, { code: 'permission_denied', message: `rejoining as node ${answer.nodeId} needs that node's certificate` }, 'a token alone does not make a node someone else');

  // A node names its own address: the one it connects from.
  const elsewhere = await request('POST', '/v1/join', JSON.stringify({ token, hostname: 'node9', addr: nodeAddr(1), publicKey: newNodeKey().publicKeyPem }), MANAGER, undefined, `127.${BLOCK}.1.9`);
  t.match(elsewhere, { status: 403, body: { message: `a node joins from the address it names: ${nodeAddr(1)}, not 127.${BLOCK}.1.9` } }, 'a token may not claim another node\'s address');
  t.equal(p.manager.store.nodes().length, 1, 'nothing joined');

  // The token pins the swarm's root: a manager of another swarm never sees it.
  const other = await plane(t, { address: `127.${BLOCK}.0.7` });
  const pinned = await ManagerLink.join(`127.${BLOCK}.0.7:${CLUSTER_PORT}`, { token, hostname: 'node3', addr: nodeAddr(3) }).catch((e: unknown) => e);
  t.match(pinned, { code: 'invalid_argument', message: /is not one of the swarm this token joins: its root CA does not match the token's digest/ });
  t.equal(other.manager.store.nodes().length, 0, 'nothing joined there');
});

t.test('a session sends the whole view first, then changes chained by appliesTo/resultsIn carrying puts and deletes', async (t) => {
  const p = await plane(t);
  const { answer: { nodeId }, tls: own } = await joined(p, 1);
  const session = rawSession(t, nodeId, nodeAddr(1), own);
  await session.response;
  const complete = await waitFor('the whole view', () => session.messages[0]);
  t.match(complete, { type: 'complete', epoch: p.dispatcher.epoch, seq: Number });
  const seq = (complete as Extract<SessionMessage, { type: 'complete' }>).seq;
  t.same((complete as any).nodes.map((n: any) => n.ID), [nodeId]);

  const other = p.manager.addNode({ hostname: 'node2', addr: nodeAddr(2), role: 'worker' });
  const put = await waitFor('a change', () => session.messages.find((m) => m.type === 'changes'));
  t.match(put, { type: 'changes', epoch: p.dispatcher.epoch, appliesTo: seq, resultsIn: seq + 1 });
  t.ok((put as any).changes.some((c: any) => c.op === 'put' && c.kind === 'node' && c.object.ID === other.ID), 'the new node is put');

  p.manager.removeNode(other.ID, true);
  const deleted = await waitFor('a second change', () => session.messages.filter((m) => m.type === 'changes')[1]);
  t.match(deleted, { appliesTo: seq + 1, resultsIn: seq + 2 });
  t.ok((deleted as any).changes.some((c: any) => c.op === 'delete' && c.kind === 'node' && c.id === other.ID), 'the removed node is deleted');
});

t.test('a change that does not apply to the view makes the link reconnect and take the whole view again', async (t) => {
  // A manager played by hand: its first session skips a change; its second is whole and well chained.
  const sessions: http.ServerResponse[] = [];
  const node = { ID: 'n1', Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: nodeAddr(1) }, Description: { Hostname: 'node1' } };
  const server = handServer((req, res) => {
    if (req.url?.startsWith('/v1/session')) {
      sessions.push(res);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ type: 'complete', epoch: 'e1', seq: 4, nodes: [node], services: [], tasks: [] })}\n`);
      if (sessions.length === 1) res.write(`${JSON.stringify({ type: 'changes', epoch: 'e1', appliesTo: 5, resultsIn: 6, changes: [{ kind: 'node', op: 'delete', id: 'n1' }] })}\n`);
      return;
    }
    req.resume();
    req.on('end', () => res.end(req.url === '/v1/heartbeat' ? '{"periodMs":1000}' : '{}'));
  });
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  await new Promise<void>((resolve) => server.listen(CLUSTER_PORT, `127.${BLOCK}.0.2`, resolve));
  const logs: string[] = [];
  const link = new ManagerLink({ nodeId: 'n1', address: nodeAddr(1), tls: issued(HAND_CA, 'n1'), managers: [`127.${BLOCK}.0.2:${CLUSTER_PORT}`], heartbeatPeriodMs: 1000, retryMs: 50, log: (l) => { logs.push(l); } });
  t.teardown(() => link.close());
  await link.start();
  await waitFor('a second session', () => sessions.length >= 2);
  t.match(logs.join('\n'), /missed a change of the cluster view \(have 4, got one after 5\); asking for the whole view/);
  t.ok(link.view.node('n1'), 'the change that did not apply was not applied');
});

t.test('an acknowledgement the manager did not take is sent again, with no new change to carry it', async (t) => {
  const applied: { status: number; seq: number }[] = [];
  const node = { ID: 'n1', Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: nodeAddr(1) }, Description: { Hostname: 'node1' } };
  const server = handServer((req, res) => {
    if (req.url?.startsWith('/v1/session')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ type: 'complete', epoch: 'e1', seq: 3, nodes: [node], services: [], tasks: [] })}\n`);
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      if (req.url !== '/v1/applied') return void res.end(req.url === '/v1/heartbeat' ? '{"periodMs":1000}' : '{}');
      // The first acknowledgement meets a manager that cannot take it.
      const status = applied.length === 0 ? 503 : 200;
      applied.push({ status, seq: (JSON.parse(body) as { seq: number }).seq });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{}' : '{"code":"unavailable","message":"busy"}');
    });
  });
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const HAND = `127.${BLOCK}.0.6`;
  await new Promise<void>((resolve) => server.listen(CLUSTER_PORT, HAND, resolve));
  const link = new ManagerLink({ nodeId: 'n1', address: nodeAddr(1), tls: issued(HAND_CA, 'n1'), managers: [`${HAND}:${CLUSTER_PORT}`], heartbeatPeriodMs: 1000, retryMs: 50 });
  t.teardown(() => link.close());
  await link.start();
  await waitFor('the acknowledgement sent again', () => applied.length >= 2, 5000);
  t.same(applied.slice(0, 2), [{ status: 503, seq: 3 }, { status: 200, seq: 3 }]);
});

t.test('a pending fenced() keeps waiting across a resync: for the same numbers from the same manager, for the whole view from a new one', async (t) => {
  // A manager played by hand, each session's first messages by script; the rest written by the test.
  const node = { ID: 'n1', Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: nodeAddr(1) }, Description: { Hostname: 'node1' } };
  const line = (message: unknown): string => `${JSON.stringify(message)}\n`;
  const complete = (epoch: string, seq: number): string => line({ type: 'complete', epoch, seq, nodes: [node], services: [], tasks: [] });
  const scripts = [
    complete('e1', 4) + line({ type: 'changes', epoch: 'e1', appliesTo: 4, resultsIn: 5, changes: [{ kind: 'node', op: 'put', object: node }] }),
    complete('e1', 8),
    complete('e2', 0),
  ];
  const sessions: http.ServerResponse[] = [];
  const server = handServer((req, res) => {
    if (req.url?.startsWith('/v1/session')) {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(scripts[sessions.length] ?? '');
      sessions.push(res);
      return;
    }
    req.resume();
    req.on('end', () => res.end(req.url === '/v1/heartbeat' ? '{"periodMs":1000}' : '{}'));
  });
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  const HAND = `127.${BLOCK}.0.5`;
  await new Promise<void>((resolve) => server.listen(CLUSTER_PORT, HAND, resolve));
  const link = new ManagerLink({ nodeId: 'n1', address: nodeAddr(1), tls: issued(HAND_CA, 'n1'), managers: [`${HAND}:${CLUSTER_PORT}`], heartbeatPeriodMs: 1000, retryMs: 50, fenceAckTimeoutMs: 20_000 });
  t.teardown(() => link.close());
  let syncs = 0;
  link.on('synced', () => { syncs++; });
  await link.start();
  await waitFor('the change after the whole view', () => link.view.node('n1')?.Version.Index === 1 && sessions.length === 1);
  const turns = async (n: number): Promise<void> => { for (let i = 0; i < n; i++) await new Promise(setImmediate); };
  await turns(5);

  let resolved = false;
  const fenced = link.fenced().then(() => { resolved = true; });
  // A gap, the same manager: the link takes the whole view again; the fence still waits for seq 5.
  sessions[0]!.write(line({ type: 'changes', epoch: 'e1', appliesTo: 7, resultsIn: 8, changes: [] }));
  await waitFor('the resync with the same manager', () => syncs >= 2);
  await turns(5);
  t.notOk(resolved, 'a resync with the same manager does not release the fence');
  sessions[1]!.write(line({ type: 'applied', epoch: 'e1', seq: 5 }));
  await fenced;

  resolved = false;
  const again = link.fenced().then(() => { resolved = true; });
  // A new manager process: its whole view (seq 0 of epoch e2) must be applied everywhere first.
  sessions[1]!.end();
  await waitFor('the resync with a new manager', () => syncs >= 3);
  await turns(5);
  t.notOk(resolved, 'a new manager process does not release the fence');
  sessions[2]!.write(line({ type: 'applied', epoch: 'e1', seq: 100 }));
  await turns(5);
  t.notOk(resolved, 'nor does a watermark of the old one');
  sessions[2]!.write(line({ type: 'applied', epoch: 'e2', seq: 0 }));
  await again;
});

t.test('a manager restart (a new epoch) resyncs the link from its whole view', async (t) => {
  const first = await plane(t);
  const { link, logs } = await linked(t, first, 1, { fenceAckTimeoutMs: 20_000 });
  // A Ready node that never says what it applied: a fence asked now is still pending at the restart.
  const { answer: { nodeId: silent }, tls: silentTls } = await joined(first, 2);
  first.manager.heartbeat(silent);
  await (rawSession(t, silent, nodeAddr(2), silentTls)).response;
  await waitFor('the silent node in the view', () => link.view.node(silent)?.Status.State === 'ready');
  const fenced = link.fenced();
  const state = first.manager.exportState();
  let syncs = 0;
  link.on('synced', () => { syncs++; });
  await first.close();
  const second = await plane(t, { restore: state });
  t.not(second.dispatcher.epoch, first.dispatcher.epoch);
  await waitFor('the link to sync with the new manager', () => syncs >= 1, 5000);
  await fenced;
  t.same(logs.filter((l) => /not every mesh/.test(l)), [], 'the fence pending at the restart is released by the new manager\'s watermark, not its timeout');
  const added = second.manager.addNode({ hostname: 'node9', addr: nodeAddr(9), role: 'worker' });
  await waitFor('a change of the new manager in the view', () => link.view.node(added.ID));
});

t.test('fenced() resolves once every Ready node applied the view, and after its timeout (said) when one never does', async (t) => {
  const p = await plane(t);
  const a = await linked(t, p, 1, { fenceAckTimeoutMs: 20_000 });
  const b = await linked(t, p, 2);
  // A change that makes no new Ready node (a node that is Down is not waited for).
  const change = (hostname: string, i: number) => {
    const node = p.manager.addNode({ hostname, addr: nodeAddr(i), role: 'worker' });
    p.manager.setNodeState(node.ID, 'down');
    return node;
  };
  const added = change('node9', 9);
  await waitFor('the change on both links', () => a.link.view.node(added.ID) && b.link.view.node(added.ID));
  await a.link.fenced();
  t.same(a.logs.filter((l) => /not every mesh/.test(l)), [], 'both links acked: no timeout');

  // A third node that reads its session but never says what it applied: the watermark waits for it.
  const { answer: { nodeId: silent }, tls: silentTls } = await joined(p, 3);
  p.manager.heartbeat(silent);
  const session = rawSession(t, silent, nodeAddr(3), silentTls);
  await session.response;
  const timed = await linked(t, p, 4, { fenceAckTimeoutMs: 600 });
  const more = change('node8', 8);
  await waitFor('the change on the link', () => timed.link.view.node(more.ID));
  const began = Date.now();
  await timed.link.fenced();
  t.ok(Date.now() - began >= 550, `fenced() waited out its timeout (${Date.now() - began} ms)`);
  t.match(timed.logs.join('\n'), /not every mesh said it applied view \d+ within 600 ms; stopping after the fence period anyway/);

  // Once the silent node acks, the watermark moves past it: what is fenced now resolves without a timeout.
  const seq = Math.max(...session.messages.flatMap((m) => m.type === 'changes' ? [m.resultsIn] : m.type === 'complete' ? [m.seq] : []));
  const fenced = a.link.fenced();
  t.notOk(session.messages.some((m) => m.type === 'applied' && m.seq >= seq), 'no watermark past what the silent node applied');
  t.equal((await request('POST', '/v1/applied', JSON.stringify({ nodeId: silent, epoch: p.dispatcher.epoch, seq }), MANAGER, silentTls)).status, 200);
  await waitFor('the watermark past it', () => session.messages.some((m) => m.type === 'applied' && m.seq >= seq));
  await fenced;
  t.same(a.logs.filter((l) => /not every mesh/.test(l)), [], 'no timeout: every Ready node acked');

  // A node that is not Ready (Down) is not waited for: it gets the whole view, fenced tasks out, when it is back.
  const last = change('node7', 7);
  await waitFor('the change on the link', () => a.link.view.node(last.ID));
  p.manager.setNodeState(silent, 'down');
  await a.link.fenced();
  t.same(a.logs.filter((l) => /not every mesh/.test(l)), [], 'the Down node was not waited for');

  // A Ready node with no session (its process reconnecting, or gone and not yet Down) still routes by the
  // view it had: it is waited for, until it says or the waiter's timeout.
  const away = p.manager.addNode({ hostname: 'node6', addr: nodeAddr(6), role: 'worker' });
  await waitFor('the change on the link', () => timed.link.view.node(away.ID));
  const since = Date.now();
  await timed.link.fenced();
  t.ok(Date.now() - since >= 550, `a Ready node without a session is waited for (${Date.now() - since} ms)`);
});

t.test('the watermark counts a node from its first acknowledgement, seq 0 of a manager with no change yet included', async (t) => {
  const manager = new Manager({ taskSubnet: `127.${BLOCK + 1}.0.0/16`, vipSubnet: `127.${BLOCK + 2}.0.0/16`, log: () => {} });
  t.teardown(() => manager.close());
  const node = manager.addNode({ hostname: 'node1', addr: nodeAddr(1), role: 'worker' });
  manager.heartbeat(node.ID);
  const dispatcher = new Dispatcher(manager);
  t.teardown(() => dispatcher.close());
  const lines: SessionMessage[] = [];
  dispatcher.streams.open(node.ID, { write: (l) => { lines.push(JSON.parse(l)); return true; }, end: () => {} });
  t.match(lines, [{ type: 'complete', seq: 0 }]);
  t.notOk(lines.some((m) => m.type === 'applied'), 'a session that has said nothing holds the watermark back');
  dispatcher.applied(node.ID, dispatcher.epoch, 0);
  t.match(lines.filter((m) => m.type === 'applied'), [{ seq: 0 }], 'its first acknowledgement, of seq 0, moves it');
});

t.test('bad requests get a clear 4xx, and the port keeps serving', async (t) => {
  const p = await plane(t);
  const badJson = await request('POST', '/v1/join', '{"token":');
  t.match(badJson, { status: 400, body: { code: 'invalid_argument', message: /must be JSON/ } });
  const { answer: { nodeId }, tls: own } = await joined(p, 1);
  const unknown = await request('GET', '/v1/nothing', undefined, MANAGER, own);
  t.match(unknown, { status: 404, body: { message: /GET \/v1\/nothing is not part of the cluster protocol/ } });
  const missing = await request('POST', '/v1/heartbeat', '{}', MANAGER, own);
  t.match(missing, { status: 400, body: { message: /needs nodeId \(a string\)/ } });
  const badReports = await request('POST', '/v1/status', JSON.stringify({ nodeId, reports: {} }), MANAGER, own);
  t.match(badReports, { status: 400, body: { message: /reports must be a list/ } });

  // A body past the limit: refused, whether the answer or a reset reaches the sender first.
  const huge = await request('POST', '/v1/join', Buffer.alloc(9 << 20, 0x20)).catch((error: Error) => ({ status: 0, body: error.message }));
  t.ok(huge.status === 400 || /ECONNRESET|EPIPE/.test(String(huge.body)), `a 9 MiB body is refused (${huge.status} ${JSON.stringify(huge.body).slice(0, 120)})`);
  t.match((await request('GET', '/v1/ping')).body, { leader: true, index: Number }, 'the port still answers');
  t.equal(p.manager.store.nodes().length, 1, 'nothing was half-written');
});

t.test('mutual TLS: no call but ca, ping and join without a certificate of the swarm; a node speaks only for itself; a removed node is refused', async (t) => {
  const p = await plane(t);
  const { answer: { nodeId }, tls: own } = await joined(p, 1);
  const { answer: { nodeId: other } } = await joined(p, 2);
  t.match(await request('GET', '/v1/ca'), { status: 200, body: { rootCA: p.manager.rootCA.certificatePem } }, 'anyone gets the root, to check against a token');
  t.match(await request('POST', '/v1/heartbeat', JSON.stringify({ nodeId })), { status: 403, body: { code: 'permission_denied', message: /needs a node certificate of this swarm: join the swarm first/ } }, 'no certificate');
  t.match(await request('POST', '/v1/heartbeat', JSON.stringify({ nodeId }), MANAGER, { ...issued(new RootCA(), nodeId), ca: own.ca }), { status: 403 }, 'a certificate of another root, naming the same node');
  t.match(await request('GET', `/v1/session?node=${nodeId}`), { status: 403 }, 'a session without one');
  t.match(await request('POST', '/v1/heartbeat', JSON.stringify({ nodeId: other }), MANAGER, own), { status: 403, body: { message: `a node speaks only for itself: this certificate is node ${nodeId}'s, not ${other}'s` } });
  t.match(await request('POST', '/v1/heartbeat', JSON.stringify({ nodeId }), MANAGER, own), { status: 200, body: { periodMs: 1000 } }, 'its own heartbeat is taken');
  t.match(await request('POST', '/v1/engine/v1.47/services', '{}', MANAGER, own), { status: 403, body: { message: /only a manager of this swarm/ } }, 'a worker may not forward engine API requests');

  // A node reports its own tasks only.
  p.manager.createService({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } }, Mode: { Replicated: { Replicas: 4 } } });
  const theirs = await waitFor('a task on node 2', () => p.manager.store.tasks().find((task) => task.NodeID === other));
  const report = { State: 'accepted', Message: 'accepted' } as const;
  t.match(p.dispatcher.reportStatus(nodeId, [{ taskId: theirs.ID, report }]), [{ message: `task ${theirs.ID} is not node ${nodeId}'s to report` }]);
  t.same(p.dispatcher.reportStatus(other, [{ taskId: theirs.ID, report }]), [], 'its own node reports it');

  p.manager.removeNode(nodeId, true);
  t.match(await request('POST', '/v1/heartbeat', JSON.stringify({ nodeId }), MANAGER, own), { status: 404, body: { message: /is not a member of this swarm/ } }, 'removed, its certificate is refused');
});

t.test('a session reader that stops reading is dropped once far behind; the port stays responsive', async (t) => {
  const p = await plane(t, { maxSessionBacklogBytes: 1 << 20 });
  const { answer: { nodeId }, tls: own } = await joined(p, 1);
  // A raw socket that asks for its session and then never reads.
  const socket = tls.connect({ socket: net.connect({ host: MANAGER, port: CLUSTER_PORT, localAddress: nodeAddr(1) }), key: own.key, cert: own.cert, ca: own.ca, checkServerIdentity: () => undefined });
  t.teardown(() => socket.destroy());
  socket.write(`GET /v1/session?node=${nodeId} HTTP/1.1\r\nHost: x\r\n\r\n`);
  socket.pause();
  let closed = false;
  socket.on('close', () => { closed = true; });
  const label = 'x'.repeat(64 << 10);
  await waitFor('the reader to be dropped', async () => {
    // Changes of 64 KiB each, a turn apart (each its own batch), until the kernel's buffers and then the backlog fill.
    for (let i = 0; i < 16; i++) {
      const node = p.manager.store.node(nodeId)!;
      p.manager.updateNode(nodeId, node.Version.Index, { ...node.Spec, Labels: { big: `${label}${node.Version.Index}` } });
      await new Promise((resolve) => setImmediate(resolve));
    }
    return p.logs.find((l) => /reads its session too slowly \(\d+ bytes behind\): dropped; it resyncs when it reconnects/.test(l));
  }, 30_000);
  t.match((await request('GET', '/v1/ping')).body, { leader: true, index: Number }, 'the port still answers');
  socket.resume();
  await waitFor('the dropped session to close', () => closed);
});

t.test('a manager that does not lead answers 503 naming the leader, and ping; a join is taken to the leader', async (t) => {
  const leader = await plane(t);
  const follower = new ClusterPortServer({ leader: () => CLUSTER });
  t.teardown(() => follower.close());
  const FOLLOWER = `127.${BLOCK}.0.3`;
  await follower.listen(FOLLOWER, CLUSTER_PORT);
  follower.setTls(issued(leader.manager.rootCA, 'follower', 'swarm-manager'));
  const refused = await request('POST', '/v1/heartbeat', '{"nodeId":"x"}', FOLLOWER, issued(leader.manager.rootCA, 'x'));
  t.match(refused, { status: 503, body: { code: 'unavailable', leader: CLUSTER, message: `this manager is not the leader: the leader is at ${CLUSTER}` } });
  t.match((await request('GET', '/v1/ping', undefined, FOLLOWER)).body, { leader: false, index: Number });
  const viaFollower = await ManagerLink.join(`${FOLLOWER}:${CLUSTER_PORT}`, { token: leader.manager.tokens.token('worker'), hostname: 'node1', addr: nodeAddr(1) });
  t.ok(leader.manager.store.node(viaFollower.answer.nodeId), 'a join asked of the follower is taken to the leader');

  const leaderless = new ClusterPortServer();
  t.teardown(() => leaderless.close());
  await leaderless.listen(`127.${BLOCK}.0.4`, CLUSTER_PORT);
  leaderless.setTls(issued(leader.manager.rootCA, 'leaderless', 'swarm-manager'));
  t.match(await request('POST', '/v1/join', '{}', `127.${BLOCK}.0.4`), { status: 503, body: { message: /knows of none: the swarm does not have a leader/ } });
});

/** A manager played by hand on 127.B.0.3:2377: `session` answers each session (its count from 1), the rest answer `other`. */
async function handMadeManager(t: Test, session: (res: http.ServerResponse, count: number) => void, other: (url: string) => string): Promise<{ sessions: () => number }> {
  let count = 0;
  const server = handServer((req, res) => {
    if (req.url?.startsWith('/v1/session')) {
      session(res, ++count);
      return;
    }
    req.resume();
    req.on('end', () => res.end(other(req.url ?? '')));
  });
  t.teardown(() => { server.closeAllConnections(); server.close(); });
  await new Promise<void>((resolve) => server.listen(CLUSTER_PORT, `127.${BLOCK}.0.3`, resolve));
  return { sessions: () => count };
}

const HAND_NODE = { ID: 'n1', Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: nodeAddr(1) }, Description: { Hostname: 'node1' } };
const wholeView = (): string => `${JSON.stringify({ type: 'complete', epoch: 'e1', seq: 1, nodes: [HAND_NODE], services: [], tasks: [] })}\n`;

t.test('what a manager sends that is not the protocol (a null line, an unknown message, a non-JSON answer) drops the session, never the node', async (t) => {
  const manager = await handMadeManager(t, (res, count) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(wholeView());
    if (count === 1) res.write('null\n');
    if (count === 2) res.write('{"type":"weird"}\n');
  }, (url) => (url === '/v1/heartbeat' ? 'this is not JSON' : '{}'));
  const logs: string[] = [];
  const link = new ManagerLink({ nodeId: 'n1', address: nodeAddr(1), tls: issued(HAND_CA, 'n1'), managers: [`127.${BLOCK}.0.3:${CLUSTER_PORT}`], heartbeatPeriodMs: 100, retryMs: 50, log: (l) => { logs.push(l); } });
  t.teardown(() => link.close());
  await link.start();
  await waitFor('a third session', () => manager.sessions() >= 3);
  t.match(logs.join('\n'), /sent a line that is not a session message \(Cannot read properties of null|sent a line that is not a session message/);
  t.match(logs.join('\n'), /unknown message type "weird"/);
  t.ok(link.view.node('n1'), 'the view held through it all');
});

t.test('a manager that says nothing for three heartbeat periods (frozen, not dead) is left for another', async (t) => {
  // The first session gets the whole view, then silence (no change, no `alive`); later ones no answer at all.
  const manager = await handMadeManager(t, (res, count) => {
    if (count > 1) return;
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(wholeView());
  }, (url) => (url === '/v1/heartbeat' ? '{"periodMs":100}' : '{}'));
  const logs: string[] = [];
  const link = new ManagerLink({ nodeId: 'n1', address: nodeAddr(1), tls: issued(HAND_CA, 'n1'), managers: [`127.${BLOCK}.0.3:${CLUSTER_PORT}`], heartbeatPeriodMs: 100, retryMs: 50, log: (l) => { logs.push(l); } });
  t.teardown(() => link.close());
  const leaderless = new Promise<void>((resolve) => link.once('leaderless', resolve));
  await link.start();
  await waitFor('a second session', () => manager.sessions() >= 2, 5000);
  t.match(logs.join('\n'), /the manager said nothing for 3 heartbeat periods/);
  await leaderless;
  t.pass('and, no manager serving it, the link calls its leader lost');
});

t.test('a real manager is never silent that long: it says alive each heartbeat period', async (t) => {
  const p = await plane(t);
  const { link, logs } = await linked(t, p, 5);
  const started = Date.now();
  await waitFor('four seconds of a quiet swarm', () => Date.now() - started > 4000, 6000);
  t.notMatch(logs.join('\n'), /said nothing/, 'the session was never taken for frozen');
  t.ok(link.view.nodes().length > 0);
});

t.test('a node removed from the swarm is told so by its session (404), and leaves', async (t) => {
  const p = await plane(t);
  const { link, tls: own } = await linked(t, p, 6);
  const removed = new Promise<void>((resolve) => link.once('removed', resolve));
  p.manager.removeNode(link.nodeId, true);
  await removed;
  const answer = await request('GET', `/v1/session?node=${link.nodeId}`, undefined, MANAGER, own);
  t.equal(answer.status, 404, 'a session asked for it afterwards is refused, not cut');
  t.match(answer.body.message, /is not a member of this swarm: join it again/);
});

t.test('a connection that never finishes its TLS handshake does not hold the port open when it closes', async (t) => {
  const p = await plane(t);
  const silent = net.connect({ host: MANAGER, port: CLUSTER_PORT, localAddress: nodeAddr(7) });
  t.teardown(() => silent.destroy());
  await new Promise((resolve) => silent.once('connect', resolve));
  const closing = Date.now();
  await p.close();
  t.ok(Date.now() - closing < 1000, `closed in ${Date.now() - closing} ms, not after the handshake timeout`);
});
