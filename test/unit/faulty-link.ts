// Faults on the way to a backend, on real sockets through the real forwarders: each kind measured by the
// client it hurts (a latency in the round trip, a cap in the transfer time, a reset after so many bytes, a
// blackhole's silence, the kernel's refusal, a connect held back or never made, datagrams lost or sent
// twice), and a lifted fault letting open connections pass straight.
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { Backend, FaultProxy, FaultyLink, Pool, RoundRobin, TcpForwarder, UdpRelay } from '../../src/lb/index.js';
import type { LinkFault } from '../../src/lb/index.js';
import { waitFor } from '../support/cluster.js';

const NODE = '127.153.0.1';
const TASK = '127.153.0.2';

/** An echo task; `accepted` counts the connections that reached it. */
async function echoTask(t: Test): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, TASK, resolve));
  const close = (): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  t.teardown(() => { if (server.listening) return close(); });
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted, close };
}

async function proxyFor(t: Test): Promise<FaultProxy> {
  const proxy = new FaultProxy(NODE);
  await proxy.listen();
  t.teardown(() => proxy.close());
  return proxy;
}

/** A front port balancing over one backend whose link carries `fault`: what a mesh listener is. */
async function front(t: Test, fault: LinkFault, events: { connectErrors?: string[] } = {}) {
  const task = await echoTask(t);
  const proxy = await proxyFor(t);
  const pool = new Pool();
  pool.set([{ id: 'task', host: TASK, port: task.port, state: 'up', label: 'task' }]);
  const backend = pool.get('task') as Backend;
  const link = new FaultyLink(fault, { proxy });
  backend.link = link;
  const forwarder = new TcpForwarder({ localAddress: NODE });
  const clients = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    clients.add(client);
    client.once('close', () => clients.delete(client));
    forwarder.forward(client, pool, new RoundRobin(), { connectError: (_b, error) => events.connectErrors?.push((error as NodeJS.ErrnoException).code ?? error.message) }, { connectTimeoutMs: 300, maxAttempts: 1 });
  });
  await new Promise<void>((resolve) => server.listen(0, NODE, resolve));
  t.teardown(() => {
    for (const client of clients) client.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as net.AddressInfo).port, task, link, backend };
}

/** Sends `text`, reads until `bytes` came back or the socket ended; how long it took, and how it ended. */
function exchange(port: number, text: string, bytes = text.length): Promise<{ ms: number; got: string; ended: 'data' | 'reset' | 'closed' }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = net.connect({ host: NODE, port });
    let got = '';
    const done = (ended: 'data' | 'reset' | 'closed'): void => {
      socket.destroy();
      resolve({ ms: performance.now() - started, got, ended });
    };
    socket.on('data', (chunk) => {
      got += chunk;
      if (got.length >= bytes) done('data');
    });
    socket.on('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNRESET' ? 'reset' : 'closed'));
    socket.on('close', () => done('closed'));
    socket.write(text);
  });
}

t.test('latency with jitter delays what the task sends: the round trip grows by it, never less', async (t) => {
  const { port, link } = await front(t, { latencyMs: 120, jitterMs: 20 });
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push((await exchange(port, 'ping')).ms);
  t.ok(times.every((ms) => ms >= 100 && ms < 400), `each round trip took 100-140 ms more than none (${times.map(Math.round).join(', ')} ms)`);
  link.lift();
  const after = await exchange(port, 'ping');
  t.ok(after.ms < 60, `lifted: ${Math.round(after.ms)} ms`);
});

t.test('a bandwidth cap holds a transfer to its rate, each way', async (t) => {
  const { port } = await front(t, { bytesPerSecond: 100_000 });
  const { ms, got } = await exchange(port, 'x'.repeat(30_000));
  t.equal(got.length, 30_000, 'every byte came back');
  // 30 kB up then back at 100 kB/s each way, pipelined: at least 0.3 s.
  t.ok(ms >= 290 && ms < 2000, `30 kB echoed through a 100 kB/s link in ${Math.round(ms)} ms`);
});

t.test('reset after N bytes: the client gets exactly what fits in the budget, then the connection breaks', async (t) => {
  const { port } = await front(t, { resetAfterBytes: 1000 });
  // 600 bytes cross toward the task, so 400 of the echo come back before the reset.
  const result = await exchange(port, 'y'.repeat(600), 601);
  t.not(result.ended, 'data', `it ended (${result.ended}) before the whole echo`);
  t.equal(result.got.length, 400);
});

t.test('blackhole: the connect succeeds, nothing reaches the task, nothing comes back; lifting it closes those connections', async (t) => {
  const { port, task, link } = await front(t, { blackhole: true });
  const socket = net.connect({ host: NODE, port });
  t.teardown(() => socket.destroy());
  socket.write('hello?');
  let answered = false;
  socket.on('data', () => { answered = true; });
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  // Give the bytes their chance to be answered: a second connection's full round trip through the mesh.
  const probe = net.connect({ host: NODE, port });
  await new Promise((resolve) => probe.once('connect', resolve));
  probe.destroy();
  t.equal(task.accepted(), 0, 'the task never saw a connection');
  link.lift();
  await closed;
  t.notOk(answered, 'no byte came back');
});

