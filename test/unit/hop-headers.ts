// The headers across the mesh's hop in http mode, as tables: what a task gets (the client's headers less
// hop-by-hop ones, plus who the client is, replaced unless the source is trusted) and what the client
// gets back (the task's less its hop-by-hop ones, their case kept).
import t from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { clientResponseHeaders, taskRequestHeaders } from '../../src/lb/hopHeaders.js';
import type { RequestOrigin } from '../../src/lb/hopHeaders.js';

const CLIENT: RequestOrigin = { address: '127.1.0.77', localPort: 8080, trusted: false, upgrade: false };

interface RequestRow {
  name: string;
  incoming: IncomingHttpHeaders;
  origin?: Partial<RequestOrigin>;
  /** Headers the task must get, exactly (undefined: must be absent). */
  expect: Record<string, string | undefined>;
}

const requestRows: RequestRow[] = [
  {
    name: 'a plain request gets who the client is',
    incoming: { host: 'web.example', accept: '*/*' },
    expect: {
      host: 'web.example', accept: '*/*', 'x-forwarded-for': '127.1.0.77', 'x-forwarded-proto': 'http',
      'x-forwarded-host': 'web.example', 'x-forwarded-port': '8080', forwarded: 'for=127.1.0.77;host=web.example;proto=http',
    },
  },
  {
    name: 'an untrusted client\'s own forwarding headers are replaced',
    incoming: { host: 'h', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil', 'x-forwarded-port': '1', forwarded: 'for=6.6.6.6' },
    expect: { 'x-forwarded-for': '127.1.0.77', 'x-forwarded-proto': 'http', 'x-forwarded-host': 'h', 'x-forwarded-port': '8080', forwarded: 'for=127.1.0.77;host=h;proto=http' },
  },
  {
    name: 'a trusted front\'s chain is kept and our hop appended; its proto, host and port stand',
    incoming: { host: 'h', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-port': '443', forwarded: 'for=203.0.113.9;proto=https' },
    origin: { trusted: true },
    expect: {
      'x-forwarded-for': '203.0.113.9, 127.1.0.77', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', 'x-forwarded-port': '443',
      forwarded: 'for=203.0.113.9;proto=https, for=127.1.0.77;host=h;proto=http',
    },
  },
  {
    name: 'hop-by-hop headers, and those Connection lists, stay on their hop',
    incoming: { host: 'h', connection: 'close, X-Secret', 'x-secret': '1', 'keep-alive': 'timeout=1', te: 'trailers', 'proxy-connection': 'keep-alive', upgrade: 'h2c', expect: '100-continue', 'proxy-authorization': 'Basic x' },
    expect: { 'x-secret': undefined, 'keep-alive': undefined, te: undefined, 'proxy-connection': undefined, upgrade: undefined, expect: undefined, 'proxy-authorization': undefined, connection: 'close, X-Secret' },
  },
  {
    name: 'a WebSocket upgrade keeps Upgrade and says ws',
    incoming: { host: 'h', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'k' },
    origin: { upgrade: true },
    expect: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'k', 'x-forwarded-proto': 'ws', forwarded: 'for=127.1.0.77;host=h;proto=ws' },
  },
  {
    name: 'an IPv6 client is bracketed and quoted in Forwarded',
    incoming: { host: 'h' },
    origin: { address: '::1' },
    expect: { 'x-forwarded-for': '::1', forwarded: 'for="[::1]";host=h;proto=http' },
  },
  {
    name: 'an IPv4-mapped address is shown as IPv4',
    incoming: { host: 'h' },
    origin: { address: '::ffff:127.1.0.9' },
    expect: { 'x-forwarded-for': '127.1.0.9', forwarded: 'for=127.1.0.9;host=h;proto=http' },
  },
  {
    name: 'no Host: Forwarded leaves host out',
    incoming: {},
    expect: { forwarded: 'for=127.1.0.77;proto=http', 'x-forwarded-host': '' },
  },
];

for (const row of requestRows) {
  t.test(`to the task: ${row.name}`, async (t) => {
    const incoming = structuredClone(row.incoming);
    const headers = taskRequestHeaders(incoming, { ...CLIENT, ...row.origin });
    for (const [name, value] of Object.entries(row.expect)) t.equal(headers[name], value, name);
    t.same(incoming, row.incoming, 'the incoming headers are left as they were');
  });
}

t.test('to the client: the task\'s hop-by-hop headers are dropped, the rest kept in order and case', async (t) => {
  const raw = [
    'Content-Type', 'text/plain', 'Connection', 'keep-alive, X-Internal', 'Keep-Alive', 'timeout=5', 'X-Internal', 'secret',
    'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Upgrade', 'h2c', 'Trailer', 'Expires', 'ETag', '"v1"',
  ];
  t.same(clientResponseHeaders(raw, 'keep-alive, X-Internal'), ['Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'ETag', '"v1"']);
  t.same(clientResponseHeaders([], undefined), []);
});
