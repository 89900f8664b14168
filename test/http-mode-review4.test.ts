// A fourth review of http mode, after its answers began to leave in one write (1aa75da), its header maps
// became plain objects again (8d472ad) and a client that takes none of its answer got a send timeout
// (6360dd2): slow clients, early answers and header names, on real sockets.
// Addresses: 127.184.0.0/16 (the front on 127.184.0.1, tasks from 127.184.0.10).
import type net from 'node:net';
import t from 'tap';
import { waitFor } from './support/cluster.js';
import { httpFixtures, rawClient as rawClientWith } from './support/httpFront.js';

const FRONT = '127.184.0.1';

const { front, rawTask, settled } = httpFixtures(FRONT);

t.test('a client whose answer backed up while it was still sending its body is let go once it stops reading, not held for ever', async (t) => {
  let taskClosed = false;
  const task = await rawTask(t, '127.184.0.10', (_n, socket) => {
    socket.once('close', () => { taskClosed = true; });
    // Answered at once, before the body is in (as a task refusing an upload does).
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 33554432\r\n\r\n');
    socket.write(Buffer.alloc(32 * 1024 * 1024, 'x'));
  });
  const mesh = await front(t, '127.184.0.10', task.port, { headerTimeoutMs: 200 });
  mesh.server.sendTimeoutMs = 300;
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // reads nothing, and stays
  client.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst');
  await waitFor('the mesh to hold answer bytes the client has not taken', () => (mesh.clients[0]?.writableLength ?? 0) > 0, 5000);
  client.socket.write('-last'); // the body is whole: from now on only the answer is waited for
  await waitFor('the task to get the whole body', () => task.received().endsWith('first-last'), 3000);
  const meshSide = mesh.clients[0]!;
  const started = Date.now();
  await waitFor('the mesh to let the client go', () => meshSide.destroyed, 5000);
  t.ok(Date.now() - started < 3000, 'within a few looks past the 300 ms send timeout');
  await waitFor('the task\'s request to go with it', () => taskClosed && mesh.backend().active === 0, 3000);
  await settled(mesh);
});

// The send timeout is its own (60 s, as nginx's), not the idle timeout: a steady reader is seen to move
// only when the kernel frees a third of its send buffer, seconds apart at this pace.
t.test('a client that reads its answer slowly but steadily is not let go by the idle timeout', async (t) => {
  const size = 32 * 1024 * 1024;
  const task = await rawTask(t, '127.184.0.11', (_n, socket) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n`);
    socket.write(Buffer.alloc(size, 'x'));
  });
  const mesh = await front(t, '127.184.0.11', task.port, { headerTimeoutMs: 200 });
  mesh.server.keepAliveTimeoutMs = 300;
  const client = rawClientWith(t, mesh.port, { host: FRONT });
  client.socket.pause();
  client.socket.removeAllListeners('data'); // read by pulling, at a pace
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the mesh to hold answer bytes the client has not taken', () => (mesh.clients[0]?.writableLength ?? 0) > 0, 5000);
  const meshSide = mesh.clients[0]!;
  // 16 KiB every 20 ms (800 KB/s): never a pause anywhere near the 300 ms idle timeout.
  let taken = 0;
  const pace = setInterval(() => {
    const piece = (client.socket.read(16 * 1024) ?? client.socket.read()) as string | null;
    taken += piece?.length ?? 0;
  }, 20);
  t.teardown(() => clearInterval(pace));
  const started = Date.now();
  await waitFor('the mesh to cut the client, or 3 s of reading', () => meshSide.destroyed || Date.now() - started > 3000, 5000);
  t.comment(`${taken} bytes taken in ${Date.now() - started} ms`);
  t.notOk(meshSide.destroyed, 'still answering a client that takes 800 KB a second');
});

t.test('a body that stops coming is still timed when the drain of an earlier answer on the connection comes during its own answer', async (t) => {
  const piece = 'x'.repeat(4 * 1024);
  let taskSide: net.Socket | undefined;
  const task = await rawTask(t, '127.184.0.12', (n, socket) => {
    taskSide = socket;
    // The first answer is chunked, written by the test below; the second is an echo that begins at once.
    if (n === 1) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    else socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n');
  });
  const mesh = await front(t, '127.184.0.12', task.port, { headerTimeoutMs: 200 }, { requestTimeout: 400, connectionsCheckingInterval: 50 });
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // reads nothing for now
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the task to get the request', () => taskSide);
  // Chunks the client's kernel buffers take, until the mesh holds some back (below its high-water mark,
  // so its writes still say go on); then a last piece past that mark, ending the answer: the write says
  // wait, and the answer is done while the client has not taken it.
  while (!(mesh.clients[0]!.writableLength > 0)) {
    taskSide!.write(`1000\r\n${piece}\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  taskSide!.write(`8000\r\n${piece.repeat(8)}\r\n0\r\n\r\n`);
  await waitFor('the first answer to be done', () => mesh.backend().active === 0, 3000);
  const meshSide = mesh.clients[0]!;
  const held = meshSide.writableLength;
  client.socket.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst');
  // The mesh reads the POST only once the client has taken the first answer (a client that pipelines
  // and never reads gets one answer held for it): the drain comes first, then the second answer.
  t.ok(held > 0, 'the first answer waits for the client');
  client.socket.resume(); // the first answer drains; the second goes on while its body is awaited
  await client.until('the start of the second answer', (text) => text.endsWith('5\r\nfirst\r\n'));
  // The rest of the body never comes: the request's 400 ms limit cuts it.
  await waitFor('the mesh to let the client go', () => meshSide.destroyed, 3000);
  t.pass('let go');
  await waitFor('the task\'s request to go with it', () => mesh.backend().active === 0, 3000);
});

t.test('a client that pipelines requests and reads none of the answers is not buffered for without bound', async (t) => {
  const body = 'x'.repeat(16 * 1024);
  const task = await rawTask(t, '127.184.0.13', (_n, socket) => { socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`); });
  const mesh = await front(t, '127.184.0.13', task.port, { headerTimeoutMs: 200 });
  mesh.server.sendTimeoutMs = 300;
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // takes no byte of any answer
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20_000)); // 560 KB of requests, 320 MB of answers
  const meshSide = await waitFor('the mesh to take the connection', () => mesh.clients[0]);
  let mostHeld = 0;
  await waitFor('the mesh to let the client go', () => {
    mostHeld = Math.max(mostHeld, meshSide.writableLength);
    return meshSide.destroyed;
  }, 10_000);
  // Node's own server stops reading pipelined requests while its answers wait to be taken ("so that we
  // don't become overwhelmed by a flood of pipelined requests"): an answer or two, not all of them.
  t.ok(mostHeld < 4 * 1024 * 1024, `at most a few answers held for the client (${(mostHeld / 1024 / 1024).toFixed(1)} MiB)`);
  t.ok(task.received().split('GET ').length - 1 < 1000, 'the requests it sends while it reads nothing stop reaching the task');
  await settled(mesh);
});
