// A third review of http mode, after the mesh began reading its clients itself (ClientConnection,
// ClientConnections, RequestReader): hostile clients and tasks on real sockets, against deadlines, port
// close, half-closed clients and header names.
// Addresses: 127.182.0.0/16 (the front on 127.182.0.1, tasks from 127.182.0.10).
import t from 'tap';
import { waitFor } from './support/cluster.js';
import { dechunked, httpFixtures, rawClient as rawClientWith } from './support/httpFront.js';

const FRONT = '127.182.0.1';

const { front, rawTask, rawClient, settled } = httpFixtures(FRONT);

t.test('a head begun in the same read as the request before it is held to the header timeout, not the keep-alive one', async (t) => {
  const task = await rawTask(t, '127.182.0.10', (_n, socket) => { socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); });
  const mesh = await front(t, '127.182.0.10', task.port, { headerTimeoutMs: 300 });
  const client = rawClient(t, mesh.port);
  // The second head never ends: a slow head like any other, so a 408 within the header timeout.
  client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHo');
  const text = await client.until('a 408 for the unfinished second head', (received) => received.includes('408 Request Timeout'), 4000);
  t.match(text, /^HTTP\/1\.1 200 OK\r\n[^]*ok/);
  await settled(mesh);
});

t.test('a port closed while an answer with a keep-alive head is under way closes that connection once the answer is done', async (t) => {
  let taskSide: import('node:net').Socket | undefined;
  const task = await rawTask(t, '127.182.0.11', (_n, socket) => {
    taskSide = socket;
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab');
  });
  const mesh = await front(t, '127.182.0.11', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await client.until('the head and half the body', (received) => received.endsWith('ab'));
  mesh.server.close(); // busy: closed after its answer
  taskSide!.write('cd');
  await client.until('the whole answer', (received) => received.endsWith('abcd'));
  // ClientConnections.close: "a busy one [is closed] after its answer", not after the 75 s keep-alive.
  await client.closed();
  t.pass('closed after its answer');
  await settled(mesh);
});

t.test('a client that half-closes while an answer waits for it to read is let go, not held for ever', async (t) => {
  const task = await rawTask(t, '127.182.0.12', (_n, socket) => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 33554432\r\n\r\n');
    socket.write(Buffer.alloc(32 * 1024 * 1024, 'x'));
  });
  const mesh = await front(t, '127.182.0.12', task.port, { headerTimeoutMs: 200 });
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // reads nothing: the mesh's writes back up
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  const meshSide = await waitFor('the mesh to hold answer bytes the client has not taken', () => {
    const socket = mesh.clients[0];
    return socket && socket.writableLength > 0 ? socket : undefined;
  }, 5000);
  client.socket.end(); // gone, as far as its requests go: the mesh abandons the answer
  await settled(mesh);
  await waitFor('the mesh to close the connection of a client that left', () => meshSide.destroyed, 5000);
  t.pass('closed');
});

