// What http mode does with the tasks' side of each request now that the mesh reads the tasks' answers
// itself (src/lb/HttpExchange.ts, TaskConnections.ts): every framing reaches the client whole; an answer
// it cannot read exactly is a 502 and never poisons the next request; bytes a task sends beyond its answer
// are never taken for the next one; big bodies pass both ways at the slower side's pace; kept-alive task
// connections end before the task's announced limit, and when their task is retired.
// Addresses: 127.191.0.0/16 (the front on 127.191.0.1, tasks from 127.191.0.10).
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { waitFor } from './support/cluster.js';
import { deadline } from './support/dns.js';
import { httpFixtures, listen } from './support/httpFront.js';

const FRONT = '127.191.0.1';

const { front, rawTask } = httpFixtures(FRONT);

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: Buffer; complete: boolean }

function send(port: number, options: http.RequestOptions = {}, body?: Buffer | string): Promise<Reply> {
  return deadline(`a reply to ${options.method ?? 'GET'} ${options.path ?? '/'}`, new Promise((resolve, reject) => {
    const request = http.request({ host: FRONT, port, agent: false, ...options }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), complete: response.complete }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  }), 10_000);
}

t.test('every framing of a task\'s answer reaches the client whole', async (t) => {
  const answers: Record<string, string> = {
    '/chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n',
    '/length': 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
    '/empty': 'HTTP/1.1 204 No Content\r\n\r\n',
    '/head': 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
    '/interim': 'HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  };
  const paths: string[] = [];
  const server = net.createServer((socket) => {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      const path = text.split(' ')[1]!;
      paths.push(path);
      socket.write(answers[path] ?? 'HTTP/1.1 200 OK\r\n\r\nuntil the close');
      if (!answers[path]) socket.end();
    });
  });
  const mesh = await front(t, '127.191.0.10', await listen(t, server, '127.191.0.10'));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());

  const chunked = await send(mesh.port, { path: '/chunked', agent });
  t.same([chunked.status, chunked.body.toString(), chunked.complete], [200, 'hello, world', true]);
  const length = await send(mesh.port, { path: '/length', agent });
  t.same([length.body.toString(), length.headers['content-length']], ['hello', '5'], 'the length passed on');
  const empty = await send(mesh.port, { path: '/empty', agent });
  t.same([empty.status, empty.body.length], [204, 0]);
  const head = await send(mesh.port, { path: '/head', method: 'HEAD', agent });
  t.same([head.status, head.headers['content-length'], head.body.length], [200, '1000', 0], 'a HEAD answer: the length, no body');
  const interim = await send(mesh.port, { path: '/interim', agent });
  t.same([interim.status, interim.body.toString()], [200, 'ok'], 'an interim 103 is not the answer');
  const untilClose = await send(mesh.port, { path: '/close', agent });
  t.same([untilClose.status, untilClose.body.toString(), untilClose.complete], [200, 'until the close', true], 'a body that ends with the task\'s close');
  t.same(paths, ['/chunked', '/length', '/empty', '/head', '/interim', '/close']);
  t.same(mesh.log, ['answered 200', 'answered 200', 'answered 204', 'answered 200', 'answered 200', 'answered 200']);
});

t.test('an answer the mesh cannot read exactly: 502 naming the task, and the next request goes over a new connection', async (t) => {
  const bad = ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', 'HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nok', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'];
  const task = await rawTask(t, '127.191.0.11', (n, socket) => {
    socket.write(n === 1 ? bad[task.connections.length - 1]! : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const mesh = await front(t, '127.191.0.11', task.port);
  for (let i = 0; i < bad.length; i++) {
    const reply = await send(mesh.port);
    t.equal(reply.status, 502, `answer ${i + 1}: 502`);
    t.match(reply.body.toString(), /task-1 of service web failed before answering \(its answer could not be read: /);
  }
  t.equal(task.connections.length, 3, 'each bad answer closed its connection');
  await waitFor('the bad connections to close', () => task.connections.every((socket) => socket.destroyed || socket.readableEnded), 2000);
  t.same(mesh.log, ['answered 502', 'answered 502', 'answered 502']);
});

t.test('bytes a task sends after its answer are never taken for the next request\'s answer', async (t) => {
  const smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled';
  const task = await rawTask(t, '127.191.0.12', (_n, socket) => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhonest${smuggled}`));
  const mesh = await front(t, '127.191.0.12', task.port);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 3; i++) t.equal((await send(mesh.port, { agent })).body.toString(), 'honest', `request ${i + 1} got its own answer`);
  t.equal(task.connections.length, 3, 'a connection that carried more than its answer is not used again');
});

t.test('big bodies both ways pass whole, at the pace of the slower side', async (t) => {
  const big = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const got = Buffer.concat(chunks);
      // Chunked back, in pieces, so the client's side fills up.
      for (let at = 0; at < got.length; at += 64 * 1024) response.write(got.subarray(at, at + 64 * 1024));
      response.end();
    });
  });
  const mesh = await front(t, '127.191.0.13', await listen(t, server, '127.191.0.13'));
  const sized = await send(mesh.port, { method: 'POST', headers: { 'content-length': big.length } }, big);
  t.ok(sized.body.equals(big), 'a body sent with Content-Length came back whole');
  const streamed = await deadline('the chunked echo', new Promise<Buffer>((resolve, reject) => {
    const request = http.request({ host: FRONT, port: mesh.port, method: 'PUT', agent: false }, (response) => {
      const chunks: Buffer[] = [];
      // A slow reader: paused a moment after each piece.
      response.on('data', (chunk: Buffer) => { chunks.push(chunk); response.pause(); setImmediate(() => response.resume()); });
      response.on('end', () => resolve(Buffer.concat(chunks)));
    });
    request.on('error', reject);
    for (let at = 0; at < big.length; at += 100_000) request.write(big.subarray(at, at + 100_000));
    request.end();
  }), 10_000);
  t.ok(streamed.equals(big), 'a chunked body came back whole to a slow reader');
  t.same(mesh.log, ['answered 200', 'answered 200']);
});

t.test('kept-alive task connections end before the task\'s own announced limit, and with their task', async (t) => {
  const task = await rawTask(t, '127.191.0.14', (_n, socket) => socket.write('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 2\r\n\r\nok'));
  const mesh = await front(t, '127.191.0.14', task.port);
  const sent = Date.now();
  t.equal((await send(mesh.port)).status, 200);
  const [first] = task.connections;
  await deadline('the mesh to close the idle connection', new Promise((resolve) => first!.once('end', resolve)), 3000);
  const idle = Date.now() - sent;
  t.ok(idle >= 400 && idle < 1000, `closed by the mesh within the task's 1 s (${idle}ms)`);

  t.equal((await send(mesh.port)).status, 200);
  const second = task.connections[1]!;
  t.equal(second.readableEnded, false, 'a new connection, open');
  mesh.forwarder.retire(mesh.target.pool.backends[0]!);
  await deadline('the retired task\'s connection to close', new Promise((resolve) => second.once('end', resolve)), 2000);
  t.pass('retiring a task closes its idle connection at once');
});
