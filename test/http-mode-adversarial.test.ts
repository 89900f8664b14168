// What a hostile or merely odd task or client can do to http mode's own task side (HttpExchange,
// TaskConnections, ResponseReader, WebSocketTunnel), found by a review: each test states what must hold,
// and each failed once. Real sockets, raw clients and raw tasks.
// Addresses: 127.192.0.0/16 (the front on 127.192.0.1, tasks from 127.192.0.10).
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { waitFor } from './support/cluster.js';
import { deadline } from './support/dns.js';
import { httpFixtures } from './support/httpFront.js';

const FRONT = '127.192.0.1';

const { front, rawTask, rawClient, settled } = httpFixtures(FRONT);

t.test('header bytes above 0x7f reach the task as the client sent them (UTF-8 is not encoded twice)', async (t) => {
  const task = await rawTask(t, '127.192.0.10', (_n, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
  const mesh = await front(t, '127.192.0.10', task.port);
  const client = rawClient(t, mesh.port);
  const name = Buffer.from('Jürgen', 'utf8');
  client.socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nX-Name: '), name, Buffer.from('\r\n\r\n')]));
  await client.until('the answer', (text) => text.endsWith('ok'));
  const line = task.received().split('\r\n').find((each) => each.startsWith('x-name: '))!;
  t.same(Buffer.from(line.slice('x-name: '.length), 'latin1'), name, 'the bytes of the value, unchanged');
  await settled(mesh);
});

t.test('an answer with both Transfer-Encoding and Content-Length is framed for the client by what the mesh read', async (t) => {
  // Read as chunked (RFC 9112 §6.3): the Content-Length must not reach the client beside a body of another length.
  // Answers by path: the mesh does not trust the connection after such an answer, so /second may come on a new one.
  const task = await rawTask(t, '127.192.0.11', (_n, socket, head) => socket.write(head.startsWith('GET /first ')
    ? 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '2e\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled\r\n0\r\n\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'));
  const mesh = await front(t, '127.192.0.11', task.port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string): Promise<{ status: number; body: string }> => deadline('an answer', new Promise((resolve, reject) => {
    http.get({ host: FRONT, port: mesh.port, agent, path }, (response) => {
      let body = '';
      response.setEncoding('latin1');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    }).on('error', reject);
  }));
  const first = await get('/first');
  t.equal(first.body, 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled', 'the first answer is its whole chunked body');
  const second = await get('/second');
  t.equal(second.body, 'second', 'the second request gets its own answer, not the first one\'s body');
  await settled(mesh);
});

/**
 * A client's 32 MiB upload to a task that reads none of it (answering anything else with "next"): resolves
 * once the mesh holds the client's body back, with the task's socket for the upload.
 */
async function uploadHeldBack(t: Test, host: string) {
  let upload: net.Socket | undefined;
  const task = await rawTask(t, host, (_n, socket, head) => {
    if (head.startsWith('POST')) {
      socket.pause();
      upload = socket;
    } else {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext');
    }
  });
  const mesh = await front(t, host, task.port);
  const client = rawClient(t, mesh.port);
  const body = Buffer.alloc(32 * 1024 * 1024, 'b');
  client.socket.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
  client.socket.write(body);
  // The task's side is full: the mesh has stopped reading the client's body.
  await waitFor('the mesh to hold the client\'s body back', () => upload && mesh.clients[0]?.isPaused(), 5000);
  return { mesh, client, upload: upload! };
}

t.test('a task that answers before reading a big body: the client gets the answer, and its connection goes on or closes', async (t) => {
  const { mesh, client, upload } = await uploadHeldBack(t, '127.192.0.12');
  // Refuses the upload, as a server with a size limit does.
  upload.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n\r\nbig!');
  await client.until('the 413', (text) => text.includes('big!'));
  // Then the next request on the same connection: answered, or the connection closed. Never a hang.
  client.socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  await client.until('an answer to the next request, or a close', (text, closed) => closed || text.endsWith('next'), 5000);
  t.pass('not left hanging');
  await settled(mesh);
});

t.test('a task that hangs up in the middle of a big body: the client gets a 502, and its connection goes on or closes', async (t) => {
  const { mesh, client, upload } = await uploadHeldBack(t, '127.192.0.22');
  upload.destroy();
  await client.until('the 502', (text) => text.startsWith('HTTP/1.1 502 '));
  client.socket.write('GET /next HTTP/1.1\r\nHost: x\r\n\r\n');
  await client.until('an answer to the next request, or a close', (text, closed) => closed || text.endsWith('next'), 5000);
  t.same(mesh.log, ['answered 502', ...(client.text().endsWith('next') ? ['answered 200'] : [])]);
  await settled(mesh);
});

t.test('an answer with a repeated Content-Length reaches the client with one', async (t) => {
  const task = await rawTask(t, '127.192.0.23', (_n, socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'));
  const mesh = await front(t, '127.192.0.23', task.port);
  // Node's client (llhttp), like other strict readers, refuses an answer with two Content-Length headers.
  const reply = await deadline('an answer', new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: FRONT, port: mesh.port, agent: false }, (response) => {
      let body = '';
      response.setEncoding('latin1');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode!, body }));
    }).on('error', reject);
  }));
  t.same(reply, { status: 200, body: 'ok' });
  await settled(mesh);
});

