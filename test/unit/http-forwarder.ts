// The http-mode forwarder on real sockets, driven the way the mesh drives it (a net listener that hands
// each accepted connection to the forwarder's client side, ClientConnections). It proves that: requests of
// one kept-alive client are spread evenly over every task, over kept-alive task connections; tasks get
// honest forwarding headers and no hop-by-hop ones; what goes wrong is answered as a gateway would (503
// with no task, 502 when none could be reached or one failed, 504 when one stayed silent), with a
// request safe to repeat retried and one with a body never sent twice; the keep-alive race is absorbed;
// WebSockets pass through while h2c upgrades are answered as plain requests; a task's 5xx is passed on.
// Every address is in 127.229.0.0/16: the front listens on 127.229.0.1, tasks on 127.229.0.10 and up;
// the refusals and header timeouts use 127.15.0.0/16 (front 127.15.0.1), the parser's refusals and
// CONNECT 127.14.0.0/16 (front 127.14.0.1).
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { HttpForwarder, Pool, RoundRobin } from '../../src/lb/index.js';
import type { Backend, BackendDesired, ClientConnections, ForwardLimits, HttpTarget } from '../../src/lb/index.js';
import { waitFor } from '../support/cluster.js';
import { deadline } from '../support/dns.js';
import { rawClient as rawClientOn } from '../support/httpFront.js';

const FRONT = '127.229.0.1';

// ---------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------

async function listen(server: net.Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => { server.off('error', reject); resolve(); });
  });
  return (server.address() as net.AddressInfo).port;
}

/** Closes `server` at the end of the test, destroying every connection it ever accepted (upgraded ones too). */
function closeAtEnd(t: Test, server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return sockets;
}

function up(id: string, host: string, port: number): BackendDesired {
  return { id, host, port, state: 'up', label: `task-${id}` };
}

interface Front {
  host: string;
  port: number;
  target: HttpTarget;
  /** What the forwarder reported, in order: `answered <id> <status>`, `connectError <id>`, `failed <reason>`. */
  log: string[];
  /** Client connections the front listener accepted. */
  accepted: () => number;
  /** The forwarder's client side, which the front hands its connections to. */
  server: ClientConnections;
}

/** The front's timeouts other than the header timeout, as HttpForwarder.server takes them. */
type FrontTimeouts = NonNullable<Parameters<HttpForwarder['server']>[1]>;

/** A front listener on `host` handing its connections to a new HttpForwarder, as src/mesh/Mesh.ts does. */
async function startFront(t: Test, backends: BackendDesired[], limits: ForwardLimits = {}, timeouts: FrontTimeouts = {}, host = FRONT): Promise<Front> {
  const log: string[] = [];
  const pool = new Pool();
  pool.set(backends);
  const target: HttpTarget = {
    pool,
    balancer: new RoundRobin(),
    serviceName: 'web',
    limits: { maxAttempts: 3, connectTimeoutMs: 1000, ...limits },
    events: {
      answered: (backend: Backend, status: number) => log.push(`answered ${backend.id} ${status}`),
      connectError: (backend: Backend) => log.push(`connectError ${backend.id}`),
      failed: (reason) => log.push(`failed ${reason}`),
      retried: () => log.push('retried'),
    },
  };
  const forwarder = new HttpForwarder({ localAddress: host });
  t.teardown(() => forwarder.close());
  const http1 = forwarder.server(() => target, timeouts);
  t.teardown(() => { http1.close(); });
  let accepted = 0;
  const front = net.createServer((socket) => {
    accepted++;
    http1.accept(socket);
  });
  closeAtEnd(t, front);
  const port = await listen(front, host);
  return { host, port, target, log, accepted: () => accepted, server: http1 };
}

interface HttpTask {
  server: http.Server;
  port: number;
  /** Connections the task accepted (from the forwarder). */
  connections: () => number;
  requests: http.IncomingMessage[];
}

/** A task: an http server on `host` answering with `handler`. */
async function httpTask(t: Test, host: string, handler: http.RequestListener): Promise<HttpTask> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((request, response) => {
    requests.push(request);
    handler(request, response);
  });
  let connections = 0;
  server.on('connection', () => { connections++; });
  closeAtEnd(t, server);
  return { server, port: await listen(server, host), connections: () => connections, requests };
}

function answer(response: http.ServerResponse, status: number, body: string, headers: http.OutgoingHttpHeaders = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...headers }).end(body);
}

/** A task that answers with what it was sent: headers, method, url and the address it came from. */
function echoHeaders(request: http.IncomingMessage, response: http.ServerResponse): void {
  answer(response, 200, JSON.stringify({
    headers: request.headers, method: request.method, url: request.url, from: request.socket.remoteAddress,
  }), { 'content-type': 'application/json' });
}

interface Seen { headers: http.IncomingHttpHeaders; method: string; url: string; from: string }