t.test('headers named like Object.prototype members reach the task as the client sent them', async (t) => {
  const task = await rawTask(t, '127.182.0.13', (_n, socket) => { socket.write('HTTP/1.1 204 No Content\r\n\r\n'); });
  const mesh = await front(t, '127.182.0.13', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConstructor: a\r\n__proto__: c\r\n\r\n');
  await client.head();
  await settled(mesh);
  const received = task.received().toLowerCase();
  t.match(received, /\r\nconstructor: a\r\n/, 'constructor');
  t.match(received, /\r\n__proto__: c\r\n/, '__proto__');
});

t.test('a close-delimited answer to an HTTP/1.0 client reaches it whole however slowly it reads the end', async (t) => {
  const piece = Buffer.alloc(4 * 1024, 'x');
  let sent = 0;
  let taskSide: import('node:net').Socket | undefined;
  const task = await rawTask(t, '127.182.0.14', (_n, socket) => {
    taskSide = socket;
    socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n'); // no length: the body ends with the close
  });
  const mesh = await front(t, '127.182.0.14', task.port, { headerTimeoutMs: 200 });
  const client = rawClient(t, mesh.port);
  client.socket.pause(); // reads nothing until the whole answer has left the task
  client.socket.write('GET /big HTTP/1.0\r\n\r\n');
  await waitFor('the task to get the request', () => taskSide);
  // The task writes until the mesh holds bytes for the client that its kernel buffers could not take.
  while (!(mesh.clients[0]!.writableLength > 0)) {
    taskSide!.write(piece);
    sent += piece.length;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  taskSide!.end(piece.subarray(0, 1024)); // the last piece, and the close that ends the body
  sent += 1024;
  const meshSide = mesh.clients[0]!;
  await waitFor('the mesh to end its side', () => meshSide.writableEnded, 5000);
  const started = performance.now();
  // The client is slow to read on: give the mesh time to cut it short, if it does (its linger is 1 s).
  await waitFor('the mesh to close, or 2.5 s to pass', () => meshSide.destroyed || performance.now() - started > 2500, 5000);
  client.socket.resume();
  const text = await client.closed();
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  t.equal(body.length, sent, 'every byte of the body');
});

t.test('a WebSocket upgrade leaves the close listeners others set on the client socket (the mesh counts its connections by them)', async (t) => {
  const task = await rawTask(t, '127.182.0.15', (_n, socket) => {
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  });
  const mesh = await front(t, '127.182.0.15', task.port);
  const client = rawClient(t, mesh.port);
  const meshSide = await waitFor('the mesh to take the connection', () => mesh.clients[0]);
  let closeSeen = false;
  meshSide.once('close', () => { closeSeen = true; }); // as Mesh does, to forget the connection and count its bytes
  client.socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  await client.until('the 101', (text) => text.startsWith('HTTP/1.1 101 '));
  client.socket.destroy();
  await waitFor('the mesh side to close', () => meshSide.destroyed, 3000);
  await waitFor('the close listener set before the upgrade to run', () => closeSeen, 3000);
  t.pass('seen');
  await settled(mesh);
});

t.test('empty lines sent between requests do not keep an idle keep-alive connection open past its limit', async (t) => {
  const task = await rawTask(t, '127.182.0.16', (_n, socket) => { socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); });
  const mesh = await front(t, '127.182.0.16', task.port, { headerTimeoutMs: 200 });
  mesh.server.keepAliveTimeoutMs = 300;
  const client = rawClient(t, mesh.port);
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await client.until('the answer', (text) => text.endsWith('ok'));
  const meshSide = mesh.clients[0]!;
  // An empty line is allowed before a request line (RFC 9112 §2.2), but it begins no request: the
  // connection is still idle, and idle for longer than 0.3 s. Each one restarts the deadline instead.
  const started = performance.now();
  while (!meshSide.destroyed && performance.now() - started < 2000) {
    client.socket.write('\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.ok(meshSide.destroyed, 'closed within 2 s of an answer, its keep-alive limit being 0.3 s');
});

t.test('a connection answered on its refused WebSocket upgrade is still timed, and closed when its client stays', async (t) => {
  const task = await rawTask(t, '127.182.0.17', () => {});
  const mesh = await front(t, '127.182.0.17', task.port, { headerTimeoutMs: 200 });
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.write('POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n');
  await client.until('the 400', (text) => text.startsWith('HTTP/1.1 400 '));
  // The mesh ended its side; a client that never ends its own holds the socket: no deadline looks at it
  // any more (it left its port's set with #leave), and ClientConnections.close does not see it either.
  await waitFor('the mesh to close the connection', () => mesh.clients[0]!.destroyed, 3000);
  t.pass('closed');
});

t.test('a port closed while a kept-alive answer is still on its way to a slow client lets the answer finish', async (t) => {
  const piece = 'x'.repeat(4 * 1024);
  let taskSide: import('node:net').Socket | undefined;
  const task = await rawTask(t, '127.182.0.18', (_n, socket) => {
    taskSide = socket;
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
  });
  const mesh = await front(t, '127.182.0.18', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.pause(); // reads nothing until the port is closed
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the task to get the request', () => taskSide);
  let sent = 0;
  // Chunks until the mesh holds bytes its kernel buffers could not take (below its high-water mark, so
  // the task is not paused), then the last chunk: the answer is done while those bytes wait.
  while (!(mesh.clients[0]!.writableLength > 0)) {
    taskSide!.write(`1000\r\n${piece}\r\n`);
    sent += piece.length;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  taskSide!.write(`1000\r\n${piece}\r\n0\r\n\r\n`);
  sent += piece.length;
  await settled(mesh); // the answer is done: the connection waits for its next request
  mesh.server.close(); // idle, so closed now: with what it has not yet written?
  client.socket.resume();
  // Closed once its answer is out, the port being closed: all of it, the last chunk included.
  const text = await client.closed();
  t.ok(text.endsWith('0\r\n\r\n'), 'the last chunk');
  t.equal(dechunked(text.slice(text.indexOf('\r\n\r\n') + 4)).length, sent, 'every byte of the body');
});

t.test('a client that takes none of its answer is let go after the send timeout, and the task\'s request with it', async (t) => {
  let taskClosed = false;
  const task = await rawTask(t, '127.182.0.30', (_n, socket) => {
    socket.once('close', () => { taskClosed = true; });
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 33554432\r\n\r\n');
    socket.write(Buffer.alloc(32 * 1024 * 1024, 'x'));
  });
  const mesh = await front(t, '127.182.0.30', task.port);
  mesh.server.sendTimeoutMs = 300;
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // reads nothing, and stays
  client.socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the mesh to hold the task back for the client', () => mesh.backend().active === 1 && (mesh.clients[0]?.writableLength ?? 0) > 0, 5000);
  const started = Date.now();
  await waitFor('the mesh to let the client go', () => mesh.clients[0]!.destroyed, 5000);
  t.ok(Date.now() - started < 3000, 'within a few looks past the 300 ms send timeout');
  await waitFor('the task\'s request to go with it', () => taskClosed && mesh.backend().active === 0, 3000);
  await settled(mesh);
});

t.test('every byte value of a body reaches the client as sent, small or large, by length or chunked', async (t) => {
  const small = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const large = Buffer.concat(Array(200).fill(small)); // 51200 bytes: past the one-string write
  const bodies = [small, large];
  const task = await rawTask(t, '127.182.0.31', (n, socket) => {
    const body = bodies[(n - 1) % 2]!;
    if (n <= 2) {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
      socket.write(body);
    } else {
      socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n`);
      socket.write(body);
      socket.write('\r\n0\r\n\r\n');
    }
  });
  const mesh = await front(t, '127.182.0.31', task.port);
  for (let n = 1; n <= 4; n++) {
    const client = rawClient(t, mesh.port);
    client.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const text = await client.closed();
    const raw = text.slice(text.indexOf('\r\n\r\n') + 4);
    const body = Buffer.from(n <= 2 ? raw : dechunked(raw), 'latin1');
    t.ok(body.equals(bodies[(n - 1) % 2]!), `answer ${n}: ${body.length} bytes, each as sent`);
  }
  await settled(mesh);
});