t.test('pipelined requests go to tasks one at a time; when their client leaves, nothing is left in flight', async (t) => {
  // A task that never answers: the first request waits on it, and the second waits for the first.
  const task = await rawTask(t, '127.192.0.13', () => {});
  const mesh = await front(t, '127.192.0.13', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the first request to reach the task', () => task.received().includes('GET /a '), 3000);
  t.equal(mesh.backend().active, 1, 'one request in flight: the second waits for the first\'s answer');
  client.socket.destroy();
  await waitFor('the task connections to close', () => task.connections.every((socket) => socket.destroyed || socket.readableEnded), 3000);
  await settled(mesh);
  t.notMatch(task.received(), /GET \/b /, 'the second never reached a task');
});

t.test('a pipelined request cut mid-body by its client\'s leaving: its task connection closes, even with a response timeout set', async (t) => {
  // Answers /a at once and never /b: /b is under way, its body half sent, when its client leaves.
  const task = await rawTask(t, '127.192.0.24', (_n, socket, head) => {
    if (head.startsWith('GET /a ')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const mesh = await front(t, '127.192.0.24', task.port, { responseTimeoutMs: 500 });
  const client = rawClient(t, mesh.port);
  client.socket.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nten bytes!');
  await waitFor('the second request, and the start of its body, at the task', () => task.received().endsWith('ten bytes!'), 3000);
  client.socket.destroy();
  await waitFor('the task connections to close', () => task.connections.every((socket) => socket.destroyed || socket.readableEnded), 3000);
  await settled(mesh);
  t.same(mesh.log.filter((line) => line.startsWith('answered')), ['answered 200'], 'the first answered, the second let go without an answer');
});

t.test('a WebSocket refusal framed by the task\'s close reaches a slow client whole, reported once', async (t) => {
  const body = 'not you. '.repeat(2 * 1024 * 1024);
  let taskAnswered = false;
  const task = await rawTask(t, '127.192.0.14', (_n, socket) => {
    taskAnswered = true;
    socket.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\n${body}`);
  });
  const mesh = await front(t, '127.192.0.14', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.pause();
  client.socket.write(UPGRADE);
  // The task has begun its answer (and will close after it) before the client reads a byte.
  await waitFor('the task to answer', () => taskAnswered, 3000);
  client.socket.resume();
  const text = await client.closed();
  t.match(text, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.equal(text.length - text.indexOf('\r\n\r\n') - 4, body.length, 'the body, whole');
  t.same(mesh.log, ['answered 403'], 'one answer reported: the task\'s');
  await settled(mesh);
});

const UPGRADE = 'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n';

t.test('a WebSocket\'s handshake bytes above 0x7f pass unchanged both ways', async (t) => {
  const task = await rawTask(t, '127.192.0.15', (_n, socket) => socket.write(`${SWITCHING}X-Greeting: gr\xfc\xdf\r\n\r\n`, 'latin1'));
  const mesh = await front(t, '127.192.0.15', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write(Buffer.concat([Buffer.from(UPGRADE.slice(0, -2), 'latin1'), Buffer.from('X-Name: Jürgen\r\n\r\n', 'utf8')]));
  const text = await client.until('the 101', (received) => received.includes('\r\n\r\n'));
  t.match(text, /\r\nX-Greeting: gr\xfc\xdf\r\n/, 'the task\'s bytes, as latin1 text: unchanged');
  const line = task.received().split('\r\n').find((each) => each.startsWith('x-name: '))!;
  t.same(Buffer.from(line.slice('x-name: '.length), 'latin1'), Buffer.from('Jürgen', 'utf8'), 'the client\'s bytes, unchanged');
  client.socket.destroy();
  await settled(mesh);
});

t.test('a WebSocket task that sends its first frame in the 101\'s packet, and a client that sends before the 101', async (t) => {
  let taskSocket!: net.Socket;
  const task = await rawTask(t, '127.192.0.16', (_n, socket) => {
    taskSocket = socket;
    socket.write(`${SWITCHING}\r\nfirst frame`);
  });
  const mesh = await front(t, '127.192.0.16', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write(`${UPGRADE}early bytes`);
  const text = await client.until('the 101 and the first frame', (received) => received.endsWith('\r\n\r\nfirst frame'));
  t.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  await waitFor('the early bytes to reach the task', () => task.received().endsWith('\r\n\r\nearly bytes'), 2000);
  client.socket.write(' and after');
  await waitFor('bytes after the 101 to reach the task', () => task.received().endsWith('early bytes and after'), 2000);
  taskSocket.write(' second');
  await client.until('the second frame', (received) => received.endsWith('first frame second'));
  t.equal(mesh.backend().active, 1, 'held while the WebSocket is open');
  taskSocket.end();
  await client.closed();
  await settled(mesh);
  t.same(mesh.log, ['answered 101']);
});

t.test('a WebSocket task that closes before its 101, or refuses with a framed 4xx: the client is told and let go', async (t) => {
  const task = await rawTask(t, '127.192.0.17', (_n, socket) => {
    if (task.connections.length === 1) socket.destroy();
    else socket.write('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 4\r\n\r\nnope');
  });
  const mesh = await front(t, '127.192.0.17', task.port);
  const first = rawClient(t, mesh.port);
  first.socket.write(UPGRADE);
  t.match(await first.closed(), /^HTTP\/1\.1 502 Bad Gateway\r\n[^]*could not take the WebSocket/);
  const second = rawClient(t, mesh.port);
  second.socket.write(UPGRADE);
  const refused = await second.closed();
  t.match(refused, /^HTTP\/1\.1 426 Upgrade Required\r\n/);
  t.ok(refused.endsWith('\r\n\r\nnope'));
  t.same(mesh.log, ['answered 502', 'answered 426']);
  await settled(mesh);
});

t.test('HEAD, 204 and 304 answers leave a task connection that carries the next request right', async (t) => {
  const answers = [
    'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nend\r\n0\r\nX-Sum: 1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlast',
  ];
  const task = await rawTask(t, '127.192.0.18', (n, socket) => socket.write(answers[n - 1]!));
  const mesh = await front(t, '127.192.0.18', task.port);
  const client = rawClient(t, mesh.port);
  const requests = ['HEAD /', 'GET /204', 'GET /304', 'GET /trailers', 'GET /last'];
  const ends = ['\r\n\r\n', '\r\n\r\n', '\r\n\r\n', '0\r\n\r\n', 'last'];
  for (let i = 0; i < requests.length; i++) {
    const before = client.text().length;
    client.socket.write(`${requests[i]} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await client.until(`the answer to ${requests[i]}`, (text) => text.slice(before).endsWith(ends[i]!));
  }
  const text = client.text();
  t.same(text.match(/HTTP\/1\.1 \d+/g), ['HTTP/1.1 200', 'HTTP/1.1 204', 'HTTP/1.1 304', 'HTTP/1.1 200', 'HTTP/1.1 200']);
  t.match(text, /\r\n\r\n3\r\nend\r\n0\r\n\r\n/, 'the trailers\' body, re-chunked (the trailer itself is dropped)');
  t.equal(task.connections.length, 1, 'one task connection carried all five');
  await settled(mesh);
});

t.test('an HTTP/1.0 client gets a chunked answer framed by the close, and Expect: 100-continue is answered by the node', async (t) => {
  const task = await rawTask(t, '127.192.0.19', (n, socket, head) => {
    if (head.startsWith('GET')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    // The POST's body is 4 bytes, read with its head or right after.
    else setImmediate(() => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${head.includes('expect') ? 3 : 2}\r\n\r\n${head.includes('expect') ? 'bad' : 'ok'}`));
  });
  const mesh = await front(t, '127.192.0.19', task.port);
  const old = rawClient(t, mesh.port);
  old.socket.write('GET / HTTP/1.0\r\n\r\n');
  const text = await old.closed();
  t.match(text, /^HTTP\/1\.1 200 OK\r\n/);
  t.notMatch(text, /transfer-encoding/i);
  t.ok(text.endsWith('\r\n\r\nhello'));
  t.match(task.received(), /\r\nhost: 127\.192\.0\.19:\d+\r\n/, 'a Host for the task, which names it');

  const expecting = rawClient(t, mesh.port);
  expecting.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n');
  await expecting.until('the 100', (received) => received.startsWith('HTTP/1.1 100 Continue\r\n\r\n'));
  expecting.socket.write('body');
  await expecting.until('the answer', (received) => received.endsWith('ok'));
  await waitFor('the body at the task', () => task.received().endsWith('\r\n\r\nbody'), 2000);
  await settled(mesh);
});

t.test('retiring a task while a request is on it: the answer is whole, then its connection closes', async (t) => {
  let answer!: () => void;
  const task = await rawTask(t, '127.192.0.20', (_n, socket) => { answer = () => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone'); });
  const mesh = await front(t, '127.192.0.20', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await waitFor('the request at the task', () => answer, 2000);
  mesh.forwarder.retire(mesh.backend());
  answer();
  await client.until('the answer', (text) => text.endsWith('done'));
  await waitFor('the task connection to close', () => task.connections[0]!.readableEnded || task.connections[0]!.destroyed, 2000);
  await settled(mesh);
  t.pass();
});

t.test('pipelined requests are answered in order, one at a time at the task', async (t) => {
  let inFlight = 0;
  let most = 0;
  const task = await rawTask(t, '127.192.0.21', (_n, socket, head) => {
    most = Math.max(most, ++inFlight);
    const path = head.split(' ')[1]!;
    setImmediate(() => {
      inFlight--;
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
    });
  });
  const mesh = await front(t, '127.192.0.21', task.port);
  const client = rawClient(t, mesh.port);
  client.socket.write('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /22 HTTP/1.1\r\nHost: x\r\n\r\nGET /333 HTTP/1.1\r\nHost: x\r\n\r\n');
  const text = await client.until('three answers', (received) => received.split('HTTP/1.1 200').length === 4 && received.endsWith('/333'));
  t.same(text.match(/\r\n\r\n\/\d+/g), ['\r\n\r\n/1', '\r\n\r\n/22', '\r\n\r\n/333']);
  t.equal(most, 1, 'never two of them at the task at once');
  t.equal(task.connections.length, 1, 'one kept-alive task connection carried all three');
  await settled(mesh);
});

t.test('after a burst, the idle connections kept to a task are capped (as http.Agent\'s maxFreeSockets, 256, capped them)', async (t) => {
  const burst = 300;
  // Answers once the whole burst is in: every request is in flight at once.
  const waiting: net.Socket[] = [];
  const task = await rawTask(t, '127.192.0.25', (_n, socket) => {
    waiting.push(socket);
    if (waiting.length === burst) for (const each of waiting) each.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const mesh = await front(t, '127.192.0.25', task.port);
  const clients = Array.from({ length: burst }, () => rawClient(t, mesh.port));
  for (const client of clients) client.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await Promise.all(clients.map((client) => client.until('the answer', (text) => text.endsWith('ok'))));
  await settled(mesh);
  const open = (): number => task.connections.filter((socket) => !socket.destroyed && !socket.readableEnded).length;
  t.ok(task.connections.length > 256, `the burst opened ${task.connections.length} task connections`);
  await waitFor('the idle connections over the cap to close', () => open() <= 256, 3000).catch(() => {});
  t.ok(open() <= 256, `${open()} left open, idle, for a minute`);
});
