// The embedded DNS server against bad input over real sockets. The requirement: "malformed, truncated or
// random packets, compression loops, oversize queries - the server answers FORMERR or drops them and
// keeps serving".
//
// The kinds of packet dns-fuzz.test.ts gives respond() (random, mutated, hostile), now over real UDP and
// TCP sockets: garbage frames, length prefixes that lie, a prefix and then silence, responses, pipelined
// queries; after which good queries on both transports are still answered. (The TCP connection caps and
// timeouts have their own file: dns-tcp-limits.test.ts.)
//
// Deterministic: everything random comes from one seeded PRNG (printed; DNS_FUZZ_SEED=<n> reruns with
// another), and every failure names the packet in hex.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { FrameReader } from '../src/vip-dns/tcpFrames.js';
import { dnsQuery } from './support/dns.js';
import {
  HUNG, KNOWN_RCODES, TYPE, aAddresses, askUdpRetrying, blast, fuzzSeed, hex, hostileCases, malformation, mutationCases, prng,
  query, randomCases, seedQueries, startServer, u16, udpSocket, wireName, within,
} from './support/dnsFuzz.js';

const SEED = fuzzSeed(t, 'dns-fuzz-sockets');

// Our loopback addresses (of 127.215.0.0/16; the other files of the block have others): servers, then
// the clients' address.
const SOCKETS = '127.215.0.2';
const CLIENT = '127.215.0.10';

/** A DNS-over-TCP frame: the message behind its length, or behind a `declared` length that lies. */
function frame(message: Buffer, declared = message.length): Buffer {
  return Buffer.concat([u16(declared), message]);
}

interface TcpConn {
  socket: net.Socket;
  /** The next whole answer, or undefined when the connection closed (or nothing came in `ms`). */
  next(ms?: number): Promise<Buffer | undefined>;
  closed: Promise<void>;
  isClosed(): boolean;
  ask(message: Buffer, ms?: number): Promise<Buffer | undefined>;
}

/** A TCP client on CLIENT that cuts what it receives into messages; destroyed at teardown. */
function tcpConnect(t: Test, host: string, port: number): TcpConn {
  const socket = net.connect({ host, port, localAddress: CLIENT });
  t.teardown(() => { socket.destroy(); });
  const reader = new FrameReader();
  const frames: Buffer[] = [];
  let wake: (() => void) | undefined;
  let isClosed = false;
  const poke = () => { const w = wake; wake = undefined; w?.(); };
  const closed = new Promise<void>((resolve) => socket.on('close', () => { isClosed = true; resolve(); poke(); }));
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    reader.push(chunk);
    for (let message = reader.next(); message; message = reader.next()) frames.push(message);
    poke();
  });
  const next = async (ms = 5000): Promise<Buffer | undefined> => {
    const deadline = performance.now() + ms;
    while (!frames.length && !isClosed && performance.now() < deadline) {
      const timer = setTimeout(poke, Math.max(1, deadline - performance.now()));
      await new Promise<void>((resolve) => { wake = resolve; });
      clearTimeout(timer);
    }
    return frames.shift();
  };
  return {
    socket,
    next,
    closed,
    isClosed: () => isClosed,
    ask: (message, ms) => { socket.write(frame(message)); return next(ms); },
  };
}

