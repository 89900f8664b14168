// The forwarder against forged answers (RFC 5452): each upstream query leaves from a port of its own, on a
// socket bound to a loopback address and closed once done, with an ID of its own; an answer is taken only
// from the upstream asked, to that port, with that ID and our question, and anything else leaves the wait
// going. The sockets' own addresses are read from /proc/net/udp (Linux, as all of routemesh's 127/8).
//
// Loopback addresses: servers 127.62.0.x, the client 127.62.0.200, upstreams and forgers 127.62.1.x.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { Packet } from 'dns2';
import { FrameReader, frame } from '../src/vip-dns/tcpFrames.js';
import { askTcp, askUdp, dnsQuery, fakeUpstream, until } from './support/dns.js';
import { TYPE, aAddresses, startServer } from './support/dnsFuzz.js';

const CLIENT = '127.62.0.200';
const REAL = '192.0.2.1';
const FORGED = '192.0.2.66';

/** The local addresses of the host's IPv4 UDP sockets bound to `port`. */
function udpSocketsOn(port: number): string[] {
  const addresses: string[] = [];
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const [hexAddress, hexPort] = (line.trim().split(/\s+/)[1] ?? '').split(':');
    if (!hexAddress || Number.parseInt(hexPort ?? '', 16) !== port) continue;
    const n = Number.parseInt(hexAddress, 16);
    addresses.push([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.'));
  }
  return addresses;
}

/** A UDP socket bound on `address` (port `port`, else the kernel's choice), closed when the test ends. */
async function udpOn(t: Test, address: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(port, address, () => { socket.off('error', reject); resolve(); }); });
  return socket;
}

/** An answer to `raw` with this ID and question name, holding one A record of `address`. */
function answerTo(raw: Buffer, id: number, name: string, address: string): Buffer {
  const request = Packet.parse(raw);
  const response = Packet.createResponseFromRequest(request);
  response.header.id = id;
  response.header.ra = 1;
  response.questions = [{ ...request.questions[0]!, name }];
  response.answers.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 42, address } as (typeof response.answers)[number]);
  return response.toBuffer();
}

t.test('UDP: every forwarded query leaves from a port of its own, on a socket bound to a loopback address and closed once done', async (t) => {
  const upstream = await fakeUpstream(t, '127.62.1.1', 'answer', REAL);
  const { server } = await startServer(t, '127.62.0.1', { upstreams: [upstream] });
  const n = 30;
  for (let i = 0; i < n; i++) {
    const reply = await server.respond(dnsQuery(`host${i}.example`, TYPE.A, i), 'udp');
    if (aAddresses(reply)[0] !== REAL) t.fail(`query ${i} got the upstream's answer`);
  }
  const ports = new Set(upstream.queries.map((q) => q.from.port));
  // The kernel draws each ephemeral port at random from about 28,000: a repeat or two is chance.
  t.ok(ports.size >= n - 3, `${n} forwarded queries came from ${ports.size} source ports`);
  t.ok(upstream.queries.every((q) => q.from.address.startsWith('127.')), `from 127/8 (${[...new Set(upstream.queries.map((q) => q.from.address))].join(', ')})`);
  const ids = upstream.queries.map((q) => q.id);
  t.ok(ids.some((id, i) => id !== i), 'with IDs of the forwarder\'s, not the client\'s');

  const silent = await fakeUpstream(t, '127.62.1.2', 'silent');
  const { server: waiting } = await startServer(t, '127.62.0.2', { upstreams: [silent], forwardTimeoutMs: 500 });
  const answer = waiting.respond(dnsQuery('wait.example', TYPE.A, 0x0202), 'udp');
  await until('the query to reach the upstream', () => silent.queries.length > 0);
  const { port } = silent.queries[0]!.from;
  const bound = udpSocketsOn(port);
  t.ok(bound.includes('127.0.0.1') && !bound.includes('0.0.0.0'), `while it waits, its socket is bound to 127.0.0.1, not 0.0.0.0 (sockets on port ${port}: ${bound.join(', ')})`);
  t.equal((await answer)![3]! & 0xf, 2, 'SERVFAIL after the timeout');
  await until(`the socket on port ${port} to close`, () => !udpSocketsOn(port).some((address) => address === '127.0.0.1' || address === '0.0.0.0'), 2000).then(() => t.pass('then the socket is closed'), (error: Error) => t.fail(error.message));
});