/** A task on a raw socket: `onRequest(n, socket)` is called for the n-th (1-based) request head on each connection. */
async function rawTask(t: Test, host: string, onRequest: (n: number, socket: net.Socket) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    let buffered = '';
    let n = 0;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      // Heads only: these tasks never read a body (the requests they answer have none, or they hang up).
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1 && !socket.destroyed; end = buffered.indexOf('\r\n\r\n')) {
        buffered = buffered.slice(end + 4);
        onRequest(++n, socket);
      }
    });
  });
  closeAtEnd(t, server);
  return { port: await listen(server, host), connections: () => connections };
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(host: string): Promise<number> {
  const server = net.createServer();
  const port = await listen(server, host);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

/**
 * One request to the front; `agent: false` (a connection of its own) unless an agent is given. A reply
 * that never comes fails the test within 5s: every claim here is "an answer, never a hang".
 */
function send(port: number, options: http.RequestOptions = {}, body?: string): Promise<Reply> {
  return deadline(`a reply to ${options.method ?? 'GET'} ${options.path ?? '/'}`, new Promise((resolve, reject) => {
    const request = http.request({ host: FRONT, port, agent: false, ...options }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  }));
}

function keepAliveAgent(t: Test): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  return agent;
}


/** A raw client connection to the front (FRONT unless `host` says another): see support/httpFront.ts. */
function rawClient(t: Test, port: number, options: { allowHalfOpen?: boolean; host?: string } = {}) {
  return rawClientOn(t, port, { host: FRONT, ...options });
}

const WS_REQUEST = (host: string) => [
  'GET /chat HTTP/1.1', `Host: ${host}`, 'Upgrade: websocket', 'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', '',
].join('\r\n');

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

t.test('one kept-alive client is spread evenly over every task, over kept-alive task connections', async (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const tasks = await Promise.all(ids.map((id, i) => httpTask(t, `127.229.0.${10 + i}`, (_q, response) => answer(response, 200, id))));
  const front = await startFront(t, ids.map((id, i) => up(id, `127.229.0.${10 + i}`, tasks[i]!.port)));
  const agent = keepAliveAgent(t);

  const counts = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const { status, body, headers } = await send(front.port, { agent });
    if (status !== 200) t.fail(`request ${i} got ${status}: ${body}`);
    counts.set(body, (counts.get(body) ?? 0) + 1);
    if (i === 0) {
      // The tasks (Node servers) announce `Keep-Alive: timeout=5`: their limit, not the mesh's.
      t.equal(headers['keep-alive'], 'timeout=75', 'the client is told the mesh\'s own idle limit');
      t.equal(headers.connection, 'keep-alive');
    }
  }

  t.same([...counts.keys()].sort(), ids, 'every task answered, and only tasks did');
  const spread = [...counts.values()];
  t.ok(Math.max(...spread) / Math.min(...spread) <= 1.1, `even within 10%: ${JSON.stringify(Object.fromEntries(counts))}`);
  t.same(Object.fromEntries(counts), Object.fromEntries(ids.map((id) => [id, 100])), 'round robin: exactly 100 each');
  t.equal(front.accepted(), 1, 'all 600 came over one client connection');
  t.same(tasks.map((task) => task.connections()), ids.map(() => 1), 'each task was reached over one kept-alive connection');
  // Each request's hold on its task ends with its reply: nothing is left counted as in flight.
  await waitFor('every request to be finished', () => front.target.pool.backends.every((b) => b.active === 0));
  t.same(front.target.pool.backends.map((b) => [b.id, b.active, b.total]), ids.map((id) => [id, 0, 100]));
});

t.test('tasks get the client\'s address and the first hop, never what an untrusted client claims, and no hop-by-hop headers', async (t) => {
  const task = await httpTask(t, '127.229.0.16', echoHeaders);
  const front = await startFront(t, [up('echo', '127.229.0.16', task.port)], {
    trustsProxy: (address) => address === '127.229.0.88',
  });

  // An untrusted client (.77) claiming to forward for someone else: its claims are replaced, not appended to.
  const spoofed = await send(front.port, {
    localAddress: '127.229.0.77',
    headers: { host: 'shop.example:8443', 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6' },
  });
  t.equal(spoofed.status, 200);
  const seen = JSON.parse(spoofed.body) as Seen;
  t.equal(seen.headers['x-forwarded-for'], '127.229.0.77', 'the client address, alone');
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['x-forwarded-host'], 'shop.example:8443', 'the Host the client sent');
  t.equal(seen.headers['x-forwarded-port'], String(front.port), 'the port the client reached the mesh on');
  t.equal(seen.headers.forwarded, 'for=127.229.0.77;host="shop.example:8443";proto=http');
  t.notMatch(JSON.stringify(seen.headers), /6\.6\.6\.6/, 'the spoofed address reaches the task nowhere');

  // A trusted load balancer (.88) in front: its chain is kept and the mesh's hop appended.
  const trusted = await send(front.port, {
    localAddress: '127.229.0.88',
    headers: { 'x-forwarded-for': '203.0.113.9' },
  });
  t.equal((JSON.parse(trusted.body) as Seen).headers['x-forwarded-for'], '203.0.113.9, 127.229.0.88');

  // Hop-by-hop headers describe the client's connection: they stop at the mesh, which keeps its own to the task.
  const hop = await send(front.port, {
    headers: { connection: 'close, x-secret', 'x-secret': '1', 'keep-alive': 'timeout=1' },
  });
  t.equal(hop.status, 200);
  const hopSeen = JSON.parse(hop.body) as Seen;
  t.equal(hopSeen.headers['x-secret'], undefined, 'a header the client named in Connection is dropped');
  t.equal(hopSeen.headers['keep-alive'], undefined);
  t.equal(hopSeen.headers.connection, 'keep-alive', 'the task connection is the mesh\'s, kept alive');
  t.equal(hopSeen.from, FRONT, 'the task sees the forwarder\'s local address');
  t.equal(hop.headers.connection, 'close', 'the client asked to close, and is told so');
  t.same(front.log, ['answered echo 200', 'answered echo 200', 'answered echo 200']);
});

t.test('no task in the pool: a short 503 naming the service, and the client connection stays usable', async (t) => {
  const front = await startFront(t, []);
  const agent = keepAliveAgent(t);

  const first = await send(front.port, { agent });
  t.equal(first.status, 503);
  t.ok(Buffer.byteLength(first.body) < 200, `a short body (${Buffer.byteLength(first.body)} bytes)`);
  t.match(first.body, /\bweb\b/, 'naming the service');
  t.equal(first.headers.connection, 'keep-alive');
  t.same(front.log, ['failed no_backend']);

  // A task arrives (the target is read per request): the same client connection carries the next request to it.
  const task = await httpTask(t, '127.229.0.17', (_q, response) => answer(response, 200, 'here now'));
  front.target.pool.set([up('late', '127.229.0.17', task.port)]);
  const second = await send(front.port, { agent });
  t.same([second.status, second.body], [200, 'here now']);
  t.equal(front.accepted(), 1, 'both requests over one client connection');
  t.same(front.log, ['failed no_backend', 'answered late 200']);
});