t.test('over real sockets: garbage over UDP and TCP, then good queries are still answered', async (t) => {
  const rng = prng(SEED ^ 0x2);
  const { server, log } = await startServer(t, SOCKETS, { tcpIdleMs: 400, tcpQueryReadMs: 400 });
  const { port } = server;

  // A corpus like the one respond() saw: hostile, random, mutated; IDs below 0xf000 (ours are above).
  const corpus: Buffer[] = [...hostileCases().map((c) => c.packet).filter((p) => p.length <= 1500), ...randomCases(rng, 60).map((c) => c.packet)];
  for (const seed of seedQueries()) for (const cases of mutationCases(rng, seed.label, seed.packet).values()) corpus.push(...cases.map((c) => c.packet).filter(() => rng.chance(0.02)));
  for (const p of corpus) if (p.length >= 1) p[0]! &= 0xef;

  t.test('UDP: a few hundred bad packets, each reply well-formed, then a good query', async (t) => {
    const socket = await udpSocket(t, CLIENT);
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    const { sent, errors } = await blast(socket, SOCKETS, port, corpus, 16);
    const good = await askUdpRetrying(socket, SOCKETS, port, dnsQuery('web', TYPE.A, 0xf001));
    t.same(aAddresses(good), ['10.0.0.2'], `after ${sent} bad packets (${errors} send errors): A web is still the VIP`);
    const problems: string[] = [];
    const ids = new Set(corpus.filter((p) => p.length >= 2).map((p) => p.readUInt16BE(0)));
    for (const reply of replies) {
      if (reply.readUInt16BE(0) === 0xf001) continue;
      const broken = reply.length < 12 ? 'short' : malformation(reply);
      if (broken) problems.push(`${hex(reply)}: ${broken}`);
      else if (!(reply[2]! & 0x80) || !KNOWN_RCODES.has(reply[3]! & 0xf)) problems.push(`${hex(reply)}: not a response with a known rcode`);
      else if (!ids.has(reply.readUInt16BE(0))) problems.push(`${hex(reply)}: an ID nobody sent`);
      else if (reply.length > 1232) problems.push(`${hex(reply)}: ${reply.length} bytes over UDP`);
    }
    t.same(problems.slice(0, 10), [], `${replies.length} replies, all well-formed responses to IDs we sent`);
  });

  t.test('UDP: responses (QR=1) are never answered', async (t) => {
    const socket = await udpSocket(t, CLIENT);
    const received: Buffer[] = [];
    socket.on('message', (m) => received.push(m));
    const responses = corpus.filter((p) => p.length >= 12).slice(0, 200).map((p) => { const r = Buffer.from(p); r[2]! |= 0x80; return r; });
    await blast(socket, SOCKETS, port, responses, 16);
    // The server reads its socket in order: once this is answered, every response before it was read.
    await askUdpRetrying(socket, SOCKETS, port, dnsQuery('web', TYPE.A, 0xf002));
    t.same(received.filter((m) => m.readUInt16BE(0) !== 0xf002).map(hex), [], `${responses.length} responses sent, none answered`);
  });

  t.test('TCP: garbage frames and lying length prefixes', async (t) => {
    const conns: { conn: TcpConn; ids: Set<number>; what: string }[] = [];
    for (let i = 0; i < 40; i++) {
      const conn = tcpConnect(t, SOCKETS, port);
      const parts: Buffer[] = [];
      const ids = new Set<number>();
      const frames = 1 + rng.int(6);
      for (let f = 0; f < frames; f++) {
        const p = rng.pick(corpus);
        if (p.length >= 2) ids.add(p.readUInt16BE(0));
        parts.push(frame(p));
      }
      const tail = rng.int(3);
      // A frame of noise whose prefix claims more than follows; or plain noise; or nothing.
      if (tail === 0) parts.push(frame(rng.bytes(rng.int(40)), 100 + rng.int(60000)));
      if (tail === 1) parts.push(rng.bytes(1 + rng.int(50)));
      const bytes = Buffer.concat(parts);
      conn.socket.end(bytes);
      conns.push({ conn, ids, what: hex(bytes) });
    }
    const problems: string[] = [];
    let answers = 0;
    for (const { conn, ids, what } of conns) {
      if ((await within(conn.closed, 5000)) === HUNG) problems.push(`not closed 5 s after the client's FIN: ${what}`);
      for (let reply = await conn.next(0); reply; reply = await conn.next(0)) {
        answers++;
        const broken = malformation(reply);
        if (broken || !(reply[2]! & 0x80) || !ids.has(reply.readUInt16BE(0))) problems.push(`reply ${hex(reply)} to ${what}: ${broken ?? 'not a response to an ID sent'}`);
      }
    }
    t.same(problems.slice(0, 10), [], `40 connections of garbage closed by the server after the client's FIN; ${answers} replies, all well-formed`);
  });

  t.test('TCP: a length prefix larger than the data, then FIN', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    conn.socket.end(frame(dnsQuery('web', TYPE.A, 0xf003), 500));
    t.not(await within(conn.closed, 5000), HUNG, 'the server closes its side');
    t.equal(await conn.next(0), undefined, 'and answers nothing');
  });

  t.test('TCP: a 2-byte prefix, then silence', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    conn.socket.write(u16(0x20));
    const start = performance.now();
    t.not(await within(conn.closed, 5000), HUNG, 'closed by the query read timeout (tcpQueryReadMs 400)');
    t.comment(`closed after ${(performance.now() - start).toFixed(0)} ms`);
  });

  t.test('TCP: a 64 KiB message, then a good query on the same connection', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    const big = Buffer.concat([query(0xf004, wireName('web'), TYPE.A), Buffer.alloc(65535 - 21)]);
    const reply = await conn.ask(big);
    t.ok(reply && reply.length === 12 && (reply[3]! & 0xf) === 1 && reply.readUInt16BE(0) === 0xf004, 'a bare FORMERR', { reply: reply && hex(reply) });
    // The next query delivered a byte at a time: the framing survives any cut.
    const good = frame(dnsQuery('web', TYPE.A, 0xf005));
    for (const byte of good) conn.socket.write(Buffer.from([byte]));
    t.same(aAddresses(await conn.next()), ['10.0.0.2'], 'then A web, sent a byte at a time, is answered');
  });

  t.test('TCP: responses, and messages shorter than a header, end the connection', async (t) => {
    for (const [what, message] of [['a response', (() => { const r = dnsQuery('web', TYPE.A, 0xf006); r[2]! |= 0x80; return r; })()], ['5 bytes', Buffer.alloc(5)], ['0 bytes', Buffer.alloc(0)]] as const) {
      const conn = tcpConnect(t, SOCKETS, port);
      conn.socket.write(frame(message));
      t.not(await within(conn.closed, 5000), HUNG, `${what}: the server closes the connection`);
      t.equal(await conn.next(0), undefined, `${what}: unanswered`);
    }
  });

  t.test('TCP: 100 pipelined queries in one write are all answered', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    conn.socket.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(dnsQuery(i % 2 ? 'web' : 'example.org', TYPE.A, 0xf100 + i)))));
    const ids = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const reply = await conn.next();
      if (!reply) break;
      ids.add(reply.readUInt16BE(0));
    }
    t.equal(ids.size, 100, '100 distinct answers');
  });

  t.test('afterwards, good queries over both transports', async (t) => {
    const socket = await udpSocket(t, CLIENT);
    t.same(aAddresses(await askUdpRetrying(socket, SOCKETS, port, dnsQuery('tasks.web', TYPE.A, 0xf007))), ['10.0.1.3', '10.0.1.4'], 'UDP: A tasks.web');
    const conn = tcpConnect(t, SOCKETS, port);
    t.same(aAddresses(await conn.ask(dnsQuery('web.front', TYPE.A, 0xf008))), ['10.0.0.2'], 'TCP: A web.front');
    t.same(log, [], 'nothing logged');
  });
});