t.test('refused: the kernel refuses, and the forwarder counts a failed connect', async (t) => {
  const connectErrors: string[] = [];
  const { port, task } = await front(t, { refused: true }, { connectErrors });
  const result = await exchange(port, 'hi');
  t.equal(result.got, '');
  t.same(connectErrors, ['ECONNREFUSED']);
  t.equal(task.accepted(), 0);
});

t.test('slow connect holds the connect itself back; unreachable never connects, so the connect timeout fires', async (t) => {
  const slow = await front(t, { connectDelayMs: 150 });
  const { ms, got } = await exchange(slow.port, 'late');
  t.equal(got, 'late');
  t.ok(ms >= 140, `answered after ${Math.round(ms)} ms`);
  const connectErrors: string[] = [];
  const unreachable = await front(t, { unreachable: true }, { connectErrors });
  const result = await exchange(unreachable.port, 'lost');
  t.equal(result.got, '');
  t.match(connectErrors, [/timed out/], 'the forwarder gave up at its connect timeout');
  t.equal(unreachable.task.accepted(), 0);
});

t.test('a connect given up on at its timeout is retried on the next task, which answers the client', async (t) => {
  const task = await echoTask(t);
  const pool = new Pool();
  pool.set(['cut', 'fine'].map((id) => ({ id, host: TASK, port: task.port, state: 'up' as const, label: id })));
  pool.get('cut')!.link = new FaultyLink({ unreachable: true });
  const forwarder = new TcpForwarder({ localAddress: NODE });
  const connected: string[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    forwarder.forward(client, pool, new RoundRobin(), { connected: (b) => connected.push(b.id) }, { connectTimeoutMs: 100, maxAttempts: 2 });
  });
  await new Promise<void>((resolve) => server.listen(0, NODE, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  // The try given up on closes after the retry connected: it must not end the client's connection.
  const result = await exchange((server.address() as net.AddressInfo).port, 'still here');
  t.match(result, { got: 'still here', ended: 'data' });
  t.same(connected, ['fine']);
});

t.test('a task that refuses behind a shaped link is a failed connect, as it would be without one', async (t) => {
  const connectErrors: string[] = [];
  const { port, task } = await front(t, { latencyMs: 50 }, { connectErrors });
  await task.close();
  const result = await exchange(port, 'hi');
  t.equal(result.got, '');
  t.same(connectErrors, ['ECONNREFUSED'], "the task's own refusal, as the forwarder's connect error");
});

t.test('UDP: loss and duplication act on the datagrams toward the task, latency on its answers', async (t) => {
  const task = dgram.createSocket('udp4');
  const received: string[] = [];
  task.on('message', (message, from) => {
    received.push(String(message));
    task.send(message, from.port, from.address);
  });
  await new Promise<void>((resolve) => task.bind({ address: TASK, port: 0 }, resolve));
  const relaySocket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => relaySocket.bind({ address: NODE, port: 0 }, resolve));
  const client = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => client.bind({ address: '127.153.0.3', port: 0 }, resolve));
  const pool = new Pool();
  pool.set([{ id: 'task', host: TASK, port: task.address().port, state: 'up', label: 'task' }]);
  // The draws, in order: a lost (0.1); b kept (0.9) and sent twice (0.1); c kept (0.9), once (0.9); d lost (0.1).
  let draw = 0;
  const sequence = [0.1, 0.9, 0.1, 0.9, 0.9, 0.1];
  const link = new FaultyLink({ loss: 0.5, duplicate: 0.5, latencyMs: 80 }, { random: () => sequence[draw++ % sequence.length]! });
  pool.get('task')!.link = link;
  const relay = new UdpRelay(relaySocket, () => ({ pool, balancer: new RoundRobin(), events: {}, limits: {} }), { localAddress: NODE });
  t.teardown(() => {
    relay.close();
    for (const socket of [task, relaySocket, client]) socket.close();
  });
  const answers: { text: string; at: number }[] = [];
  client.on('message', (message) => answers.push({ text: String(message), at: performance.now() }));
  const sentAt = performance.now();
  for (const text of ['a', 'b', 'c', 'd']) client.send(text, relaySocket.address().port, NODE);
  await waitFor('three answers', () => answers.length >= 3);
  t.same(received, ['b', 'b', 'c'], 'a and d lost, b sent twice');
  t.same(answers.map((a) => a.text), ['b', 'b', 'c']);
  t.ok(answers.every((a) => a.at - sentAt >= 75), `every answer came the latency later (${answers.map((a) => Math.round(a.at - sentAt)).join(', ')} ms)`);
});