t.test('a refused connect is retried on another task for a request without a body, never for one with a body', async (t) => {
  const good = await httpTask(t, '127.229.0.21', (request, response) => {
    request.resume();
    request.on('end', () => answer(response, 200, 'good'));
  });
  const refusing = up('refusing', '127.229.0.20', await closedPort('127.229.0.20'));
  const alsoRefusing = up('also-refusing', '127.229.0.22', await closedPort('127.229.0.22'));

  // Round robin starts at index 0, so each fresh front tries `refusing` first.
  const retried = await startFront(t, [refusing, up('good', '127.229.0.21', good.port)]);
  const get = await send(retried.port);
  t.same([get.status, get.body], [200, 'good'], 'the client never noticed');
  t.same(retried.log, ['connectError refusing', 'retried', 'answered good 200']);

  const none = await startFront(t, [refusing, alsoRefusing]);
  const failed = await send(none.port);
  t.equal(failed.status, 502);
  t.match(failed.body, /\bweb\b/);
  t.same(none.log, ['connectError refusing', 'retried', 'connectError also-refusing', 'failed connect_failed'], 'one retry: no third task to try');

  // A body may have been partly sent when the connect failed: a POST is answered 502, not sent again.
  const goodRequests = good.requests.length;
  const posted = await startFront(t, [refusing, up('good', '127.229.0.21', good.port)]);
  const post = await send(posted.port, { method: 'POST', headers: { 'content-type': 'text/plain' } }, 'an order, once');
  t.equal(post.status, 502);
  t.match(post.body, /task-refusing/, 'naming the task that could not be reached');
  t.same(posted.log, ['connectError refusing', 'failed connect_failed'], 'counted as a failure to balance, and no retry');
  t.equal(good.requests.length, goodRequests, 'the other task never got the POST');
});

