// The UDP relay on real sockets: each client address and port is a flow pinned to one task, and round
// robin spreads flows; replies come back from the published port; a flow follows the pool at every
// datagram (a removed, fenced or ejected task gets nothing more); quiet flows expire; a task that is not
// listening ends its flow so the next datagram goes elsewhere; past the cap the oldest flow gives way.
import dgram from 'node:dgram';
import t from 'tap';
import type { Test } from 'tap';
import { Pool, RoundRobin, UdpRelay } from '../../src/lb/index.js';
import type { Backend, BackendDesired, ForwardLimits } from '../../src/lb/index.js';
import { waitFor } from '../support/cluster.js';

const FRONT = '127.236.0.1';
const CLIENT = '127.236.0.2';
const TASKS = ['127.236.0.10', '127.236.0.11', '127.236.0.12'];

function bound(t: Test, address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => {
    try { socket.close(() => resolve()); } catch { resolve(); }
  }));
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address, port }, () => resolve(socket));
  });
}

/**
 * A task answering `<id>:<datagram>` (but never a datagram saying `spray`), remembering every datagram it
 * got and where from: `port` is the relay's socket for that flow.
 */
async function task(t: Test, id: string, address: string) {
  const got: { text: string; from: string; port: number }[] = [];
  const socket = await bound(t, address);
  socket.on('message', (message, from) => {
    got.push({ text: String(message), from: from.address, port: from.port });
    if (String(message) !== 'spray') socket.send(`${id}:${message}`, from.port, from.address);
  });
  const desired: BackendDesired = { id, host: address, port: socket.address().port, state: 'up', label: id };
  return { got, desired };
}

/** A relay on its own listener socket, with the events it reported. */
async function relay(t: Test, pool: Pool, limits: ForwardLimits = {}) {
  const events: string[] = [];
  const listener = await bound(t, FRONT);
  const target = {
    pool, balancer: new RoundRobin(), limits,
    events: {
      connected: (b: Backend) => events.push(`answered by ${b.id}`),
      connectError: (b: Backend) => events.push(`refused by ${b.id}`),
      failed: (reason: string) => events.push(`failed ${reason}`),
    },
  };
  const udp = new UdpRelay(listener, () => target, { localAddress: FRONT });
  t.teardown(() => udp.close());
  return { udp, port: listener.address().port, events };
}

/** A client on its own port: `ask` sends one datagram and resolves with the reply (and who sent it), or 'none' after `ms`. */
async function client(t: Test) {
  const socket = await bound(t, CLIENT);
  return {
    port: socket.address().port,
    send: (port: number, text: string) => socket.send(text, port, FRONT),
    ask: (port: number, text: string, ms = 2000) => new Promise<{ text: string; from: string }>((resolve) => {
      const timer = setTimeout(() => { socket.off('message', onMessage); resolve({ text: 'none', from: '' }); }, ms);
      const onMessage = (message: Buffer, from: dgram.RemoteInfo) => {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve({ text: String(message), from: `${from.address}:${from.port}` });
      };
      socket.on('message', onMessage);
      socket.send(text, port, FRONT);
    }),
  };
}

t.test('a flow keeps its task; flows are spread round robin; replies come from the published port', async (t) => {
  const tasks = await Promise.all(TASKS.map((address, i) => task(t, `t${i}`, address)));
  const pool = new Pool();
  pool.set(tasks.map((x) => x.desired));
  const { port, udp } = await relay(t, pool);
  const clients = await Promise.all([0, 1, 2, 3].map(() => client(t)));
  const first: string[] = [];
  for (const c of clients) {
    const reply = await c.ask(port, 'a');
    first.push(reply.text);
    t.equal(reply.from, `${FRONT}:${port}`, 'the reply comes from the address the client sent to');
  }
  t.same(first, ['t0:a', 't1:a', 't2:a', 't0:a'], 'one flow per client port, round robin');
  for (let i = 0; i < 5; i++) t.equal((await clients[1]!.ask(port, `b${i}`)).text, `t1:b${i}`, 'later datagrams of a flow keep its task');
  t.equal(udp.flowCount, 4);
  t.same(new Set(tasks.flatMap((x) => x.got.map((g) => g.from))), new Set([FRONT]), 'tasks see the relay\'s address (the node that forwarded)');
});

