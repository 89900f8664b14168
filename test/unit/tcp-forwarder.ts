// The TCP forwarder on real sockets: a refused backend is skipped for the next one, no backend closes
// the client at once, half-closes pass through, and backends see the forwarder's source address.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { LeastConnections, Pool, RoundRobin, SourceHash, TcpForwarder } from '../../src/lb/index.js';
import type { Backend } from '../../src/lb/index.js';
import { waitFor } from '../support/cluster.js';

const HOST = '127.210.0.1';

/** An echo server that records the remote address of each connection; closed at the end of the test. */
async function echoServer(t: Test, host: string): Promise<{ port: number; peers: string[] }> {
  const peers: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    peers.push(socket.remoteAddress!);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, peers };
}

/** A port nothing listens on: bound once, then closed. */
async function closedPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A front listener that hands every connection to the forwarder; resolves what each forward reported. */
async function front(t: Test, forwarder: TcpForwarder, pool: Pool) {
  const events: string[] = [];
  const balancer = new RoundRobin();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    forwarder.forward(socket, pool, balancer, {
      connected: (b: Backend, attempts: number) => events.push(`connected ${b.id} after ${attempts}`),
      connectError: (b: Backend) => events.push(`refused ${b.id}`),
      failed: (reason) => events.push(`failed ${reason}`),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, events };
}

/** Sends `text`, half-closes, and collects everything until the far side closes. */
function exchange(port: number, text: string): Promise<{ received: string; closedWith: 'end' | 'error' }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => { received += chunk; });
    socket.on('end', () => resolve({ received, closedWith: 'end' }));
    socket.on('error', () => resolve({ received, closedWith: 'error' }));
    socket.on('connect', () => socket.end(text));
  });
}

t.test('a refused backend is skipped for the next one; the client never notices', async (t) => {
  const good = await echoServer(t, '127.210.0.2');
  const pool = new Pool();
  pool.set([
    { id: 'dead', host: '127.210.0.3', port: await closedPort('127.210.0.3'), state: 'up' },
    { id: 'good', host: '127.210.0.2', port: good.port, state: 'up' },
  ]);
  const { port, events } = await front(t, new TcpForwarder(), pool);
  const result = await exchange(port, 'hello');
  t.same(result, { received: 'hello', closedWith: 'end' }, 'echoed in full, and the half-close passed through');
  t.same(events, ['refused dead', 'connected good after 2']);
  t.equal(pool.get('good')!.total, 1);
});

t.test('when every backend refuses, or there is none, the client is closed at once', async (t) => {
  const pool = new Pool();
  pool.set([
    { id: 'a', host: '127.210.0.3', port: await closedPort('127.210.0.3'), state: 'up' },
    { id: 'b', host: '127.210.0.4', port: await closedPort('127.210.0.4'), state: 'up' },
  ]);
  const { port, events } = await front(t, new TcpForwarder({ maxAttempts: 5 }), pool);
  const refused = await exchange(port, 'x');
  t.equal(refused.received, '');
  t.same(events, ['refused a', 'refused b', 'failed connect_failed'], 'each backend tried once, then given up');

  const empty = new Pool();
  const second = await front(t, new TcpForwarder(), empty);
  t.equal((await exchange(second.port, 'x')).received, '');
  t.same(second.events, ['failed no_backend']);
});

t.test('attempts are bounded by maxAttempts', async (t) => {
  const pool = new Pool();
  const ports = await Promise.all(['127.210.0.5', '127.210.0.6', '127.210.0.7'].map(closedPort));
  pool.set(ports.map((p, i) => ({ id: `b${i}`, host: `127.210.0.${5 + i}`, port: p, state: 'up' as const })));
  const { port, events } = await front(t, new TcpForwarder({ maxAttempts: 2 }), pool);
  await exchange(port, 'x');
  t.equal(events.filter((e) => e.startsWith('refused')).length, 2);
  t.equal(events.at(-1), 'failed connect_failed');
});

