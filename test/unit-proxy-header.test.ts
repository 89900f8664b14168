// PROXY protocol headers: what routemesh sends (v1 text, v2 binary, byte for byte against the spec's
// examples) and how a header at the start of a client's data is read, whole or in pieces.
import t from 'tap';
import { buildProxyHeader, readProxyHeader } from '../src/lb/index.js';

const V2_SIGNATURE = '0d0a0d0a000d0a515549540a';

t.test('v1 headers are the spec\'s text lines', async (t) => {
  const rows: [string, string, string][] = [
    ['127.0.0.5', '127.1.0.2', 'PROXY TCP4 127.0.0.5 127.1.0.2 4242 80\r\n'],
    ['::ffff:127.0.0.9', '127.1.0.2', 'PROXY TCP4 127.0.0.9 127.1.0.2 4242 80\r\n'],
    ['::1', '::1', 'PROXY TCP6 ::1 ::1 4242 80\r\n'],
    ['2001:db8::7', '127.1.0.2', 'PROXY TCP6 2001:db8::7 ::ffff:127.1.0.2 4242 80\r\n'],
  ];
  for (const [source, destination, expected] of rows) {
    t.equal(buildProxyHeader('v1', { address: source, port: 4242 }, { address: destination, port: 80 }).toString('latin1'), expected, `${source} -> ${destination}`);
  }
});

t.test('v2 headers: signature, PROXY over TCP, addresses and ports in network order', async (t) => {
  const v4 = buildProxyHeader('v2', { address: '127.0.0.5', port: 4242 }, { address: '127.1.0.2', port: 80 });
  t.equal(v4.toString('hex'), `${V2_SIGNATURE}2111000c7f0000057f01000210920050`, 'IPv4: 0x21 (v2, PROXY), 0x11 (INET, STREAM), 12 bytes');
  const v6 = buildProxyHeader('v2', { address: '2001:db8::7', port: 4242 }, { address: '::1', port: 80 });
  t.equal(v6.toString('hex'), `${V2_SIGNATURE}21210024${'20010db8000000000000000000000007'}${'00000000000000000000000000000001'}10920050`, 'IPv6: 0x21 (INET6, STREAM), 36 bytes');
});

t.test('reading a header back, with what follows left alone', async (t) => {
  for (const version of ['v1', 'v2'] as const) {
    for (const source of ['127.0.0.5', '2001:db8::7']) {
      const header = buildProxyHeader(version, { address: source, port: 4242 }, { address: '127.1.0.2', port: 80 });
      const read = readProxyHeader(Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\n')]));
      t.same(read, { kind: 'header', length: header.length, source: { address: source, port: 4242 } }, `${version} from ${source}`);
      // Split anywhere, the header is waited for; whole, it is read.
      const waits = [...Array(header.length).keys()].slice(1).every((n) => readProxyHeader(header.subarray(0, n)).kind === 'incomplete');
      t.ok(waits, `${version} from ${source}: every prefix is incomplete`);
    }
  }
});

t.test('what is not a header, or a broken one', async (t) => {
  const rows: [string, Buffer, string][] = [
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), 'none'],
    ['a POST (starts with P)', Buffer.from('POST / HTTP/1.1\r\n'), 'none'],
    ['empty', Buffer.alloc(0), 'none'],
    ['v1 with a bad address', Buffer.from('PROXY TCP4 nowhere 127.0.0.1 1 2\r\n'), 'invalid'],
    ['v1 with no end in 107 bytes', Buffer.from(`PROXY TCP4 ${'1'.repeat(120)}`), 'invalid'],
    ['v1 UNKNOWN (a health check): a header with no client', Buffer.from('PROXY UNKNOWN\r\n'), 'header'],
    ['v2 with a bad version', Buffer.from(`${V2_SIGNATURE}3111000c7f0000057f01000210920050`, 'hex'), 'invalid'],
    ['v2 LOCAL: a header with no client', Buffer.from(`${V2_SIGNATURE}20000000`, 'hex'), 'header'],
  ];
  for (const [name, data, kind] of rows) {
    const read = readProxyHeader(data);
    t.equal(read.kind, kind, name);
    if (read.kind === 'header') t.equal(read.source, undefined, `${name}: no source`);
  }
});