t.test('UDP: forged answers (another ID, another question, another port or address) are ignored, and the real one still comes through', async (t) => {
  const upstream = await udpOn(t, '127.62.1.3');
  const { port } = upstream.address();
  const otherPort = await udpOn(t, '127.62.1.3');
  const otherAddress = await udpOn(t, '127.62.1.4', port);
  upstream.on('message', (raw, from) => {
    const { id } = Packet.parse(raw).header;
    const send = (socket: dgram.Socket, message: Buffer): Promise<void> => new Promise((resolve) => socket.send(message, from.port, from.address, () => resolve()));
    void (async () => {
      await send(upstream, answerTo(raw, id ^ 0x5555, 'asked.example', FORGED));
      await send(upstream, answerTo(raw, id, 'other.example', FORGED));
      await send(otherPort, answerTo(raw, id, 'asked.example', FORGED));
      await send(otherAddress, answerTo(raw, id, 'asked.example', FORGED));
      // The real answer may spell the name in another case (0x20 randomisation does): it is the same name.
      await send(upstream, answerTo(raw, id, 'ASKED.Example', REAL));
    })();
  });
  const { server } = await startServer(t, '127.62.0.3', { upstreams: [{ address: '127.62.1.3', port }], forwardTimeoutMs: 2000 });
  const { reply } = await askUdp(t, CLIENT, server, dnsQuery('asked.example', TYPE.A, 0x0303));
  t.equal(reply.header.id, 0x0303, 'the client\'s ID');
  t.same(reply.answers.map((r) => r.address), [REAL], 'the real answer, not a forged one');
});

t.test('TCP: an answer with another ID or question is skipped for the one that answers the query, and the upstream sees IDs of the forwarder\'s', async (t) => {
  const seen: number[] = [];
  const upstream = net.createServer((socket) => {
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let raw = reader.next(); raw; raw = reader.next()) {
        const { id } = Packet.parse(raw).header;
        seen.push(id);
        socket.end(Buffer.concat([
          frame(answerTo(raw, id ^ 0x5555, 'asked.example', FORGED)),
          frame(answerTo(raw, id, 'other.example', FORGED)),
          frame(answerTo(raw, id, 'asked.example', REAL)),
        ]));
      }
    });
  });
  t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));
  await new Promise<void>((resolve) => upstream.listen(0, '127.62.1.5', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const { server } = await startServer(t, '127.62.0.5', { upstreams: [{ address: '127.62.1.5', port }], forwardTimeoutMs: 2000 });
  const clientIds = [0x0501, 0x0502, 0x0503];
  for (const id of clientIds) {
    const { reply } = await askTcp(t, server, dnsQuery('asked.example', TYPE.A, id));
    t.equal(reply.header.id, id, 'the client\'s ID');
    t.same(reply.answers.map((r) => r.address), [REAL], 'the answer to the query, not the frames before it');
  }
  t.notSame(seen, clientIds, `the upstream saw IDs of the forwarder's (${seen.map((id) => id.toString(16)).join(', ')})`);
});

t.test('UDP: an upstream with nothing listening fails over at once, not after the timeout', async (t) => {
  const gone = await (async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.62.1.6', resolve));
    const { port } = socket.address();
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return { address: '127.62.1.6', port };
  })();
  const good = await fakeUpstream(t, '127.62.1.7', 'answer', REAL);
  const { server } = await startServer(t, '127.62.0.6', { upstreams: [gone, good], forwardTimeoutMs: 3000 });
  const { reply, ms } = await askUdp(t, CLIENT, server, dnsQuery('refused.example', TYPE.A, 0x0606));
  t.same(reply.answers.map((r) => r.address), [REAL], 'the second upstream answers');
  t.ok(ms < 1500, `in ${ms.toFixed(0)} ms: the port unreachable ended the first try, not the 3 s timeout`);
});