t.test('backends see connections come from the forwarder\'s local address', async (t) => {
  const backend = await echoServer(t, '127.210.0.2');
  const pool = new Pool();
  pool.set([{ id: 'b', host: '127.210.0.2', port: backend.port, state: 'up' }]);
  const { port } = await front(t, new TcpForwarder({ localAddress: '127.210.0.9' }), pool);
  t.equal((await exchange(port, 'hi')).received, 'hi');
  t.same(backend.peers, ['127.210.0.9']);
});

t.test('a client that leaves while the forwarder connects leaves no upstream connection behind', async (t) => {
  const backend = net.createServer((socket) => socket.resume());
  await new Promise<void>((resolve) => backend.listen(0, '127.210.0.2', resolve));
  t.teardown(() => new Promise<void>((resolve) => backend.close(() => resolve())));
  const pool = new Pool();
  pool.set([{ id: 'b', host: '127.210.0.2', port: (backend.address() as net.AddressInfo).port, state: 'up' }]);
  const forwarder = new TcpForwarder();
  const balancer = new RoundRobin();
  const front = net.createServer({ pauseOnConnect: true }, (socket) => {
    forwarder.forward(socket, pool, balancer);
    socket.destroy(); // gone before the upstream connect completes
  });
  await new Promise<void>((resolve) => front.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => front.close(() => resolve())));
  await Promise.all(Array.from({ length: 5 }, () => new Promise<void>((resolve) => {
    const socket = net.connect({ host: HOST, port: (front.address() as net.AddressInfo).port });
    socket.on('close', () => resolve());
    socket.on('error', () => {});
  })));
  // Each connection counts as active from its pick, so 0 means every half-made upstream has closed.
  await waitFor('the five upstreams to close', () => pool.get('b')!.active === 0);
  const open = (): Promise<number> => new Promise((resolve) => backend.getConnections((_e, n) => resolve(n)));
  await waitFor('the backend to see them closed', async () => (await open()) === 0);
  t.equal(await open(), 0, 'the backend holds no connection');
  t.equal(pool.get('b')!.active, 0, 'and the pool counts none as active');
});

t.test('a connection counts as active from its pick: a burst under least-conn spreads before any connect completes', async (t) => {
  const backends = await Promise.all(['127.210.0.20', '127.210.0.21', '127.210.0.22'].map((host) => echoServer(t, host)));
  const pool = new Pool();
  pool.set(backends.map((b, i) => ({ id: `b${i}`, host: `127.210.0.${20 + i}`, port: b.port, state: 'up' as const })));
  // A backend already busy, so that without counting from the pick every new connection would go to b1 or b2 alone.
  pool.get('b0')!.active = 1;
  const forwarder = new TcpForwarder();
  const balancer = new LeastConnections();
  const picked: string[] = [];
  const clients: net.Socket[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    clients.push(socket);
    forwarder.forward(socket, pool, balancer);
    // forward() picks synchronously: the counts tell where this connection went, before it is connected.
    picked.push(pool.backends.map((b) => `${b.id}=${b.active}`).join(' '));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => { for (const c of clients) c.destroy(); server.close(() => resolve()); }));
  const { port } = server.address() as net.AddressInfo;
  const sockets = [0, 1, 2].map(() => net.connect({ host: HOST, port }));
  t.teardown(() => { for (const s of sockets) s.destroy(); });
  await waitFor('the three connections to be picked', () => picked.length === 3);
  t.same(picked.at(-1), 'b0=2 b1=1 b2=1', 'the three new connections went one to each idle backend, then to b0');
});


