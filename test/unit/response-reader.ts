// The mesh's reader of a task's answers in http mode (src/lb/ResponseReader.ts, responseHead.ts,
// ChunkedDecoder.ts), without sockets: each framing of RFC 9112 §6.3 ends where the task meant, in one
// piece or a byte at a time; an answer the mesh cannot read exactly is an error, never a guess; and a
// connection is reusable only after a framed answer that nothing followed.
import t from 'tap';
import { ResponseReader } from '../../src/lb/ResponseReader.js';
import type { ResponseHead } from '../../src/lb/responseHead.js';

interface Read {
  head?: ResponseHead;
  body: string;
  ended: boolean;
  reusable: boolean;
  reader: ResponseReader;
}

/** Feeds `answer` to a new reader whole, or byte by byte, for a request with `method`. */
function read(answer: string, { method = 'GET', bytewise = false, close = false } = {}): Read {
  const reader = new ResponseReader();
  const result: Read = { body: '', ended: false, reusable: false, reader };
  reader.start(method, {
    head: (head) => { result.head = head; },
    body: (piece) => { result.body += piece.toString('latin1'); },
    end: () => { result.ended = true; },
  });
  const bytes = Buffer.from(answer, 'latin1');
  if (bytewise) for (let i = 0; i < bytes.length; i++) reader.read(bytes.subarray(i, i + 1));
  else if (bytes.length > 0) reader.read(bytes);
  if (close) reader.closed();
  result.reusable = reader.reusable;
  return result;
}

const OK = 'HTTP/1.1 200 OK\r\n';

