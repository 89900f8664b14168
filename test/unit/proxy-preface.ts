// What reaches a task ahead of a client's bytes, on real sockets: nothing or our PROXY header; a trusted
// proxy's header read (whole or in pieces) and passed on as ours; anyone else's refused, also when it is
// cut short by a half-close or by silence.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { pipeWithPreface } from '../../src/lb/proxyPreface.js';
import type { PrefaceOptions } from '../../src/lb/proxyPreface.js';
import { buildProxyHeader, readProxyHeader } from '../../src/lb/index.js';

const HOST = '127.225.0.1';
const CLIENT = '127.225.0.9';

interface Run {
  /** What the task received, once its side closed. */
  received: Promise<Buffer>;
  /** The first bytes the task received. */
  first: Promise<Buffer>;
  /** Why the client was refused, if it was. */
  refusal: Promise<string | undefined>;
  client: net.Socket;
}

/** A task, and a front that hands each connection to pipeWithPreface toward it. */
async function run(t: Test, options: PrefaceOptions): Promise<Run> {
  let gotBytes: (bytes: Buffer) => void = () => {};
  const received = new Promise<Buffer>((resolve) => { gotBytes = resolve; });
  let gotFirst: (bytes: Buffer) => void = () => {};
  const first = new Promise<Buffer>((resolve) => { gotFirst = resolve; });
  const task = net.createServer({ allowHalfOpen: true }, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => { chunks.push(chunk); gotFirst(chunk); });
    socket.on('end', () => socket.end());
    socket.on('close', () => gotBytes(Buffer.concat(chunks)));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => task.listen(0, HOST, resolve));
  // Stops listening at once; the connections go with the client, closed below.
  t.teardown(() => { task.close(); });
  let refused: (reason: string | undefined) => void = () => {};
  const refusal = new Promise<string | undefined>((resolve) => { refused = resolve; });
  const front = net.createServer({ allowHalfOpen: true }, (socket) => {
    const upstream = net.connect({ host: HOST, port: (task.address() as net.AddressInfo).port, allowHalfOpen: true });
    upstream.on('error', () => {});
    socket.on('error', () => {});
    upstream.on('connect', () => pipeWithPreface(socket, upstream, { sniffTimeoutMs: 150, ...options }, (reason) => {
      refused(reason);
      socket.destroy();
      upstream.destroy();
    }));
    upstream.on('close', () => { refused(undefined); socket.destroy(); });
  });
  await new Promise<void>((resolve) => front.listen(0, HOST, resolve));
  t.teardown(() => { front.close(); });
  const client = net.connect({ host: HOST, port: (front.address() as net.AddressInfo).port, localAddress: CLIENT, allowHalfOpen: true });
  t.teardown(() => client.destroy());
  await new Promise((resolve, reject) => { client.once('connect', resolve); client.once('error', reject); });
  client.on('error', () => {});
  return { received, first, refusal, client };
}

const header = (source: string, port = 5555): Buffer => buildProxyHeader('v1', { address: source, port }, { address: HOST, port: 80 });

t.test('untrusted, no PROXY protocol: bytes pass as they are', async (t) => {
  const { client, received, refusal } = await run(t, { trusted: false });
  client.end('GET / HTTP/1.1\r\n\r\n');
  t.equal((await received).toString(), 'GET / HTTP/1.1\r\n\r\n');
  t.equal(await refusal, undefined);
});

t.test('untrusted, no PROXY protocol: a PROXY header is refused, whole or in pieces, before the task sees a byte', async (t) => {
  for (const pieces of [[header('6.6.6.6')], [header('6.6.6.6').subarray(0, 9), header('6.6.6.6').subarray(9)]]) {
    const { client, received, refusal } = await run(t, { trusted: false });
    for (const piece of pieces) client.write(piece);
    t.match(await refusal, /a PROXY header from 127\.225\.0\.9, which is not a trusted proxy/);
    t.equal((await received).length, 0, `${pieces.length} piece(s): nothing reached the task`);
  }
});

t.test('untrusted: the start of a header cut short by a half-close, or by silence, is refused', async (t) => {
  const cut = await run(t, { trusted: false });
  cut.client.end('PROXY TCP4 6.6');
  t.equal(await cut.refusal, 'an unfinished PROXY header');
  t.equal((await cut.received).length, 0);
  const silent = await run(t, { trusted: false });
  silent.client.write('P');
  t.equal(await silent.refusal, 'the start of a PROXY header, then silence');
  t.equal((await silent.received).length, 0);
});

t.test('untrusted with v1: our header names the client; what the client sends after is only data', async (t) => {
  const { client, received } = await run(t, { trusted: false, proxyProtocol: 'v1' });
  client.end(Buffer.concat([header('6.6.6.6'), Buffer.from('hello')]));
  const bytes = await received;
  const ours = readProxyHeader(bytes);
  t.match(ours, { kind: 'header', source: { address: CLIENT } }, 'the first header is ours, naming the real client');
  t.equal(bytes.subarray(ours.kind === 'header' ? ours.length : 0).toString(), `${header('6.6.6.6').toString()}hello`, 'the spoof follows as plain data');
});

t.test('trusted with v2: the proxy\'s header, even in pieces, becomes ours for the task', async (t) => {
  const { client, received } = await run(t, { trusted: true, proxyProtocol: 'v2' });
  const theirs = header('203.0.113.7', 4444);
  client.write(theirs.subarray(0, 20));
  client.end(Buffer.concat([theirs.subarray(20), Buffer.from('hello')]));
  const bytes = await received;
  const read = readProxyHeader(bytes);
  t.same(read, { kind: 'header', length: 28, source: { address: '203.0.113.7', port: 4444 } }, 'a v2 header naming the client behind the proxy');
  t.equal(bytes.subarray(28).toString(), 'hello');
});

t.test('trusted, silent: after the wait our header names the proxy itself (a server that speaks first gets going)', async (t) => {
  const { first } = await run(t, { trusted: true, proxyProtocol: 'v1' });
  // Nothing is sent; the header must come anyway once the wait (150 ms here) is over.
  t.match(readProxyHeader(await first), { kind: 'header', source: { address: CLIENT } });
});

t.test('trusted: a malformed header is refused', async (t) => {
  const { client, refusal, received } = await run(t, { trusted: true, proxyProtocol: 'v1' });
  client.write('PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n');
  t.match(await refusal, /a malformed PROXY header \(a v1 header with a port out of range/);
  t.equal((await received).length, 0);
});
