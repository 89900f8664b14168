// PROXY protocol headers: what routemesh sends (v1 text, v2 binary, byte for byte against the spec's
// examples) and how a header at the start of a client's data is read, whole or in pieces.
import t from 'tap';
import { buildProxyHeader, readProxyHeader } from '../../src/lb/index.js';

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

t.test('routemesh\'s own builder: known-good bytes for IPv4, IPv6 in its every text form, mapped and mixed families', async (t) => {
  const v1: [string, number, string, number, string][] = [
    ['192.168.0.1', 56324, '192.168.0.11', 443, 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'],
    ['255.255.255.255', 65535, '0.0.0.0', 0, 'PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n'],
    ['fe80::1:2:3:4', 1, '2001:db8:1:2:3:4:5:6', 2, 'PROXY TCP6 fe80::1:2:3:4 2001:db8:1:2:3:4:5:6 1 2\r\n'],
    ['2001:db8::', 1000, '::ffff:10.0.0.1', 22, 'PROXY TCP6 2001:db8:: ::ffff:10.0.0.1 1000 22\r\n'],
  ];
  for (const [source, sourcePort, destination, destinationPort, expected] of v1) {
    const built = buildProxyHeader('v1', { address: source, port: sourcePort }, { address: destination, port: destinationPort });
    t.equal(built.toString('latin1'), expected, `v1 ${source} -> ${destination}`);
  }
  // Expected bytes from Python's ipaddress module (packed addresses, struct '>H' ports), not from this code.
  const v2: [string, number, string, number, string][] = [
    ['192.168.0.1', 56324, '192.168.0.11', 443, '2111000cc0a80001c0a8000bdc0401bb'],
    ['255.255.255.255', 65535, '0.0.0.0', 0, '2111000cffffffff00000000ffff0000'],
    ['::ffff:127.0.0.9', 5, '127.1.0.2', 6, '2111000c7f0000097f01000200050006'],
    ['fe80::1:2:3:4', 1, '2001:db8:1:2:3:4:5:6', 2, '21210024fe80000000000000000100020003000420010db800010002000300040005000600010002'],
    ['::', 0, '::1', 80, '21210024000000000000000000000000000000000000000000000000000000000000000100000050'],
    ['2001:db8::', 1000, '::ffff:10.0.0.1', 22, '2121002420010db800000000000000000000000000000000000000000000ffff0a00000103e80016'],
    ['2001:db8::7', 4242, '127.1.0.2', 80, '2121002420010db800000000000000000000000700000000000000000000ffff7f01000210920050'],
  ];
  for (const [source, sourcePort, destination, destinationPort, expected] of v2) {
    const built = buildProxyHeader('v2', { address: source, port: sourcePort }, { address: destination, port: destinationPort });
    t.equal(built.toString('hex'), `${V2_SIGNATURE}${expected}`, `v2 ${source} -> ${destination}`);
  }
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