t.test('each framing ends where the task meant, whole or a byte at a time', async (t) => {
  const cases: { name: string; answer: string; method?: string; close?: boolean; body: string; reusable: boolean }[] = [
    { name: 'Content-Length', answer: `${OK}Content-Length: 5\r\n\r\nhello`, body: 'hello', reusable: true },
    { name: 'Content-Length 0', answer: `${OK}Content-Length: 0\r\n\r\n`, body: '', reusable: true },
    { name: 'chunked, with extensions and trailers', answer: `${OK}Transfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Sum: 1\r\n\r\n`, body: 'hello, world!!!', reusable: true },
    { name: 'a HEAD answer with a length but no body', answer: `${OK}Content-Length: 5\r\n\r\n`, method: 'HEAD', body: '', reusable: true },
    { name: '204', answer: 'HTTP/1.1 204 No Content\r\n\r\n', body: '', reusable: true },
    { name: '304 with a length', answer: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n', body: '', reusable: true },
    { name: 'interim 100 and 103 dropped', answer: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`, body: 'ok', reusable: true },
    { name: 'until the close', answer: `${OK}\r\nall of it`, close: true, body: 'all of it', reusable: false },
    { name: 'Connection: close', answer: `${OK}Connection: close\r\nContent-Length: 2\r\n\r\nok`, body: 'ok', reusable: false },
    { name: 'HTTP/1.0 without keep-alive', answer: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', body: 'ok', reusable: false },
    { name: 'HTTP/1.0 with keep-alive', answer: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok', body: 'ok', reusable: true },
    { name: 'chunked beside a Content-Length: chunked wins, not reused', answer: `${OK}Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n`, body: 'ok', reusable: false },
    { name: 'a coding other than chunked last: until the close', answer: `${OK}Transfer-Encoding: gzip\r\n\r\nzz`, close: true, body: 'zz', reusable: false },
    { name: 'two equal lengths', answer: `${OK}Content-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok`, body: 'ok', reusable: true },
  ];
  for (const { name, answer, method, close, body, reusable } of cases) {
    for (const bytewise of [false, true]) {
      const got = read(answer, { method, close, bytewise });
      const how = `${name}${bytewise ? ', byte by byte' : ''}`;
      t.equal(got.body, body, `${how}: the body`);
      t.ok(got.ended, `${how}: ended`);
      t.equal(got.reusable, reusable, `${how}: ${reusable ? '' : 'not '}reusable`);
    }
  }
});

t.test('the head: status, reason, headers as sent, Keep-Alive\'s timeout', async (t) => {
  const { head } = read('HTTP/1.1 404 Not Here\r\nX-A: 1\r\nkeep-alive: timeout=5, max=100\r\nX-Space:   padded \t\r\nContent-Length: 0\r\n\r\n');
  t.equal(head?.status, 404);
  t.equal(head?.reason, 'Not Here');
  t.same(head?.rawHeaders, ['X-A', '1', 'keep-alive', 'timeout=5, max=100', 'X-Space', 'padded', 'Content-Length', '0']);
  t.equal(head?.idleTimeoutMs, 5000);
  t.equal(read(`HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n`).head?.reason, '', 'a status line without a reason');
});

t.test('what cannot be read exactly is an error saying what is wrong', async (t) => {
  const bad: [string, string, RegExp][] = [
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n', /status line/],
    ['HTTP/2 in an HTTP/1 status line', 'HTTP/2.0 200 OK\r\n\r\n', /status line/],
    ['a two-digit status', 'HTTP/1.1 20 OK\r\n\r\n', /status line/],
    ['a space before the colon', `${OK}Content-Length : 2\r\n\r\nok`, /"name: value"/],
    ['obs-fold', `${OK}X-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n`, /"name: value"/],
    ['a bare LF inside the head', `${OK}X-A: 1\nX-B: 2\r\n\r\n`, /control character|bare LF/],
    ['a NUL in a value', `${OK}X-A: a\0b\r\n\r\n`, /control character/],
    ['two different lengths', `${OK}Content-Length: 2\r\nContent-Length: 3\r\n\r\nok`, /Content-Length/],
    ['a negative length', `${OK}Content-Length: -1\r\n\r\n`, /Content-Length/],
    ['a length with a sign', `${OK}Content-Length: +2\r\n\r\nok`, /Content-Length/],
    ['a chunk size that is not hex', `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, /size in hex/],
    ['a chunk longer than its size', `${OK}Transfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n`, /longer than its size/],
    ['a chunk size with a space', `${OK}Transfer-Encoding: chunked\r\n\r\n2 \r\nok\r\n0\r\n\r\n`, /";" or CRLF/],
    ['a huge chunk size', `${OK}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n`, /2\^52 or more/],
    ['a bare LF after a chunk size', `${OK}Transfer-Encoding: chunked\r\n\r\n2\nok\r\n`, /CRLF/],
  ];
  for (const [name, answer, says] of bad) {
    t.throws(() => read(answer), says, name);
    t.throws(() => read(answer, { bytewise: true }), says, `${name}, byte by byte`);
  }
  t.throws(() => read(`${OK}X: ${'a'.repeat(17 * 1024)}`), /over 16 KiB/, 'a head that never ends is not buffered for ever');
  t.throws(() => read(`${OK}Content-Length: 5\r\n\r\nhel`, { close: true }), /in the middle of its answer/, 'a length-framed body cut by the close');
  t.throws(() => read('', { close: true }), /without answering/, 'a close before any byte');
});

t.test('bytes after a complete answer: the answer stands, the connection is not reused', async (t) => {
  const smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nsmuggled!';
  for (const answer of [`${OK}Content-Length: 2\r\n\r\nok${smuggled}`, `${OK}Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n${smuggled}`]) {
    const got = read(answer);
    t.equal(got.body, 'ok');
    t.ok(got.ended);
    t.equal(got.reusable, false);
  }
  // And when they come in a later packet, before the next request.
  const got = read(`${OK}Content-Length: 2\r\n\r\nok`);
  t.equal(got.reusable, true);
  got.reader.read(Buffer.from(smuggled));
  t.equal(got.reader.reusable, false, 'unasked bytes later make it unusable too');
});

t.test('a 101 hands over the bytes after its head', async (t) => {
  const got = read('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi');
  t.equal(got.head?.status, 101);
  t.equal(got.reader.rest?.toString('latin1'), '\x81\x02hi');
  t.equal(got.body, '');
});