t.test('a task that fails mid-request: 502 before any answer, a cut reply after one began', async (t) => {
  // Reads the request, then hangs up without a word: the first request on a fresh connection.
  const hangup = await rawTask(t, '127.229.0.23', (_n, socket) => socket.destroy());
  const front = await startFront(t, [up('hangup', '127.229.0.23', hangup.port)]);
  const reply = await send(front.port);
  t.equal(reply.status, 502);
  t.match(reply.body, /task-hangup/);
  t.same(front.log, ['answered hangup 502']);
  t.equal(hangup.connections(), 1, 'no other task to repeat it on: not sent again');

  // With another task, a request safe to repeat (GET, no body) goes there; a POST is never sent twice.
  const other = await rawTask(t, '127.229.0.25', (_n, socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  const both = await startFront(t, [up('hangup', '127.229.0.23', hangup.port), up('other', '127.229.0.25', other.port)]);
  // Round robin gives each task one of two requests.
  const gets = [await send(both.port), await send(both.port)];
  t.same(gets.map((reply) => reply.status), [200, 200], 'the GET the first task dropped is answered by the other');
  const dropped = both.log.filter((line) => line === 'answered hangup 502').length;
  t.ok(dropped >= 1, 'the task that dropped a request is still blamed');
  t.equal(both.log.filter((line) => line === 'retried').length, dropped, 'and each request it dropped was sent on once');
  const posts = [await send(both.port, { method: 'POST' }, 'x'), await send(both.port, { method: 'POST' }, 'x')];
  t.same(posts.map((reply) => reply.status).sort(), [200, 502], 'a POST it dropped is not sent again: the task may have acted on it');

  // Sends its head and part of a 100-byte body, then dies: the client's reply must be cut too, not left waiting.
  const partial = await rawTask(t, '127.229.0.24', (_n, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\nhalf', () => socket.destroy());
  });
  const cutFront = await startFront(t, [up('partial', '127.229.0.24', partial.port)]);
  const cut = await deadline('the cut reply to end', new Promise<{ status: number; body: string; complete: boolean; signalled: boolean }>((resolve, reject) => {
    const request = http.get({ host: FRONT, port: cutFront.port, agent: false }, (response) => {
      let body = '';
      let signalled = false;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('aborted', () => { signalled = true; });
      response.on('error', () => { signalled = true; });
      response.on('close', () => resolve({ status: response.statusCode ?? 0, body, complete: response.complete, signalled }));
    });
    request.on('error', reject);
  }));
  t.equal(cut.status, 200, 'the task\'s head had been passed on');
  t.equal(cut.complete, false, `the reply did not pretend to be complete (${cut.body.length} of 100 bytes)`);
  t.ok(cut.signalled, 'the client saw the reply aborted');
  t.same(cutFront.log, ['answered partial 200']);
});

t.test('a task silent past responseTimeoutMs: 504, quickly', async (t) => {
  const silent = await httpTask(t, '127.229.0.25', () => { /* never answers */ });
  const front = await startFront(t, [up('silent', '127.229.0.25', silent.port)], { responseTimeoutMs: 200 });
  const started = Date.now();
  const reply = await send(front.port);
  const elapsed = Date.now() - started;
  t.equal(reply.status, 504);
  t.match(reply.body, /task-silent/);
  t.ok(elapsed >= 150 && elapsed < 2000, `after the 200ms limit, not long after (${elapsed}ms)`);
  t.same(front.log, ['answered silent 504']);
  t.equal(silent.requests.length, 1, 'the task did get the request');
});

t.test('the keep-alive race: a kept-alive task connection closed as a request goes out', async (t) => {
  // Answers the first request of each connection (kept alive), hangs up on the second without a word:
  // to the forwarder this is exactly a task closing an idle connection as the next request goes out.
  const secondKills = (n: number, socket: net.Socket): void => {
    if (n === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
    else socket.destroy();
  };

  const race = await rawTask(t, '127.229.0.26', secondKills);
  const front = await startFront(t, [up('race', '127.229.0.26', race.port)]);
  const first = await send(front.port);
  const second = await send(front.port);
  t.same([first.status, first.body], [200, 'ok']);
  t.same([second.status, second.body], [200, 'ok'], 'the second GET was sent again, on a fresh connection');
  t.same(front.log, ['answered race 200', 'answered race 200'], 'the task is not blamed with a 502');
  t.equal(race.connections(), 2, 'the retry went over a new connection');

  // The same race with a body: it may have reached the task, so it is not sent again.
  const racePost = await rawTask(t, '127.229.0.26', secondKills);
  const postFront = await startFront(t, [up('race-post', '127.229.0.26', racePost.port)]);
  t.equal((await send(postFront.port)).status, 200);
  const post = await send(postFront.port, { method: 'POST' }, 'pay once');
  t.equal(post.status, 502);
  t.same(postFront.log, ['answered race-post 200', 'answered race-post 502']);
  t.equal(racePost.connections(), 1, 'no second connection: the POST was not retried');
});

t.test('WebSocket upgrades pass through; with no task the client gets a 503 status line', async (t) => {
  const upgrades: http.IncomingHttpHeaders[] = [];
  const task = await httpTask(t, '127.229.0.27', (_q, response) => answer(response, 426, 'upgrade required'));
  task.server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    upgrades.push(request.headers);
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    if (head.length) socket.write(head);
    socket.on('data', (bytes) => socket.write(bytes)); // echo
  });
  const front = await startFront(t, [up('ws', '127.229.0.27', task.port)]);

  const client = rawClient(t, front.port);
  client.socket.write(WS_REQUEST(`${FRONT}:${front.port}`));
  const head = await client.head();
  t.equal(head.split('\r\n')[0], 'HTTP/1.1 101 Switching Protocols');
  const afterHead = head.length;
  client.socket.write('frames, both ways');
  const echoed = await client.until('the echo', (text) => text.length >= afterHead + 'frames, both ways'.length);
  t.equal(echoed.slice(afterHead), 'frames, both ways', 'bytes go through the upgraded connection and back');
  t.equal(upgrades.length, 1);
  t.equal(upgrades[0]!.upgrade, 'websocket', 'the task was asked to upgrade');
  t.match(upgrades[0]!.connection ?? '', /upgrade/i);
  t.equal(upgrades[0]!['x-forwarded-proto'], 'ws');
  t.same(front.log, ['answered ws 101'], 'the task\'s 101 counted, and nothing went wrong');

  const empty = await startFront(t, []);
  const refused = rawClient(t, empty.port);
  refused.socket.write(WS_REQUEST(`${FRONT}:${empty.port}`));
  const text = await refused.closed();
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 503 Service Unavailable');
  t.match(text, /\bweb\b/);
  t.same(empty.log, ['failed no_backend']);
});

t.test('an upgraded connection outlives the response and connect timeouts: a quiet WebSocket stays open', async (t) => {
  const task = await httpTask(t, '127.229.0.30', (_q, response) => answer(response, 426, 'upgrade required'));
  task.server.on('upgrade', (_request: http.IncomingMessage, socket: net.Socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (bytes) => socket.write(bytes));
  });
  const front = await startFront(t, [up('quiet', '127.229.0.30', task.port)], { connectTimeoutMs: 100, responseTimeoutMs: 100 });
  const client = rawClient(t, front.port);
  client.socket.write(WS_REQUEST(`${FRONT}:${front.port}`));
  const afterHead = (await client.head()).length;
  // Silence for three times both limits: they are about reaching a task and its answer, not a conversation.
  await new Promise((resolve) => setTimeout(resolve, 300));
  client.socket.write('still here');
  const echoed = await client.until('the echo', (text) => text.length >= afterHead + 'still here'.length);
  t.equal(echoed.slice(afterHead), 'still here');
  t.same(front.log, ['answered quiet 101'], 'the task\'s 101 counted, and nothing went wrong');
});

t.test('a WebSocket task that takes the connection and then fails is reported as a 502 answer, not a connect error', async (t) => {
  // The connect succeeded: what failed is the task, as for a plain request (answered 502 there too).
  const dead = await rawTask(t, '127.229.0.28', (_n, socket) => socket.destroy());
  const front = await startFront(t, [up('ws-dead', '127.229.0.28', dead.port)]);
  const client = rawClient(t, front.port);
  client.socket.write(WS_REQUEST(`${FRONT}:${front.port}`));
  const text = await client.closed();
  t.equal(dead.connections(), 1, 'the connect to the task succeeded');
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 502 Bad Gateway');
  t.same(front.log, ['answered ws-dead 502']);
});

t.test('an h2c upgrade is answered as the plain HTTP/1.1 request it also is', async (t) => {
  const task = await httpTask(t, '127.229.0.29', echoHeaders);
  let upgradeAsked = false;
  task.server.on('upgrade', (_request, socket: net.Socket) => { upgradeAsked = true; socket.destroy(); });
  const front = await startFront(t, [up('h2c', '127.229.0.29', task.port)]);
  const client = rawClient(t, front.port);
  client.socket.write([
    'GET /h2c HTTP/1.1', 'Host: h2c.example', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA', '', '',
  ].join('\r\n'));
  // The mesh closes the connection after this answer.
  const text = await client.closed();
  const [head = '', body = ''] = text.split('\r\n\r\n');
  t.equal(head.split('\r\n')[0], 'HTTP/1.1 200 OK');
  t.match(head, /^connection: close$/im);
  const seen = JSON.parse(body) as Seen;
  t.equal(seen.url, '/h2c');
  t.equal(seen.headers.upgrade, undefined, 'the task saw no upgrade asked');
  t.equal(seen.headers['http2-settings'], undefined, 'nor the headers its Connection named');
  t.equal(seen.headers.connection, 'keep-alive');
  t.equal(upgradeAsked, false);
  t.same(front.log, ['answered h2c 200']);
});