t.test('a retry is counted when another backend is really tried, not when none is left', async (t) => {
  const echo = await echoServer(t, HOST);
  const refusing = await closedPort(HOST);
  for (const [name, desired, retries, outcome] of [
    ['refusing then good', [{ id: 'r', host: HOST, port: refusing, state: 'up' as const }, { id: 'g', host: HOST, port: echo.port, state: 'up' as const }], 1, 'connected g'],
    ['only refusing', [{ id: 'r', host: HOST, port: refusing, state: 'up' as const }], 0, 'failed connect_failed'],
  ] as const) {
    const pool = new Pool();
    pool.set(desired);
    const seen: string[] = [];
    const forwarder = new TcpForwarder({ maxAttempts: 3 });
    const server = net.createServer({ pauseOnConnect: true }, (socket) => forwarder.forward(socket, pool, new RoundRobin(), {
      retried: () => seen.push('retried'),
      connected: (b) => seen.push(`connected ${b.id}`),
      failed: (reason) => seen.push(`failed ${reason}`),
    }));
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const client = net.connect((server.address() as net.AddressInfo).port, HOST);
    client.on('error', () => {});
    t.teardown(() => { client.destroy(); });
    await waitFor(`${name}: an outcome`, () => seen.some((e) => e.startsWith('connected') || e.startsWith('failed')));
    t.equal(seen.filter((e) => e === 'retried').length, retries, `${name}: ${retries} retries`);
    t.ok(seen.includes(outcome), `${name}: ${outcome}`);
  }
});

t.test('a side whose peer has closed is closed only after the other side\'s bytes have all gone out', async (t) => {
  // The task answers a half-closed request and closes; the client reads nothing until the task is done,
  // so the forwarder closes its client socket (whose peer has ended) while the answer still waits in it.
  // Small enough to fit the sockets' buffers on the way, or the task could not finish first.
  const size = 128 << 10;
  let taskDone: () => void = () => {};
  const done = new Promise<void>((resolve) => { taskDone = resolve; });
  const task = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.resume();
    socket.once('end', () => socket.end(Buffer.alloc(size, 0x61), taskDone));
  });
  await new Promise<void>((resolve) => task.listen(0, '127.210.0.2', resolve));
  t.teardown(() => new Promise<void>((resolve) => task.close(() => resolve())));
  const pool = new Pool();
  pool.set([{ id: 'task', host: '127.210.0.2', port: (task.address() as net.AddressInfo).port, state: 'up' }]);
  const { port } = await front(t, new TcpForwarder(), pool);
  const client = net.connect({ host: HOST, port, allowHalfOpen: true });
  t.teardown(() => client.destroy());
  client.pause();
  client.end('send it all');
  await done;
  let received = 0;
  const ended = await new Promise<string>((resolve) => {
    client.on('data', (chunk: Buffer) => { received += chunk.length; });
    client.once('end', () => resolve('end'));
    client.once('error', (error) => resolve(`error ${error.message}`));
    client.resume();
  });
  t.equal(ended, 'end', 'a clean end');
  t.equal(received, size, 'after every byte');
});

t.test('source-hash picks by the client\'s address: each client goes where the hash of its own address says', async (t) => {
  const hosts = ['127.210.0.40', '127.210.0.41', '127.210.0.42'];
  const backends = await Promise.all(hosts.map((host) => echoServer(t, host)));
  const pool = new Pool();
  pool.set(backends.map((b, i) => ({ id: `b${i}`, host: hosts[i]!, port: b.port, state: 'up' as const })));
  const balancer = new SourceHash();
  const forwarder = new TcpForwarder();
  const reached: string[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    forwarder.forward(socket, pool, balancer, { connected: (backend) => reached.push(backend.id) });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as net.AddressInfo;
  const clients = ['127.210.0.50', '127.210.0.51', '127.210.0.52', '127.210.0.53', '127.210.0.54', '127.210.0.55'];
  const expected = clients.map((client) => balancer.pick(pool, undefined, client)!.id);
  t.ok(new Set(expected).size > 1, `the clients hash to more than one backend (${expected.join(' ')})`);
  for (const client of clients) {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: HOST, port, localAddress: client });
      socket.on('error', reject);
      socket.on('close', () => resolve());
      socket.on('connect', () => socket.end('x'));
      socket.resume();
    });
  }
  t.same(reached, expected, 'each connection reached its client\'s backend');
});
