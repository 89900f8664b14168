// Test support for the embedded DNS server: the real `dig` as a child process (its output parsed),
// raw queries over UDP and TCP with IDs of our choosing, and fake upstream resolvers on loopback that
// answer, fail, refuse or stay silent as told. Every socket is closed when the test ends.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Test } from 'tap';
import { Packet } from 'dns2';
import type { Resource } from 'dns2';
import { FrameReader, frame } from '../../src/vip-dns/tcpFrames.js';

export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

export interface DigResult {
  status: string;
  flags: string[];
  answerCount: number;
  additionalCount: number;
  answer: DigRecord[];
  additional: DigRecord[];
  /** dig's whole output, for messages. */
  output: string;
}

/**
 * Runs the real dig against `server:port` (one try, 2 s) and parses its output. A test that calls it
 * starts with `requireTool(t, 'dig', 'dnsutils')` (support/tools.ts), so a missing dig skips it.
 */
export function dig(server: string, port: number, args: string[]): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${server}`, '-p', String(port), '+tries=1', '+time=2', ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error('dig is not installed (Debian: apt-get install bind9-dnsutils); the DNS tests need the real dig'));
      } else if (error) {
        reject(new Error(`dig ${args.join(' ')} failed (${error.message.trim()}):\n${stdout}${stderr}`));
      } else {
        resolve(parseDig(stdout));
      }
    });
  });
}

/** The last response dig printed (after a retry over TCP, only that one): header, flags, sections. */
export function parseDig(output: string): DigResult {
  const statuses = [...output.matchAll(/status: ([A-Z]+),/g)];
  const flagLines = [...output.matchAll(/^;; flags:([^;]*); QUERY: \d+, ANSWER: (\d+), AUTHORITY: \d+, ADDITIONAL: (\d+)/gm)];
  const flags = flagLines.at(-1);
  const section = (title: string): DigRecord[] => {
    const at = output.lastIndexOf(`;; ${title} SECTION:\n`);
    if (at < 0) return [];
    const lines = output.slice(at).split('\n').slice(1);
    const end = lines.findIndex((line) => line.trim() === '');
    return (end < 0 ? lines : lines.slice(0, end)).map(record);
  };
  const noall = !output.includes('->>HEADER<<-');
  return {
    status: statuses.at(-1)?.[1] ?? '',
    flags: flags ? flags[1]!.trim().split(/\s+/) : [],
    answerCount: flags ? Number(flags[2]) : NaN,
    additionalCount: flags ? Number(flags[3]) : NaN,
    // With +noall +answer there is no section heading: every line that is not a comment is an answer.
    answer: noall ? output.split('\n').filter((line) => line.trim() && !line.startsWith(';')).map(record) : section('ANSWER'),
    additional: section('ADDITIONAL'),
    output,
  };
}

function record(line: string): DigRecord {
  const [name, ttl, , type, ...data] = line.trim().split(/\s+/);
  return { name: name!, ttl: Number(ttl), type: type!, data: data.join(' ') };
}

const ednsWithOptions = Packet.Resource.EDNS as unknown as (rdata: object[], options: { udpPayloadSize: number }) => Resource;

/**
 * A query as a stub resolver sends it: one question, class IN, RD set, no EDNS; or of another class, and
 * with an OPT record of this payload size and these options (dns2's, as Packet.Resource.EDNS.ECS builds).
 */
export function dnsQuery(name: string, type: number, id: number, cls: number = Packet.CLASS.IN, edns?: { payload: number; options: object[] }): Buffer {
  const packet = new Packet();
  packet.header = new Packet.Header({ id, rd: 1 });
  packet.questions = [new Packet.Question(name, type, cls)];
  if (edns) packet.additionals = [ednsWithOptions(edns.options, { udpPayloadSize: edns.payload })];
  return packet.toBuffer();
}

export interface Exchange {
  reply: Packet;
  /** Milliseconds from sending to the answer. */
  ms: number;
}

/** Rejects after `ms` with `what` in the message, so a missing answer fails the test instead of hanging it. */
export function deadline<T>(what: string, promise: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms); });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Polls `check` until it is truthy or `ms` pass (then throws with `what`). */
export async function until<T>(what: string, check: () => T | undefined | false, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** One query over UDP from `from` (a loopback address of the test's block), and its answer. */
export async function askUdp(t: Test, from: string, server: { address: string; port: number }, message: Buffer, ms = 5000): Promise<Exchange> {
  const socket = dgram.createSocket('udp4');
  let open = true;
  const close = (): void => { if (open) { open = false; socket.close(); } };
  t.teardown(close);
  await new Promise<void>((resolve) => socket.bind(0, from, resolve));
  const started = performance.now();
  try {
    const reply = await deadline(`a UDP answer from ${server.address}:${server.port}`, new Promise<Buffer>((resolve) => {
      socket.once('message', resolve);
      socket.send(message, server.port, server.address);
    }), ms);
    return { reply: Packet.parse(reply), ms: performance.now() - started };
  } finally {
    close();
  }
}

/** One query over a new TCP connection, and its answer. */
export async function askTcp(t: Test, server: { address: string; port: number }, message: Buffer, ms = 5000): Promise<Exchange> {
  const socket = net.connect({ host: server.address, port: server.port });
  t.teardown(() => { socket.destroy(); });
  const started = performance.now();
  try {
    const reply = await deadline(`a TCP answer from ${server.address}:${server.port}`, new Promise<Buffer>((resolve, reject) => {
      const reader = new FrameReader();
      socket.on('data', (chunk) => { reader.push(chunk); const first = reader.next(); if (first) resolve(first); });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error('the server closed the connection without an answer')));
      socket.write(frame(message));
    }), ms);
    return { reply: Packet.parse(reply), ms: performance.now() - started };
  } finally {
    socket.destroy();
  }
}

export interface TcpClient {
  socket: net.Socket;
  /** Settles with the time (performance.now()) the connection closed. */
  closed: Promise<number>;
  /** The next whole message from the server; rejects if the connection closes first, or after `ms`. */
  next(ms?: number): Promise<Buffer>;
}

/** A TCP connection to `server` from `from` (a loopback address of the test's block), once connected. */
export async function openTcp(t: Test, server: { address: string; port: number }, from?: string): Promise<TcpClient> {
  const socket = net.connect({ host: server.address, port: server.port, ...(from ? { localAddress: from } : {}) });
  t.teardown(() => { socket.destroy(); });
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  const reader = new FrameReader();
  const messages: Buffer[] = [];
  let wake = (): void => {};
  socket.on('data', (chunk) => {
    reader.push(chunk);
    for (let message = reader.next(); message; message = reader.next()) messages.push(message);
    wake();
  });
  void closed.then(() => wake());
  await deadline(`a TCP connection to ${server.address}:${server.port}`, new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('the connection closed before it was established')));
  }));
  const next = (ms = 5000): Promise<Buffer> => deadline(`a TCP answer from ${server.address}:${server.port}`, new Promise<Buffer>((resolve, reject) => {
    const check = (): void => {
      const message = messages.shift();
      if (message) resolve(message);
      else if (socket.destroyed) reject(new Error('the server closed the connection without an answer'));
      else wake = check;
    };
    check();
  }), ms);
  return { socket, closed, next };
}

/** `wrong-question`: answers with the query's ID but another question, as a late answer to an earlier query would. */
export type UpstreamMode = 'answer' | 'servfail' | 'refused' | 'nxdomain' | 'silent' | 'wrong-question';

export interface FakeUpstream {
  address: string;
  port: number;
  /** Every query it got, in order: how it came and from where, its ID and name. */
  queries: { transport: 'udp' | 'tcp'; from: { address: string; port: number }; id: number; name: string }[];
}

/**
 * A resolver on `address`, UDP and TCP on one port, that answers every question the same way: with an
 * A record of `answerAddress` (TTL 42), an error rcode, or nothing at all.
 */
export async function fakeUpstream(t: Test, address: string, mode: UpstreamMode, answerAddress = '192.0.2.1'): Promise<FakeUpstream> {
  const queries: FakeUpstream['queries'] = [];
  const reply = (raw: Buffer, transport: 'udp' | 'tcp', from: { address: string; port: number }): Buffer | undefined => {
    const request = Packet.parse(raw);
    queries.push({ transport, from, id: request.header.id, name: request.questions[0]?.name ?? '' });
    if (mode === 'silent') return undefined;
    const response = Packet.createResponseFromRequest(request);
    response.header.ra = 1;
    response.header.rcode = { answer: 0, servfail: 2, nxdomain: 3, refused: 5, 'wrong-question': 0 }[mode];
    if (mode === 'wrong-question') response.questions = [{ ...request.questions[0]!, name: `earlier.${request.questions[0]!.name}` }];
    if (mode === 'answer' || mode === 'wrong-question') {
      response.answers.push({ name: request.questions[0]!.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 42, address: answerAddress } as (typeof response.answers)[number]);
    }
    return response.toBuffer();
  };

  const udp = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  t.teardown(() => new Promise<void>((resolve) => udp.close(() => resolve())));
  await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(0, address, () => { udp.off('error', reject); resolve(); }); });
  const { port } = udp.address();
  udp.on('message', (message, from) => {
    const answer = reply(message, 'udp', { address: from.address, port: from.port });
    if (answer) udp.send(answer, from.port, from.address);
  });

  // Half-open allowed: a silent upstream must not answer the forwarder's half-close with one of its own.
  const connections = new Set<net.Socket>();
  const tcp = net.createServer({ allowHalfOpen: true }, (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      reader.push(chunk);
      for (let message = reader.next(); message; message = reader.next()) {
        const answer = reply(message, 'tcp', { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 });
        if (answer) socket.end(frame(answer));
      }
    });
  });
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of connections) socket.destroy();
    tcp.close(() => resolve());
  }));
  await new Promise<void>((resolve, reject) => { tcp.once('error', reject); tcp.listen({ host: address, port }, () => { tcp.off('error', reject); resolve(); }); });
  return { address, port, queries };
}