t.test('a task\'s 5xx is passed on unchanged, and reported', async (t) => {
  const task = await httpTask(t, '127.229.0.30', (_q, response) => answer(response, 500, 'boom: the task broke\n', { 'x-task': 'broken' }));
  const front = await startFront(t, [up('broken', '127.229.0.30', task.port)]);
  const reply = await send(front.port);
  t.equal(reply.status, 500);
  t.equal(reply.body, 'boom: the task broke\n');
  t.equal(reply.headers['x-task'], 'broken');
  t.same(front.log, ['answered broken 500']);
});

// ---------------------------------------------------------------------------------------------------
// Framing, slow clients, clients that leave, ignored upgrades
// ---------------------------------------------------------------------------------------------------

interface RawReply { status: number; head: string; body: string }

/** The complete responses in `text`, in order, each framed by its Content-Length (none: no body). */
function rawReplies(text: string): RawReply[] {
  const replies: RawReply[] = [];
  let rest = text;
  for (let end = rest.indexOf('\r\n\r\n'); end !== -1; end = rest.indexOf('\r\n\r\n')) {
    const head = rest.slice(0, end);
    const length = Number(/^content-length:\s*(\d+)\s*$/im.exec(head)?.[1] ?? '0');
    if (rest.length < end + 4 + length) break;
    replies.push({ status: Number(head.split(' ')[1]), head, body: rest.slice(end + 4, end + 4 + length) });
    rest = rest.slice(end + 4 + length);
  }
  return replies;
}

interface SeenBody { method: string; url: string; body: string; headers: http.IncomingHttpHeaders }

/** A task that reads the whole body, then answers with what it got: method, url, body and headers. */
function echoBody(request: http.IncomingMessage, response: http.ServerResponse): void {
  let body = '';
  request.setEncoding('latin1');
  request.on('data', (chunk: string) => { body += chunk; });
  request.on('end', () => answer(response, 200, JSON.stringify({
    method: request.method, url: request.url, body, headers: request.headers,
  }), { 'content-type': 'application/json' }));
}