t.test('a task removed from the pool, fenced or ejected gets no further datagram of its flows', async (t) => {
  const tasks = await Promise.all(TASKS.map((address, i) => task(t, `t${i}`, address)));
  const pool = new Pool();
  pool.set(tasks.map((x) => x.desired));
  const { port } = await relay(t, pool);
  const c = await client(t);
  t.equal((await c.ask(port, 'x')).text, 't0:x');

  pool.set(tasks.slice(1).map((x) => x.desired));
  const received = tasks[0]!.got.length;
  const moved = (await c.ask(port, 'after removal')).text;
  t.match(moved, /^t[12]:after removal$/, 'the next datagram goes to a task in the pool');
  t.equal(tasks[0]!.got.length, received, 'the removed task got nothing more');

  const [fenced, other] = moved.startsWith('t1') ? [tasks[1]!, tasks[2]!] : [tasks[2]!, tasks[1]!];
  pool.set([{ ...fenced.desired, state: 'fenced' }, other.desired]);
  t.equal((await c.ask(port, 'after fence')).text, `${other.desired.id}:after fence`, 'a fenced task takes no datagram either');

  pool.set([fenced.desired, other.desired]);
  pool.eject(pool.get(other.desired.id)!, Date.now() + 60_000);
  t.equal((await c.ask(port, 'after ejection')).text, `${fenced.desired.id}:after ejection`, 'nor an ejected one');
});

t.test('a quiet flow expires: the client\'s next datagram is a new flow', async (t) => {
  const tasks = await Promise.all(TASKS.slice(0, 2).map((address, i) => task(t, `t${i}`, address)));
  const pool = new Pool();
  pool.set(tasks.map((x) => x.desired));
  const { port, udp } = await relay(t, pool, { idleTimeoutMs: 100 });
  const c = await client(t);
  t.equal((await c.ask(port, 'one')).text, 't0:one');
  t.equal(udp.flowCount, 1);
  await waitFor('the flow to expire', () => udp.flowCount === 0, 2000);
  t.equal((await c.ask(port, 'two')).text, 't1:two', 'picked afresh: round robin moved on');
});

t.test('a task not listening ends its flow: the next datagram goes to another task', async (t) => {
  const live = await task(t, 'live', TASKS[1]!);
  const gone = await bound(t, TASKS[0]!);
  const closedPort = gone.address().port;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const pool = new Pool();
  pool.set([{ id: 'dead', host: TASKS[0]!, port: closedPort, state: 'up' }, live.desired]);
  const { port, udp, events } = await relay(t, pool);
  const c = await client(t);
  c.send(port, 'lost');
  // The kernel's "port unreachable" ends the flow; the datagram itself is lost, as UDP may.
  await waitFor('the refused flow to end', () => events.includes('refused by dead') && udp.flowCount === 0, 2000);
  t.equal((await c.ask(port, 'again')).text, 'live:again');
  t.same(events, ['refused by dead', 'answered by live']);
});

t.test('with no task the datagram is dropped and said', async (t) => {
  const pool = new Pool();
  const { port, events } = await relay(t, pool);
  const c = await client(t);
  t.equal((await c.ask(port, 'nobody', 200)).text, 'none', 'no reply with an empty pool');
  t.same(events, ['failed no_backend']);
});

t.test('past the cap, unanswered flows give way first, then the least recently used', async (t) => {
  const only = await task(t, 't0', TASKS[0]!);
  const pool = new Pool();
  pool.set([only.desired]);
  const { port, udp } = await relay(t, pool, { maxConnections: 2 });
  /** The relay's socket toward the task for the flow that carried `text`: the same one means the same flow. */
  const flowOf = (text: string) => only.got.find((g) => g.text === text)!.port;
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => client(t)));
  t.equal((await a!.ask(port, 'a1')).text, 't0:a1');

  // Ten new client ports whose datagrams the task never answers: each pushes out the one before it, never a.
  for (let i = 0; i < 10; i++) (await client(t)).send(port, 'spray');
  await waitFor('the task to get the spray', () => only.got.filter((g) => g.text === 'spray').length === 10);
  t.equal(udp.flowCount, 2, 'never more than the cap');
  t.equal((await a!.ask(port, 'a2')).text, 't0:a2');
  t.equal(flowOf('a2'), flowOf('a1'), 'the answered flow lived through the spray');

  // Answered flows: the least recently used gives way.
  t.equal((await b!.ask(port, 'b1')).text, 't0:b1', 'b takes the spray\'s place');
  t.equal((await a!.ask(port, 'a3')).text, 't0:a3', 'a is used again, after b');
  t.equal((await c!.ask(port, 'c1')).text, 't0:c1', 'c needs room: b, the least recently used, gives way');
  t.equal((await a!.ask(port, 'a4')).text, 't0:a4');
  t.equal(flowOf('a4'), flowOf('a1'), 'a kept its flow');
  t.equal((await b!.ask(port, 'b2')).text, 't0:b2');
  t.not(flowOf('b2'), flowOf('b1'), 'b came back as a new flow');
});