/** A request's text, as a client trying to smuggle it would put it in a body. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

t.test('a body that is itself a request stays a body: nothing is smuggled to the task', async (t) => {
  const task = await httpTask(t, '127.229.0.31', echoBody);
  const front = await startFront(t, [up('framed', '127.229.0.31', task.port)]);
  const arrived = (): string[] => task.requests.map((request) => `${request.method} ${request.url}`);
  // A second request on the same client connection, answered: whatever the first put on the task's
  // (kept-alive) connection has reached the task by then.
  const after = 'GET /after HTTP/1.1\r\nHost: x\r\n\r\n';

  // A chunked DELETE: http-proxy would give it Content-Length 0 and drop its Transfer-Encoding, yet send its body.
  const chunked = rawClient(t, front.port);
  chunked.socket.write([
    'DELETE /del HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', '',
    `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
  ].join('\r\n'));
  await chunked.until('the DELETE\'s reply', (text) => rawReplies(text).length >= 1);
  chunked.socket.write(after);
  const deleted = rawReplies(await chunked.until('the second reply', (text) => rawReplies(text).length >= 2));
  t.same(deleted.map((reply) => reply.status), [200, 200]);
  const seenDelete = JSON.parse(deleted[0]!.body) as SeenBody;
  t.same([seenDelete.method, seenDelete.url, seenDelete.body], ['DELETE', '/del', SMUGGLED], 'the task read the request text as the DELETE\'s body');
  t.equal((JSON.parse(deleted[1]!.body) as SeenBody).url, '/after', 'the next request got its own answer');
  t.same(arrived(), ['DELETE /del', 'GET /after'], 'the task never saw GET /smuggled');

  // A Connection header naming Content-Length: the length must reach the task all the same.
  const named = rawClient(t, front.port);
  named.socket.write([
    'GET /g HTTP/1.1', 'Host: x', 'Connection: content-length', `Content-Length: ${SMUGGLED.length}`, '', SMUGGLED,
  ].join('\r\n'));
  await named.until('the GET\'s reply', (text) => rawReplies(text).length >= 1);
  named.socket.write(after);
  const got = rawReplies(await named.until('the second reply', (text) => rawReplies(text).length >= 2));
  t.same(got.map((reply) => reply.status), [200, 200]);
  const seenGet = JSON.parse(got[0]!.body) as SeenBody;
  t.same([seenGet.method, seenGet.url, seenGet.body], ['GET', '/g', SMUGGLED], 'the task read the request text as the GET\'s body');
  t.equal(seenGet.headers['content-length'], String(SMUGGLED.length), 'its Content-Length reached the task');
  t.same(arrived(), ['DELETE /del', 'GET /after', 'GET /g', 'GET /after'], 'the task never saw GET /smuggled');
  t.same(front.log, Array(4).fill('answered framed 200'));
});

/** The requests HAProxy refuses, and how: its status (its 2.6 answers each so), and what our answer says. */
const REFUSED: { name: string; request: string; status: number; says: RegExp }[] = [
  { name: 'two Host headers', request: 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', status: 400, says: /one Host header/ },
  // RFC 9112 §3.2 refuses any second Host line (HAProxy merges two that agree).
  { name: 'two Host headers that agree', request: 'GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n', status: 400, says: /one Host header/ },
  { name: 'an absolute-form target naming another host than Host', request: 'GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n', status: 400, says: /names host a and the Host header b/ },
  { name: 'Transfer-Encoding: identity, chunked', request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', status: 422, says: /only chunked bodies/ },
  { name: 'Transfer-Encoding: gzip, chunked', request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', status: 422, says: /only chunked bodies/ },
  { name: 'Transfer-Encoding: identity alone', request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n', status: 400, says: /does not end with chunked/ },
  // A client of HTTP/0.9 sends this line and waits: no header block will follow.
  { name: 'an HTTP/0.9 request line', request: 'GET /\r\n', status: 400, says: /HTTP\/0\.9 is not served/ },
];

for (const { name, request, status, says } of REFUSED) {
  t.test(`refused at the node as HAProxy refuses it: ${name} (${status})`, async (t) => {
    const task = await httpTask(t, '127.15.0.10', echoBody);
    const front = await startFront(t, [up('strict', '127.15.0.10', task.port)], {}, {}, '127.15.0.1');
    const client = rawClient(t, front.port, { host: front.host });
    client.socket.write(request);
    // Well within the 10 s header timeout: the answer comes at once, and the connection closes after it.
    const text = await deadline('the refusal and the close', client.closed(), 2000);
    const [reply] = rawReplies(text);
    t.equal(reply?.head.split('\r\n')[0], `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`);
    t.match(reply?.head, /^connection: close$/im, 'Connection: close');
    t.match(reply?.head, /^content-type: text\/plain/im, 'a text/plain body');
    t.match(reply?.body, says, 'saying why');
    t.equal(task.requests.length, 0, 'the task never saw it');
    t.match(front.log, [/^failed refused$/]);
  });
}

/**
 * What Node's parser cannot read (its 'clientError', which Node answers with a bare 400), and CONNECT (which
 * Node leaves unanswered): each gets its status and a short text/plain reason, and Connection: close.
 * These use 127.14.0.0/16 (front 127.14.0.1).
 */
const UNREADABLE: { name: string; request: string; status: number; says: RegExp }[] = [
  { name: 'CONNECT', request: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', status: 405, says: /CONNECT is not served: .*routemesh\.lb\.mode=tcp/ },
  { name: 'Content-Length and Transfer-Encoding together', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400, says: /Content-Length and Transfer-Encoding together/ },
  { name: 'two Content-Length headers', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', status: 400, says: /at most one Content-Length/ },
  { name: 'HTTP/9.9', request: 'GET / HTTP/9.9\r\nHost: a\r\n\r\n', status: 400, says: /must end with HTTP\/1\.0 or HTTP\/1\.1/ },
  { name: 'a space before a header\'s colon', request: 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', status: 400, says: /a colon right after it/ },
  { name: 'an obs-fold header line', request: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n', status: 400, says: /no obs-fold/ },
  { name: 'a NUL in a header value', request: 'GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n', status: 400, says: /without control characters/ },
  { name: 'bare LF line ends', request: 'GET / HTTP/1.1\nHost: a\n\n', status: 400, says: /CRLF/ },
  { name: 'a negative Content-Length', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', status: 400, says: /one whole number of bytes/ },
  { name: 'a Content-Length past 2^64', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n', status: 400, says: /Content-Length overflow: .*below 2\^64/ },
];

for (const { name, request, status, says } of UNREADABLE) {
  t.test(`answered with a reason, not a bare status: ${name} (${status})`, async (t) => {
    const task = await httpTask(t, '127.14.0.10', echoBody);
    const front = await startFront(t, [up('strict', '127.14.0.10', task.port)], {}, {}, '127.14.0.1');
    const client = rawClient(t, front.port, { host: front.host });
    client.socket.write(request);
    const text = await deadline('the answer and the close', client.closed(), 2000);
    const replies = rawReplies(text);
    t.equal(replies.length, 1, 'one answer');
    t.equal(replies[0]?.head.split('\r\n')[0], `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}`);
    t.match(replies[0]?.head, /^connection: close$/im, 'Connection: close');
    t.match(replies[0]?.head, /^content-type: text\/plain/im, 'a text/plain body');
    t.match(replies[0]?.body, says, 'saying why');
    if (status === 405) t.match(replies[0]?.head, /^allow: GET, HEAD, POST/im, 'a 405 says which methods are allowed');
    t.equal(task.requests.length, 0, 'the task never saw it');
    t.same(front.log, ['failed refused'], 'counted as a refusal, as the others are');
  });
}

t.test('an unreadable request after a kept-alive answer is answered too; one sent in pieces, once', async (t) => {
  const task = await httpTask(t, '127.14.0.11', echoBody);
  const front = await startFront(t, [up('kept', '127.14.0.11', task.port)], {}, {}, '127.14.0.1');
  const client = rawClient(t, front.port, { host: front.host });
  client.socket.write('GET /first HTTP/1.1\r\nHost: a\r\n\r\n');
  await client.until('the first answer', (text) => rawReplies(text).length >= 1);
  // The parser stays failed after the first bad byte: what follows must not draw a second answer.
  client.socket.write('GET / HTTP/1.1\r\nHost : a\r\n');
  client.socket.write('X: more\r\n\r\n');
  const replies = rawReplies(await deadline('the refusal and the close', client.closed(), 2000));
  t.same(replies.map((reply) => reply.status), [200, 400]);
  t.match(replies[1]?.body, /a colon right after it/);
  t.same(task.requests.map((request) => request.url), ['/first']);
});

t.test('what HAProxy passes passes: an absolute-form target naming Host\'s host, and HTTP/0.9 only as a whole connection is refused', async (t) => {
  const task = await httpTask(t, '127.15.0.11', echoBody);
  const front = await startFront(t, [up('lenient', '127.15.0.11', task.port)], {}, {}, '127.15.0.1');
  const client = rawClient(t, front.port, { host: front.host });
  // Case and the scheme's default port do not make two hosts differ.
  client.socket.write('GET http://A:80/x HTTP/1.1\r\nHost: a\r\n\r\n');
  const [first] = rawReplies(await client.until('the first reply', (text) => rawReplies(text).length >= 1));
  t.equal(first?.status, 200);
  t.equal((JSON.parse(first!.body) as SeenBody).url, '/x');
  // A version-less line later on a kept-alive connection: refused once its (empty) header block ends.
  client.socket.write('GET /\r\n\r\n');
  const text = await client.closed();
  t.same(rawReplies(text).map((reply) => reply.status), [200, 400]);
  t.equal(task.requests.length, 1);
});

t.test('a slow head is cut with 408 after the header timeout: the first on a connection, and one after a kept-alive answer', async (t) => {
  const task = await httpTask(t, '127.15.0.12', echoBody);
  // Node's own request timeout (300 s) is left as it is: only the header timeout can cut these.
  const front = await startFront(t, [up('slowloris', '127.15.0.12', task.port)], { headerTimeoutMs: 300 }, {}, '127.15.0.1');

  const first = rawClient(t, front.port, { host: front.host });
  let started = Date.now();
  first.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  let text = await deadline('the slow first head to be cut', first.closed(), 3000);
  let elapsed = Date.now() - started;
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 408 Request Timeout');
  t.ok(elapsed >= 250 && elapsed < 1000, `after the 300ms header timeout (${elapsed}ms)`);

  const second = rawClient(t, front.port, { host: front.host });
  second.socket.write('GET /one HTTP/1.1\r\nHost: x\r\n\r\n');
  await second.until('the first answer', (received) => rawReplies(received).length >= 1);
  started = Date.now();
  second.socket.write('GET /two HTTP/1.1\r\nHost: x\r\n');
  text = await deadline('the slow second head to be cut', second.closed(), 3000);
  elapsed = Date.now() - started;
  t.match(text, /HTTP\/1\.1 408 Request Timeout/);
  // Node looks for heads past their time once a second.
  t.ok(elapsed >= 250 && elapsed < 2000, `after the header timeout, give or take Node's 1 s look (${elapsed}ms)`);
  t.same(task.requests.map((request) => request.url), ['/one'], 'neither slow head reached the task');
});

// The default (10 s, HAProxy's usual) is the service's, in lbSettings alone: the forwarder keeps none of its own.
t.test('a target that names no header timeout gets Node\'s own (60 s), not a default of the forwarder\'s', async (t) => {
  const task = await httpTask(t, '127.76.0.2', echoBody);
  const front = await startFront(t, [up('plain', '127.76.0.2', task.port)], {}, {}, '127.76.0.1');
  const client = rawClient(t, front.port, { host: front.host });
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  await waitFor('the connection to reach the forwarder', () => front.accepted() === 1, 2000);
  t.equal(front.server.headerTimeoutMs, 60_000);
});

t.test('slow clients are timed: a head or a body that stops coming gets a 408', async (t) => {
  const task = await httpTask(t, '127.229.0.32', echoBody);
  const front = await startFront(t, [up('timed', '127.229.0.32', task.port)], { headerTimeoutMs: 200 },
    { requestTimeout: 400, connectionsCheckingInterval: 50 });

  const slowHead = rawClient(t, front.port);
  const started = Date.now();
  slowHead.socket.write('GET / HTTP/1.1\r\nHost: x\r\n');
  const text = await deadline('the slow head to be timed out', slowHead.closed(), 1500);
  const elapsed = Date.now() - started;
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 408 Request Timeout');
  t.ok(elapsed >= 100 && elapsed < 1000, `after the 200ms headersTimeout, not long after (${elapsed}ms)`);
  t.equal(task.requests.length, 0, 'nothing reached the task');

  // The head came whole, but the body stops: requestTimeout.
  const slowBody = rawClient(t, front.port);
  slowBody.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
  const bodyText = await deadline('the slow body to be timed out', slowBody.closed(), 1500);
  t.equal(bodyText.split('\r\n')[0], 'HTTP/1.1 408 Request Timeout');
  // The task's connection goes with it: wait for its count of requests in flight to drop.
  await waitFor('the request to be let go', () => front.target.pool.backends.every((b) => b.active === 0), 2000);
  t.same(front.target.pool.backends.map((b) => b.active), [0], 'nothing left in flight');
});

t.test('the response timeout starts with the request\'s last byte: a slow body is not the task\'s fault', async (t) => {
  const task = await httpTask(t, '127.229.0.33', (request, response) => {
    let length = 0;
    request.on('data', (chunk: Buffer) => { length += chunk.length; });
    request.on('end', () => answer(response, 200, String(length)));
  });
  const front = await startFront(t, [up('patient', '127.229.0.33', task.port)], { responseTimeoutMs: 150 });
  const client = rawClient(t, front.port);
  client.socket.write('POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
  await waitFor('the task to get the request', () => task.requests.length === 1, 2000);
  // Waiting for something NOT to happen: more than twice the response timeout with the body unfinished.
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.same(front.log, [], 'no 504 (nor anything else) while the client still sends');
  t.equal(rawReplies(await client.until('nothing yet', () => true)).length, 0, 'the client was not answered');
  client.socket.write('cdefghij');
  const [reply] = rawReplies(await client.until('the reply', (text) => rawReplies(text).length >= 1));
  t.equal(reply?.status, 200);
  t.equal(reply?.body, '10', 'the task got the whole body');
  t.same(front.log, ['answered patient 200']);
});

t.test('a client that leaves mid-answer: the task\'s connection is closed, not left paused', async (t) => {
  let taskClosed!: () => void;
  const closed = new Promise<void>((resolve) => { taskClosed = resolve; });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const streaming = await rawTask(t, '127.229.0.34', (_n, socket) => {
    socket.once('close', () => taskClosed());
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nConnection: keep-alive\r\n\r\n');
    // As much as the connection takes, for as long as it is open.
    const pump = (): void => {
      while (!socket.destroyed && socket.write(chunk)) { /* until the buffer is full */ }
      if (!socket.destroyed) socket.once('drain', pump);
    };
    pump();
  });
  const front = await startFront(t, [up('stream', '127.229.0.34', streaming.port)]);
  const client = rawClient(t, front.port);
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  const head = await client.head();
  t.equal(head.split('\r\n')[0], 'HTTP/1.1 200 OK');
  client.socket.destroy();
  await deadline('the task\'s connection to close', closed, 1000);
  t.equal(streaming.connections(), 1);
  t.same(front.log, ['answered stream 200']);
  await waitFor('the request to be let go', () => front.target.pool.backends.every((b) => b.active === 0), 2000);
  t.same(front.target.pool.backends.map((b) => b.active), [0], 'nothing left in flight');
});

t.test('an ignored upgrade keeps its body, and lets go of its task once answered', async (t) => {
  const task = await httpTask(t, '127.229.0.35', echoBody);
  let upgradeAsked = false;
  task.server.on('upgrade', (_request, socket: net.Socket) => { upgradeAsked = true; socket.destroy(); });
  const front = await startFront(t, [up('h2c-body', '127.229.0.35', task.port)]);
  const active = (): number[] => front.target.pool.backends.map((b) => b.active);
  const head = (framing: string): string => [
    'POST /up HTTP/1.1', 'Host: x', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA', framing, '', '',
  ].join('\r\n');

  const check = async (what: string, client: ReturnType<typeof rawClient>): Promise<void> => {
    const [reply] = rawReplies(await client.until(`the reply (${what})`, (text) => rawReplies(text).length >= 1));
    t.equal(reply?.status, 200, `${what}: answered 200`);
    const seen = JSON.parse(reply?.body ?? '{}') as SeenBody;
    t.same([seen.method, seen.url, seen.body], ['POST', '/up', 'abc'], `${what}: the task got the POST with its body`);
    t.equal(seen.headers.upgrade, undefined, `${what}: and no upgrade asked`);
    // The client keeps its side open: the answer's end alone must end the request's hold on its task.
    await waitFor('the task to be idle', () => active().every((n) => n === 0), 1000);
    t.same(active(), [0], `${what}: nothing in flight once answered`);
    t.equal(client.socket.destroyed, false, `${what}: though the client connection is still open`);
  };

  // The body in the same packet as the head.
  const together = rawClient(t, front.port, { allowHalfOpen: true });
  together.socket.write(`${head('Content-Length: 3')}abc`);
  await check('body with the head', together);

  // The body after the head was taken (the forwarder holds the task for it): it comes from the socket.
  const apart = rawClient(t, front.port, { allowHalfOpen: true });
  apart.socket.write(head('Content-Length: 3'));
  await waitFor('the request to be under way', () => active().every((n) => n === 1), 2000);
  apart.socket.write('abc');
  await check('body after the head', apart);
  t.equal(upgradeAsked, false);
  t.same(front.log, ['answered h2c-body 200', 'answered h2c-body 200']);

  // A chunked body cannot be read past the parser: refused, not forwarded.
  const chunked = rawClient(t, front.port);
  chunked.socket.write(`${head('Transfer-Encoding: chunked')}3\r\nabc\r\n0\r\n\r\n`);
  const text = await chunked.closed();
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 400 Bad Request', 'a chunked body with Upgrade: 400');
  t.equal(task.requests.length, 2, 'the task never got it');
  t.same(active(), [0]);
});

t.test('an ignored upgrade whose client leaves halfway through its body: the task\'s request goes too, the process stays up', async (t) => {
  const task = await httpTask(t, '127.229.0.37', echoBody);
  const taskSockets = new Set<net.Socket>();
  task.server.on('connection', (socket: net.Socket) => { taskSockets.add(socket); socket.once('close', () => taskSockets.delete(socket)); });
  const front = await startFront(t, [up('h2c-cut', '127.229.0.37', task.port)]);
  const client = rawClient(t, front.port);
  client.socket.write(['POST /up HTTP/1.1', 'Host: x', 'Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c',
    'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA', 'Content-Length: 10', '', 'ab'].join('\r\n'));
  await waitFor('the task to be reached', () => taskSockets.size === 1, 2000);
  client.socket.destroy();
  await waitFor('the task\'s connection to close', () => taskSockets.size === 0, 2000);
  t.equal(task.requests.length, 1);
  t.equal(task.requests[0]!.complete, false, 'the task never got the whole body');
  await waitFor('nothing in flight', () => front.target.pool.backends.every((b) => b.active === 0), 2000);
});

t.test('a WebSocket upgrade that is not a GET gets a 400, not a silent close', async (t) => {
  const upgrades: string[] = [];
  const task = await httpTask(t, '127.229.0.36', echoHeaders);
  task.server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket) => { upgrades.push(request.method ?? ''); socket.destroy(); });
  const front = await startFront(t, [up('ws-post', '127.229.0.36', task.port)]);
  const client = rawClient(t, front.port);
  client.socket.write(WS_REQUEST(`${FRONT}:${front.port}`).replace(/^GET /, 'POST '));
  const text = await client.closed();
  t.equal(text.split('\r\n')[0], 'HTTP/1.1 400 Bad Request', 'a status line, before the close');
  t.match(text, /must be a GET request/, 'saying why');
  t.same(upgrades, [], 'the task was never asked');
  t.equal(task.requests.length, 0);
  t.same(front.target.pool.backends.map((b) => b.active), [0]);
  t.same(front.log, []);
});
