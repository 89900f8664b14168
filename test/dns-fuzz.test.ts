// The embedded DNS server against bad input. The requirement: "malformed, truncated or random packets,
// compression loops, oversize queries - the server answers FORMERR or drops them and keeps serving; a
// flood of queries does not grow memory without bound".
//
// 1. respond(), the transport-independent core, on thousands of random, mutated and hand-made hostile
//    packets: it never throws, never hangs, is cheap, and every reply is a well-formed response with the
//    query's ID, opcode and RD, an rcode we know, the bare FORMERR/NOTIMP the header checks promise, and
//    no more than the UDP size limit; a response (QR=1) is never answered.
// 2. The same kind of packets over real UDP and TCP sockets (garbage frames, length prefixes that lie,
//    a prefix and then silence), after which good queries on both transports are still answered.
// 3. Floods: 50k UDP queries unpaced, then 50k paced twice (heap growth over the last one is bounded);
//    10k queries for forwarded names with an upstream that never answers (exactly maxForwarded go
//    upstream, every other one gets SERVFAIL at once, close() does not wait for them); and close() with
//    two upstreams, in a child process.
// 4. The TCP connection bound: connections beyond maxTcpConnections are closed, the others keep working.
//
// Deterministic: everything random comes from one seeded PRNG (printed; DNS_FUZZ_SEED=<n> reruns with
// another), and every failure names the packet in hex. The bugs it found in src/ are named in BUG below.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import type { Test } from 'tap';
import { Packet } from 'dns2';
import type { Resource } from 'dns2';
import { DnsServer } from '../src/vip-dns/index.js';
import type { DnsServerOptions, ServiceRecord, Transport } from '../src/vip-dns/index.js';

const SEED = process.env.DNS_FUZZ_SEED !== undefined ? Number(process.env.DNS_FUZZ_SEED) >>> 0 : 0x2e15d0c5;
t.comment(`dns-fuzz seed ${SEED} (0x${SEED.toString(16)}); rerun with DNS_FUZZ_SEED=${SEED}`);

/** Bugs of src/ this test found, since fixed: their assertions say which, should one come back. */
const BUG = {
  dotInLabel: 'src bug (readQuery/WireWriter.ts): dns2 joins labels with an unescaped ".", so a label holding a dot is looked up and written back as two labels',
  optTtlClamp: 'src bug (dnsQuery.ts readQuery): dns2 clamps TTLs above 2^31-1, the OPT record\'s too, so its version byte reads 0xff',
  parseCost: 'src bug (dnsQuery.ts readQuery, via dns2): an OPT option\'s data is read with reader.read(length in bytes, taken as bits), which builds the value bit by bit, quadratic: a 1 KiB query costs ~100 ordinary ones',
  lostRecords: 'src bug (dnsQuery.ts readQuery): dns2\'s Packet.parse skips a record it cannot read, and readQuery checks only the question, so a query with missing or broken additional records is answered as if whole',
  closeLeak: 'src bug (Forwarder.ts forward): after close() the loop goes on to the next upstream, whose #socket() is a new UDP socket nothing closes',
  relistenLeak: 'src bug (DnsServer.ts listen): the forwarder is replaced without closing the one before, whose forwards and UDP socket close() then never reaches',
} as const;

// Our block of loopback addresses: servers on .1 to .9, clients on .10.
const DIRECT = '127.215.0.1';
const SOCKETS = '127.215.0.2';
const FLOOD = '127.215.0.3';
const FORWARDING = '127.215.0.4';
const UPSTREAM = '127.215.0.5';
const TCP_BOUND = '127.215.0.6';
const CLOSE_LEAK = '127.215.0.7';
const CLIENT = '127.215.0.10';

/** A call of respond() slower than this is a finding: every check it makes is on at most 1 KiB. */
const SLOW_MS = 50;
/** A call of respond() that has not settled by then is reported as hung (upstreams: [] settles at once). */
const HANG_MS = 2000;

// ---------------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): a subtest derives its own stream, so each one reruns alone the same.

function prng(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    bytes: (n: number): Buffer => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number): boolean => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------------------------------------------
// The zone: a VIP service on a network, and a dnsrr service with enough tasks to need truncation.

const ZONE = { vipTtl: 600, taskTtl: 5, ownedBlocks: ['10.0.0.0/24', '10.0.1.0/24'] };
const SERVICES: ServiceRecord[] = [
  {
    name: 'web',
    vip: '10.0.0.2',
    tasks: [{ name: 'web.1.aaaa', address: '10.0.1.3' }, { name: 'web.2.bbbb', address: '10.0.1.4' }],
    ports: [{ port: 80, protocol: 'tcp' }],
    networks: ['front'],
  },
  {
    name: 'db',
    tasks: Array.from({ length: 40 }, (_, i) => ({ name: `db.${i + 1}.task${i}`, address: `10.0.1.${100 + i}` })),
    ports: [{ port: 5432, protocol: 'tcp' }],
  },
];

async function startServer(t: Test, address: string, extra: Partial<DnsServerOptions> = {}, listen = true) {
  const log: string[] = [];
  const server = new DnsServer({ address, port: 0, zone: ZONE, upstreams: [], log: (line) => log.push(line), ...extra });
  server.setRecords(SERVICES);
  if (listen) await server.listen(0);
  t.teardown(() => server.close());
  return { server, log };
}

// ---------------------------------------------------------------------------------------------------
// Building packets: by hand (exact bytes) and through dns2 (the codec the server itself uses).

const TYPE = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
const CLASS_IN = 1;
const RD = 0x0100;

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id & 0xffff, 0);
  b.writeUInt16BE(flags & 0xffff, 2);
  [qd, an, ns, ar].forEach((count, i) => b.writeUInt16BE(count & 0xffff, 4 + 2 * i));
  return b;
}

/** A name as length-prefixed labels and the root byte; labels are taken as raw bytes (dots included). */
function wireName(...labels: (string | Buffer)[]): Buffer {
  const parts = labels.map((l) => (typeof l === 'string' ? Buffer.from(l, 'latin1') : l));
  return Buffer.concat([...parts.flatMap((p) => [Buffer.from([p.length]), p]), Buffer.from([0])]);
}

function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, 2 * i));
  return b;
}

/** An OPT pseudo-record: root name, type 41, the payload size as class, the TTL field, the rdata. */
function optRecord(payload: number, ttl = 0, rdata: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(payload, 3);
  b.writeUInt32BE(ttl >>> 0, 5);
  b.writeUInt16BE(rdata.length, 9);
  return Buffer.concat([b, rdata]);
}

function query(id: number, name: Buffer, type: number, extra: Buffer[] = [], cls = CLASS_IN): Buffer {
  return Buffer.concat([header(id, RD, 1, 0, 0, extra.length), name, u16(type, cls), ...extra]);
}

const ednsWithOptions = Packet.Resource.EDNS as unknown as (rdata: object[], options: { udpPayloadSize: number }) => Resource;
const ecs = (Packet.Resource.EDNS as unknown as { ECS(clientIp: string): object }).ECS;

function dns2Query(id: number, name: string, type: number, cls = CLASS_IN, edns?: { payload: number; options: object[] }): Buffer {
  const packet = new Packet();
  packet.header = new Packet.Header({ id, rd: 1 });
  packet.questions = [new Packet.Question(name, type, cls)];
  if (edns) packet.additionals = [ednsWithOptions(edns.options, { udpPayloadSize: edns.payload })];
  return packet.toBuffer();
}

const LONG_NAME = ['a', 'b', 'c', 'd'].map((c) => c.repeat(60)).join('.');

/** Valid queries, the seeds of the mutations: every answer path (zone, NXDOMAIN, forward, TC, EDNS). */
function seedQueries(): { label: string; packet: Buffer }[] {
  return [
    { label: 'A web', packet: dns2Query(0x1001, 'web', TYPE.A) },
    { label: 'A WEB.Front (case)', packet: dns2Query(0x1002, 'WEB.Front', TYPE.A) },
    { label: 'SRV _80._tcp.web', packet: dns2Query(0x1003, '_80._tcp.web', TYPE.SRV) },
    { label: 'PTR 2.0.0.10.in-addr.arpa', packet: dns2Query(0x1004, '2.0.0.10.in-addr.arpa', TYPE.PTR) },
    { label: 'ANY tasks.web +EDNS 4096', packet: dns2Query(0x1005, 'tasks.web', TYPE.ANY, CLASS_IN, { payload: 4096, options: [] }) },
    { label: 'A db +EDNS 1232 +ECS', packet: dns2Query(0x1006, 'db', TYPE.A, CLASS_IN, { payload: 1232, options: [ecs('10.1.2.0/24')] }) },
    { label: 'SRV _5432._tcp.db +EDNS 512', packet: dns2Query(0x1007, '_5432._tcp.db', TYPE.SRV, CLASS_IN, { payload: 512, options: [] }) },
    { label: 'A example.org (forwarded)', packet: dns2Query(0x1008, 'example.org', TYPE.A) },
    { label: 'A nope.web (NXDOMAIN)', packet: dns2Query(0x1009, 'nope.web', TYPE.A) },
    { label: 'TXT CH version.bind', packet: dns2Query(0x100a, 'version.bind', TYPE.TXT, 3) },
    { label: 'AAAA web', packet: dns2Query(0x100b, 'web', TYPE.AAAA) },
    { label: 'A db (TC over UDP)', packet: dns2Query(0x100c, 'db', TYPE.A) },
    { label: 'A 245-octet name', packet: dns2Query(0x100d, LONG_NAME, TYPE.A) },
  ];
}

// ---------------------------------------------------------------------------------------------------
// The oracle.

function hex(b: Buffer): string {
  return b.length <= 640 ? b.toString('hex') : `${b.subarray(0, 64).toString('hex')}... (${b.length} bytes)`;
}

/**
 * A name read as the wire says. `strict` (for our replies): pointers go backwards only, as a compressor
 * writes them. Otherwise as dns2 reads a query: any pointer target once, labels below 64, at most 255.
 */
function readName(buf: Buffer, at: number, strict: boolean): { labels: Buffer[]; end: number } | undefined {
  const labels: Buffer[] = [];
  const visited = new Set<number>();
  let end: number | undefined;
  let octets = 1;
  let pos = at;
  for (;;) {
    if (pos >= buf.length) return undefined;
    const len = buf[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= buf.length) return undefined;
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (visited.has(target) || (strict && target >= pos)) return undefined;
      visited.add(target);
      end ??= pos + 2;
      pos = target;
      continue;
    }
    if (len & 0xc0) return undefined;
    if (len === 0) return { labels, end: end ?? pos + 1 };
    octets += len + 1;
    if (octets > 255 || pos + 1 + len > buf.length) return undefined;
    labels.push(buf.subarray(pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
}

/** The TTL field of the `index`th record after the question section, read from the wire (dns2 clamps TTLs). */
function optTtl(buf: Buffer, qd: number, index: number): number {
  let pos = 12;
  for (let i = 0; i < qd; i++) pos = readName(buf, pos, true)!.end + 4;
  for (let i = 0; i < index; i++) pos = readName(buf, pos, true)!.end + 10 + buf.readUInt16BE(readName(buf, pos, true)!.end + 8);
  return buf.readUInt32BE(readName(buf, pos, true)!.end + 4);
}

/** Walks a whole message by its counts; says what is wrong, or undefined when it ends exactly at the end. */
function malformation(buf: Buffer): string | undefined {
  if (buf.length < 12) return 'shorter than a header';
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((o) => buf.readUInt16BE(o)) as [number, number, number, number];
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    const name = readName(buf, pos, true);
    if (!name) return `question ${i}: bad name at ${pos}`;
    pos = name.end + 4;
    if (pos > buf.length) return `question ${i} runs past the end`;
  }
  for (const [section, count] of [['answer', an], ['authority', ns], ['additional', ar]] as const) {
    for (let i = 0; i < count; i++) {
      const name = readName(buf, pos, true);
      if (!name) return `${section} ${i}: bad name at ${pos}`;
      pos = name.end + 10;
      if (pos > buf.length) return `${section} ${i} runs past the end`;
      pos += buf.readUInt16BE(pos - 2);
      if (pos > buf.length) return `${section} ${i}: rdata runs past the end`;
    }
  }
  return pos === buf.length ? undefined : `${buf.length - pos} bytes after the last record`;
}

const KNOWN_RCODES = new Set([0, 1, 2, 3, 4, 5, 16]);
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

interface Verdict {
  /** What is wrong with the reply; undefined when nothing. */
  problem?: string;
  /** The reply's question is not the query's (BUG.dotInLabel). */
  echo?: string;
  rcode?: number;
}

/** Whether `reply` is an acceptable answer (or absence of one) to `input` sent over `transport`. */
function judge(input: Buffer, reply: unknown, transport: Transport): Verdict {
  if (reply === undefined) return {}; // dropped: allowed for anything (only counted)
  if (!Buffer.isBuffer(reply)) return { problem: `resolved with a ${typeof reply}, not a Buffer` };
  if (input.length < 12) return { problem: 'answered a packet shorter than a DNS header' };
  const flags = input.readUInt16BE(2);
  if (flags & 0x8000) return { problem: 'answered a response (QR=1): reflection loops start like this' };
  const broken = malformation(reply);
  if (broken) return { problem: `reply ${hex(reply)} is malformed: ${broken}` };
  let parsed: Packet;
  try {
    parsed = Packet.parse(reply);
  } catch (error) {
    return { problem: `dns2 cannot parse reply ${hex(reply)}: ${(error as Error).message}` };
  }
  const h = parsed.header;
  if (parsed.questions.length !== h.qdcount || parsed.answers.length !== h.ancount || parsed.authorities.length !== h.nscount || parsed.additionals.length !== h.arcount) {
    return { problem: `dns2 could not read every record of reply ${hex(reply)}` };
  }
  const replyFlags = reply.readUInt16BE(2);
  // The whole rcode: 4 bits in the header, 8 more in the OPT record's TTL (RFC 6891), read from the wire.
  const optAt = parsed.additionals.findIndex((r) => r.type === TYPE.OPT);
  const rcode = (replyFlags & 0xf) | (optAt >= 0 ? (optTtl(reply, parsed.header.qdcount, parsed.header.ancount + parsed.header.nscount + optAt) >>> 24) << 4 : 0);
  const opcode = (flags >> 11) & 0xf;
  const problems: string[] = [];
  if (!(replyFlags & 0x8000)) problems.push('QR is not set');
  if (reply.readUInt16BE(0) !== input.readUInt16BE(0)) problems.push(`ID ${reply.readUInt16BE(0)} is not the query's ${input.readUInt16BE(0)}`);
  if (!KNOWN_RCODES.has(rcode)) problems.push(`rcode ${rcode}`);
  if (((replyFlags >> 11) & 0xf) !== opcode) problems.push('opcode differs from the query\'s');
  if ((replyFlags & RD) !== (flags & RD)) problems.push('RD differs from the query\'s');
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((o) => input.readUInt16BE(o)) as [number, number, number, number];
  if (opcode !== 0) {
    if (rcode !== 4 || reply.length !== 12) problems.push(`opcode ${opcode} must get a bare NOTIMP header`);
  } else if (input.length > 1024 || qd !== 1 || an !== 0 || ns !== 0 || ar > 2) {
    if (rcode !== 1 || reply.length !== 12) problems.push('bad counts or size must get a bare FORMERR header');
  }
  if (h.qdcount > 1) problems.push('more than one question in the reply');
  if (transport === 'udp') {
    // RFC 6891: the requestor's payload size, never below 512; we send at most 1232 (dnsMessage.ts).
    let limit = 512;
    if (parsed.additionals.some((r) => r.type === TYPE.OPT)) {
      let asked: number | undefined;
      try {
        asked = Packet.parse(input).additionals.find((r) => r?.type === TYPE.OPT)?.class;
      } catch {
        // The query's OPT cannot be read again: hold the reply to the most we ever send.
      }
      limit = Math.max(512, Math.min(asked ?? 1232, 1232));
    }
    if (reply.length > limit) problems.push(`${reply.length} bytes over UDP (limit ${limit})`);
  }
  let echo: string | undefined;
  if (h.qdcount === 1) {
    const asked = readName(input, 12, false);
    const answered = readName(reply, 12, true)!;
    if (!asked || asked.end + 4 > input.length) {
      problems.push('reply has a question, but the query\'s cannot be read');
    } else {
      const same = asked.labels.length === answered.labels.length
        && asked.labels.every((l, i) => l.equals(answered.labels[i]!))
        && input.readUInt32BE(asked.end) === reply.readUInt32BE(answered.end);
      if (!same) {
        const show = (labels: Buffer[]) => labels.map((l) => JSON.stringify(l.toString('latin1'))).join(' ');
        echo = `query ${hex(input)} asks ${show(asked.labels)}, reply ${hex(reply)} answers ${show(answered.labels)}`;
      }
    }
  }
  return { ...(problems.length ? { problem: `${problems.join('; ')}; reply ${hex(reply)}` } : {}), ...(echo ? { echo } : {}), rcode };
}

/** An assertion of a bug this test once found (BUG): on failure, its evidence is printed with it. */
function expectFixed(t: Test, pass: boolean, message: string, bug: string, evidence: Record<string, unknown>): void {
  t.ok(pass, message, { bug, ...evidence });
}

const HUNG = Symbol('hung');
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof HUNG> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<typeof HUNG>((resolve) => { timer = setTimeout(() => resolve(HUNG), ms); })])
    .finally(() => clearTimeout(timer));
}

interface Case {
  label: string;
  packet: Buffer;
  transport: Transport;
}

/** What one family of cases did, kept small: counts, the slowest call, and the first failures. */
class Tally {
  cases = 0;
  dropped = 0;
  readonly rcodes = new Map<string, number>();
  maxMs = 0;
  slowest = '';
  readonly failures: string[] = [];
  readonly echoes: string[] = [];

  summary(): string {
    const rcodes = [...this.rcodes].map(([name, n]) => `${name} ${n}`).join(', ');
    return `${this.cases} packets: ${this.dropped} dropped, ${rcodes}; slowest ${this.maxMs.toFixed(1)} ms (${this.slowest})`;
  }
}

async function respondAndJudge(server: DnsServer, c: Case, tally: Tally): Promise<Buffer | undefined> {
  tally.cases++;
  const start = performance.now();
  let reply: unknown;
  let failure: string | undefined;
  try {
    reply = await within(server.respond(c.packet, c.transport), HANG_MS);
  } catch (error) {
    failure = `respond() threw: ${(error as Error).stack ?? String(error)}`;
  }
  const ms = performance.now() - start;
  if (ms > tally.maxMs) {
    tally.maxMs = ms;
    tally.slowest = `${c.label}, ${c.packet.length} bytes`;
  }
  if (reply === HUNG) failure = `respond() has not settled after ${HANG_MS} ms`;
  else if (!failure && ms > SLOW_MS) {
    // A collection or a compilation can stop any call: slow means slow on each of 3 tries.
    let best = ms;
    for (let i = 0; i < 2 && best > SLOW_MS; i++) {
      const again = performance.now();
      await within(server.respond(c.packet, c.transport), HANG_MS);
      best = Math.min(best, performance.now() - again);
    }
    if (best > SLOW_MS) failure = `respond() took ${best.toFixed(1)} ms at best of 3`;
  }
  const verdict = failure ? {} : judge(c.packet, reply, c.transport);
  failure ??= verdict.problem;
  if (failure) tally.failures.push(`${c.label} over ${c.transport}: ${failure}; packet ${hex(c.packet)}`);
  if (verdict.echo) tally.echoes.push(`${c.label}: ${verdict.echo}`);
  if (reply === undefined) tally.dropped++;
  if (verdict.rcode !== undefined) {
    const name = RCODE_NAMES[verdict.rcode] ?? String(verdict.rcode);
    tally.rcodes.set(name, (tally.rcodes.get(name) ?? 0) + 1);
  }
  return Buffer.isBuffer(reply) ? reply : undefined;
}

// ---------------------------------------------------------------------------------------------------
// The cases.

/** Pure noise, and noise behind a header that passes the pre-checks so dns2's parser gets to read it. */
function randomCases(rng: Rng, n: number): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const transport: Transport = rng.chance(0.5) ? 'udp' : 'tcp';
    cases.push({ label: `random #${i}`, packet: rng.bytes(rng.int(601)), transport });
    const body = rng.bytes(rng.int(589));
    const head = header(rng.int(0x10000), rng.int(0x10000) & 0x07ff, 1, 0, 0, rng.int(3));
    cases.push({ label: `random body #${i}`, packet: Buffer.concat([head, body]), transport });
  }
  return cases;
}

const COUNT_VALUES = [0, 1, 2, 3, 0x7f, 0x100, 0x7fff, 0xffff];
const SPECIAL_BYTES = [0x00, 0x01, 0x2e, 0x3f, 0x40, 0x80, 0xc0, 0xc1, 0xff];

/** Mutations of one valid query: every truncation, bit flips, insertions, deletions, counts, bytes. */
function mutationCases(rng: Rng, label: string, packet: Buffer): Map<string, Case[]> {
  const transport = (): Transport => (rng.chance(0.5) ? 'udp' : 'tcp');
  const families = new Map<string, Case[]>();
  const add = (family: string, what: string, mutated: Buffer, over: Transport = transport()) => {
    if (!families.has(family)) families.set(family, []);
    families.get(family)!.push({ label: `${label}, ${what}`, packet: mutated, transport: over });
  };
  for (let length = 0; length < packet.length; length++) {
    add('truncations', `cut to ${length}`, packet.subarray(0, length), 'udp');
    add('truncations', `cut to ${length}`, packet.subarray(0, length), 'tcp');
  }
  for (let i = 0; i < 300; i++) {
    const mutated = Buffer.from(packet);
    const flips = 1 + rng.int(3);
    for (let f = 0; f < flips; f++) {
      // Mostly in the header's flags and counts and the question, where it matters most.
      const at = rng.chance(0.3) ? 2 + rng.int(10) : rng.int(mutated.length);
      mutated[at]! ^= 1 << rng.int(8);
    }
    add('bit flips', `${flips} bit flips`, mutated);
  }
  for (let i = 0; i < 120; i++) {
    const at = rng.int(packet.length + 1);
    const inserted = rng.chance(0.5) ? rng.bytes(1 + rng.int(4)) : Buffer.from([rng.pick(SPECIAL_BYTES)]);
    add('insertions and deletions', `insert ${inserted.toString('hex')} at ${at}`, Buffer.concat([packet.subarray(0, at), inserted, packet.subarray(at)]));
    const from = rng.int(packet.length);
    const to = Math.min(packet.length, from + 1 + rng.int(4));
    add('insertions and deletions', `delete ${from}..${to}`, Buffer.concat([packet.subarray(0, from), packet.subarray(to)]));
  }
  for (const field of [4, 6, 8, 10]) {
    for (const value of [...COUNT_VALUES, rng.int(0x10000)]) {
      const mutated = Buffer.from(packet);
      mutated.writeUInt16BE(value, field);
      add('count fields', `count at ${field} = ${value}`, mutated);
    }
  }
  for (let i = 0; i < 150; i++) {
    const mutated = Buffer.from(packet);
    const at = 12 + rng.int(Math.max(1, mutated.length - 12));
    if (at < mutated.length) mutated[at] = rng.pick(SPECIAL_BYTES);
    add('special bytes', `byte ${at} = ${mutated[at]?.toString(16)}`, mutated);
  }
  for (let i = 0; i < 40; i++) {
    // The flags word set at random: opcodes, QR, TC, Z and rcode bits in a query.
    const mutated = Buffer.from(packet);
    mutated.writeUInt16BE(rng.int(0x10000), 2);
    add('flags', `flags ${mutated.readUInt16BE(2).toString(16)}`, mutated);
  }
  return families;
}

/** Hand-made hostile packets, each with what it attacks. */
function hostileCases(): { label: string; packet: Buffer }[] {
  const id = 0x4242;
  const q = (name: Buffer, extra: Buffer[] = [], type: number = TYPE.A) => query(id, name, type, extra);
  const headerOnly = (qd: number, an = 0, ns = 0, ar = 0) => header(id, RD, qd, an, ns, ar);
  const label63 = 'x'.repeat(63);
  const labelsOf = (total: number) => {
    // Labels of 63 (the last shorter) whose wire form, root byte included, is `total` octets.
    const labels: string[] = [];
    let left = total - 1;
    while (left > 0) {
      const len = Math.min(63, left - 1);
      labels.push('y'.repeat(len));
      left -= len + 1;
    }
    return wireName(...labels);
  };
  const validA = q(wireName('web'));
  const padded = (length: number) => Buffer.concat([validA, Buffer.alloc(length - validA.length)]);
  const ecsOption = (family: number, source: number, address: Buffer, declaredLength?: number) =>
    Buffer.concat([u16(8, declaredLength ?? 4 + address.length, family), Buffer.from([source, 0]), address]);
  return [
    { label: 'pointer to itself', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0, 0x0c]), u16(1, 1)]) },
    { label: 'two pointers at each other', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0, 0x0e, 0xc0, 0x0c]), u16(1, 1)]) },
    { label: 'pointer loop through a label', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0, 0x12]), u16(1, 1), Buffer.from([0x01, 0x61, 0xc0, 0x0c])]) },
    { label: 'pointer beyond the end', packet: Buffer.concat([headerOnly(1), Buffer.from([0xff, 0xff]), u16(1, 1)]) },
    { label: 'pointer just past the end', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0, 0x12]), u16(1, 1)]) },
    { label: 'pointer into the header', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0, 0x00]), u16(1, 1)]) },
    { label: 'half a pointer at the end', packet: Buffer.concat([headerOnly(1), Buffer.from([0xc0])]) },
    { label: 'a chain of 490 pointers, no loop', packet: (() => {
      // Each pointer points at the next; the last one at a root byte: a name of nothing, read the long way.
      const chain = Buffer.alloc(2 * 490 + 1);
      for (let i = 0; i < 490; i++) chain.writeUInt16BE(0xc000 | (12 + 2 * (i + 1)), 2 * i);
      return Buffer.concat([headerOnly(1), chain, u16(1, 1)]);
    })() },
    { label: 'label length 0x40 (reserved bits 01)', packet: Buffer.concat([headerOnly(1), Buffer.from([0x40]), Buffer.alloc(64, 0x61), Buffer.from([0]), u16(1, 1)]) },
    { label: 'label length 0x80 (reserved bits 10)', packet: Buffer.concat([headerOnly(1), Buffer.from([0x80, 0x61, 0x00]), u16(1, 1)]) },
    { label: 'label length 0x7f', packet: Buffer.concat([headerOnly(1), Buffer.from([0x7f]), Buffer.alloc(127, 0x61), Buffer.from([0]), u16(1, 1)]) },
    { label: 'a 63-octet label (the most allowed)', packet: q(wireName(label63, 'web')) },
    { label: 'a 255-octet name (the most allowed)', packet: q(labelsOf(255)) },
    { label: 'a 256-octet name', packet: q(labelsOf(256)) },
    { label: 'a 300-octet name', packet: q(labelsOf(300)) },
    { label: 'a name over 255 octets through a pointer', packet: (() => {
      // 3 x 63-octet labels, then a pointer back to their start: 192 + 192 + ... octets.
      const labels = Buffer.concat([label63, label63, label63].map((l) => Buffer.concat([Buffer.from([63]), Buffer.from(l)])));
      return Buffer.concat([headerOnly(1), labels, Buffer.from([0xc0, 0x0c]), u16(1, 1)]);
    })() },
    { label: 'a label with no root byte, then the end', packet: Buffer.concat([headerOnly(1), Buffer.from([0x03, 0x77, 0x65, 0x62])]) },
    { label: 'name without type and class', packet: Buffer.concat([headerOnly(1), wireName('web')]) },
    { label: 'header only, qdcount 1', packet: headerOnly(1) },
    { label: 'header only, qdcount 0', packet: headerOnly(0) },
    { label: 'qdcount 65535, no body', packet: headerOnly(0xffff) },
    { label: 'all counts 65535, no body', packet: headerOnly(0xffff, 0xffff, 0xffff, 0xffff) },
    { label: 'arcount 65535 after a valid question', packet: Buffer.concat([headerOnly(1, 0, 0, 0xffff), wireName('web'), u16(1, 1)]) },
    { label: 'qdcount 2, two valid questions', packet: Buffer.concat([headerOnly(2), wireName('web'), u16(1, 1), wireName('db'), u16(1, 1)]) },
    { label: 'qdcount 1 with an answer record', packet: Buffer.concat([headerOnly(1, 1), wireName('web'), u16(1, 1), wireName('web'), u16(1, 1), Buffer.alloc(4), u16(4), Buffer.from([10, 0, 0, 9])]) },
    { label: 'a 1024-byte query (the most read)', packet: padded(1024) },
    { label: 'a 1025-byte query', packet: padded(1025) },
    { label: 'a 64 KiB query', packet: padded(65535) },
    { label: 'a 64 KiB response', packet: (() => { const p = padded(65535); p.writeUInt16BE(0x8100, 2); return p; })() },
    { label: 'opcode 2 (STATUS), 64 KiB', packet: (() => { const p = padded(65535); p.writeUInt16BE(0x1100, 2); return p; })() },
    { label: 'opcode 5 (UPDATE)', packet: (() => { const p = Buffer.from(validA); p.writeUInt16BE(0x2900, 2); return p; })() },
    { label: 'opcode 15', packet: (() => { const p = Buffer.from(validA); p.writeUInt16BE(0x7900, 2); return p; })() },
    { label: 'QR=1 answer-shaped', packet: (() => { const p = Buffer.from(validA); p.writeUInt16BE(0x8180, 2); return p; })() },
    { label: '11 bytes', packet: validA.subarray(0, 11) },
    { label: 'empty', packet: Buffer.alloc(0) },
    { label: 'question type 0, class 0', packet: query(id, wireName('web'), 0, [], 0) },
    { label: 'question type OPT', packet: q(wireName('web'), [], TYPE.OPT) },
    { label: 'question type 65535, class 65535', packet: query(id, wireName('web'), 0xffff, [], 0xffff) },
    { label: 'class ANY', packet: query(id, wireName('web'), TYPE.A, [], 255) },
    { label: 'root name', packet: q(Buffer.from([0])) },
    { label: 'name with a NUL byte', packet: q(wireName('we\0b')) },
    { label: 'name with bytes over 0x7f', packet: q(wireName(Buffer.from([0xc3, 0x80, 0xff]), 'web')) },
    { label: 'reverse name with a NUL octet', packet: q(wireName('\0', '0', '0', '10', 'in-addr', 'arpa'), [], TYPE.PTR) },
    { label: 'reverse name with 5 octets', packet: q(wireName('1', '2', '0', '0', '10', 'in-addr', 'arpa'), [], TYPE.PTR) },
    { label: 'reverse name with octet 999', packet: q(wireName('999', '0', '0', '10', 'in-addr', 'arpa'), [], TYPE.PTR) },
    { label: 'OPT payload 0', packet: q(wireName('db'), [optRecord(0)]) },
    { label: 'OPT payload 65535', packet: q(wireName('_5432', '_tcp', 'db'), [optRecord(0xffff)], TYPE.SRV) },
    { label: 'OPT rdlength beyond the end', packet: q(wireName('web'), [Buffer.concat([optRecord(1232).subarray(0, 9), u16(0xffff)])]) },
    { label: 'OPT option length beyond the end', packet: q(wireName('web'), [optRecord(1232, 0, u16(0xfffe, 0xffff))]) },
    { label: 'OPT option length 0x1ec0, 1 KiB of option data', packet: (() => {
      // dns2 reads an option's length as bits and builds the value bit by bit: the costliest parse we know.
      const head = q(wireName('web'), [optRecord(1232, 0, u16(0xfffe, 0x1ec0))]);
      return Buffer.concat([head, Buffer.alloc(1024 - head.length, 0x41)]);
    })() },
    { label: 'OPT option length 0xffff, 1 KiB of option data', packet: (() => {
      const head = q(wireName('web'), [optRecord(1232, 0, u16(0xfffe, 0xffff))]);
      return Buffer.concat([head, Buffer.alloc(1024 - head.length, 0x41)]);
    })() },
    { label: 'OPT whose rdata is shorter than an option header', packet: q(wireName('web'), [optRecord(1232, 0, Buffer.from([0, 8]))]) },
    { label: 'ECS family 1, option length 2 (shorter than its fixed part)', packet: q(wireName('web'), [optRecord(1232, 0, ecsOption(1, 24, Buffer.alloc(0), 2))]) },
    { label: 'ECS family 2, odd address length', packet: q(wireName('web'), [optRecord(1232, 0, ecsOption(2, 56, Buffer.alloc(7, 0x20)))]) },
    { label: 'ECS family 2, option length 3', packet: q(wireName('web'), [optRecord(1232, 0, ecsOption(2, 56, Buffer.alloc(16, 0x20), 3))]) },
    { label: 'ECS family 9', packet: q(wireName('web'), [optRecord(1232, 0, ecsOption(9, 8, Buffer.alloc(4)))]) },
    { label: 'OPT with a non-root name', packet: q(wireName('web'), [Buffer.concat([wireName('x'), optRecord(1232).subarray(1)])]) },
    { label: 'OPT extended rcode and DO bit', packet: q(wireName('web'), [optRecord(1232, 0xff008000)]) },
    { label: 'an additional of type DNSKEY, rdlength 65535', packet: q(wireName('web'), [Buffer.concat([Buffer.from([0]), u16(48, 1), Buffer.alloc(4), u16(0xffff), Buffer.alloc(20, 1)])]) },
    { label: 'an additional of type RRSIG with a looping signer', packet: q(wireName('web'), [Buffer.concat([Buffer.from([0]), u16(46, 1), Buffer.alloc(4), u16(20), Buffer.alloc(18), Buffer.from([0xc0, 0x0c])])]) },
    { label: 'an additional of type AAAA, odd rdlength', packet: q(wireName('web'), [Buffer.concat([Buffer.from([0]), u16(28, 1), Buffer.alloc(4), u16(3), Buffer.alloc(3)])]) },
    { label: 'an additional of type CAA, rdlength 0', packet: q(wireName('web'), [Buffer.concat([Buffer.from([0]), u16(257, 1), Buffer.alloc(4), u16(0)])]) },
    { label: 'an additional of type TXT, string longer than rdata', packet: q(wireName('web'), [Buffer.concat([Buffer.from([0]), u16(16, 1), Buffer.alloc(4), u16(1), Buffer.from([0xff])])]) },
    { label: 'two additionals with looping names', packet: q(wireName('web'), [Buffer.from([0xc0, 0x1a, 0xc0, 0x18])]) },
  ];
}

// ---------------------------------------------------------------------------------------------------
// 1. respond() directly.

t.test('respond(): random, mutated and hostile packets', async (t) => {
  const rng = prng(SEED ^ 0x1);
  const { server, log } = await startServer(t, DIRECT, {}, false);
  const echoes: string[] = [];

  // Warm up (JIT) so that the first cases are not timed against compilation.
  for (const seed of seedQueries()) for (let i = 0; i < 20; i++) await server.respond(seed.packet, i % 2 ? 'udp' : 'tcp');

  const families = new Map<string, Case[]>();
  families.set('random bytes', randomCases(rng, 1500));
  for (const seed of seedQueries()) {
    for (const [family, cases] of mutationCases(rng, seed.label, seed.packet)) {
      families.set(family, [...(families.get(family) ?? []), ...cases]);
    }
  }
  families.set('hostile', hostileCases().flatMap((c) => (['udp', 'tcp'] as const).map((transport) => ({ ...c, transport }))));

  let total = 0;
  for (const [family, cases] of families) {
    const tally = new Tally();
    for (const c of cases) await respondAndJudge(server, c, tally);
    total += tally.cases;
    echoes.push(...tally.echoes);
    t.comment(`${family}: ${tally.summary()}`);
    t.same(tally.failures.slice(0, 10), [], `${family}: no throw, no hang, under ${SLOW_MS} ms, every reply well-formed (${tally.failures.length} failures of ${tally.cases})`);
  }
  t.comment(`${total} packets through respond(); ${echoes.length} replies with a question other than the query's`);

  // After the storm: still answering, and correctly.
  const a = Packet.parse((await server.respond(dns2Query(0x7001, 'web', TYPE.A), 'udp'))!);
  t.equal(a.header.rcode, 0, 'A web: NOERROR after the storm');
  t.same(a.answers.map((r) => r.address), ['10.0.0.2'], 'A web: the VIP after the storm');
  const udpDb = Packet.parse((await server.respond(dns2Query(0x7002, 'db', TYPE.A), 'udp'))!);
  t.equal(udpDb.header.tc, 1, 'A db over UDP without EDNS: truncated (40 addresses do not fit in 512 bytes)');
  const tcpDb = Packet.parse((await server.respond(dns2Query(0x7002, 'db', TYPE.A), 'tcp'))!);
  t.equal(tcpDb.answers.length, 40, 'A db over TCP: all 40 task addresses');
  const srv = Packet.parse((await server.respond(dns2Query(0x7003, '_80._tcp.web', TYPE.SRV), 'udp'))!);
  t.same(srv.answers.map((r) => r.port).sort(), [80, 80], 'SRV _80._tcp.web: both tasks');
  t.same(log.filter((line) => !line.startsWith('dns: cannot answer')), [], 'nothing unexpected logged');

  t.test('the reply\'s question is the query\'s', async (t) => {
    t.comment(`${echoes.length} fuzz cases were answered for another question; the first: ${echoes.slice(0, 3).join(' | ')}`);
    // The plainest form: one label "web.front" (a dot inside it) is answered as the two labels web, front.
    const oneLabel = query(0x5151, wireName('web.front'), TYPE.A);
    const reply = (await server.respond(oneLabel, 'udp'))!;
    expectFixed(t, !judge(oneLabel, reply, 'udp').echo, 'a label with a dot in it is not answered as another name', BUG.dotInLabel, { query: hex(oneLabel), reply: hex(reply) });
    expectFixed(t, (reply.readUInt16BE(2) & 0xf) !== 0, 'the one label "web.front" (no service has it) is not NOERROR', BUG.dotInLabel, { query: hex(oneLabel), reply: hex(reply) });
    const trailing = query(0x5152, wireName('web.'), TYPE.A);
    const trailingReply = (await server.respond(trailing, 'udp'))!;
    expectFixed(t, !judge(trailing, trailingReply, 'udp').echo, 'the label "web." is not answered as "web"', BUG.dotInLabel, { query: hex(trailing), reply: hex(trailingReply) });
    expectFixed(t, echoes.length === 0, `no fuzz case got a reply for another question (${echoes.length} did)`, BUG.dotInLabel, { first: echoes[0] });
  });

  t.test('cost: the costliest packets we know against an ordinary query', async (t) => {
    const perCall = async (packet: Buffer, n: number) => {
      for (let i = 0; i < 10; i++) await server.respond(packet, 'udp');
      const start = performance.now();
      for (let i = 0; i < n; i++) await server.respond(packet, 'udp');
      return (performance.now() - start) / n;
    };
    const ordinary = await perCall(dns2Query(0x7101, 'web', TYPE.A, CLASS_IN, { payload: 1232, options: [] }), 1000);
    for (const c of hostileCases().filter((h) => h.label.startsWith('OPT option length 0x'))) {
      const ms = await perCall(c.packet, 30);
      t.comment(`${c.label}: ${(ms * 1000).toFixed(0)} µs a query, ${(ms / ordinary).toFixed(0)} times an ordinary one (${(ordinary * 1000).toFixed(0)} µs); ${Math.round(1000 / ms)} a second fill the event loop`);
      expectFixed(t, ms < 20 * ordinary, `${c.label}: costs less than 20 ordinary queries`, BUG.parseCost, { packet: hex(c.packet) });
    }
  });

  t.test('records the header promises but the packet does not hold: FORMERR', async (t) => {
    const a = query(0x7201, wireName('web'), TYPE.A);
    const cases: [string, Buffer][] = [
      ['arcount 1, no record', Buffer.concat([header(0x7201, RD, 1, 0, 0, 1), a.subarray(12)])],
      ['arcount 2, one OPT', Buffer.concat([header(0x7202, RD, 1, 0, 0, 2), a.subarray(12), optRecord(1232)])],
      ['an OPT cut in its fixed part', query(0x7203, wireName('web'), TYPE.A, [optRecord(1232).subarray(0, 7)])],
      ['an OPT whose rdlength runs past the end', query(0x7204, wireName('web'), TYPE.A, [Buffer.concat([optRecord(1232).subarray(0, 9), u16(40), Buffer.alloc(4)])])],
    ];
    for (const [what, packet] of cases) {
      const reply = (await server.respond(packet, 'udp'))!;
      expectFixed(t, (reply.readUInt16BE(2) & 0xf) === 1, `${what}: FORMERR`, BUG.lostRecords, { query: hex(packet), reply: hex(reply) });
    }
  });

  t.test('EDNS (RFC 6891)', async (t) => {
    const twoOpts = query(0x6161, wireName('web'), TYPE.A, [optRecord(1232), optRecord(1232)]);
    const r1 = (await server.respond(twoOpts, 'udp'))!;
    t.equal(r1.readUInt16BE(2) & 0xf, 1, 'a query with two OPT records gets FORMERR (§6.1.1)', { query: hex(twoOpts), reply: hex(r1) });
    const version1 = query(0x6162, wireName('web'), TYPE.A, [optRecord(1232, 0x00010000)]);
    const r2 = (await server.respond(version1, 'udp'))!;
    t.equal(Packet.parse(r2).header.rcode, 16, 'a query with EDNS version 1 gets BADVERS (§6.1.3)', { query: hex(version1), reply: hex(r2) });
    // Extended-rcode byte 0x80, version 0, DO set: a version-0 query, if an odd one.
    const odd = query(0x6163, wireName('web'), TYPE.A, [optRecord(1232, 0x80008000)]);
    const r3 = (await server.respond(odd, 'udp'))!;
    expectFixed(t, Packet.parse(r3).header.rcode === 0, 'a version-0 query whose OPT TTL has its top bit set is not told BADVERS', BUG.optTtlClamp, { query: hex(odd), reply: hex(r3) });
  });
});

// ---------------------------------------------------------------------------------------------------
// Real sockets.

async function udpSocket(t: Test): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, CLIENT, () => { socket.off('error', reject); resolve(); });
  });
  socket.on('error', () => {});
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

/** Sends every packet as fast as the socket takes them, at most `window` sends in progress; no waiting for answers. */
async function blast(socket: dgram.Socket, host: string, port: number, packets: Iterable<Buffer>, window = 64): Promise<{ sent: number; errors: number }> {
  let inProgress = 0;
  let sent = 0;
  let errors = 0;
  let wake: (() => void) | undefined;
  const wait = () => new Promise<void>((resolve) => { wake = resolve; });
  for (const packet of packets) {
    while (inProgress >= window) await wait();
    inProgress++;
    socket.send(packet, port, host, (error) => {
      inProgress--;
      if (error) errors++;
      else sent++;
      const w = wake;
      wake = undefined;
      w?.();
    });
  }
  while (inProgress > 0) await wait();
  return { sent, errors };
}

/**
 * The answer to `packet` over UDP, sent again every 250 ms as a resolver would (a flood may have filled
 * the server's receive buffer); rejects after `deadlineMs`.
 */
function askUdp(socket: dgram.Socket, host: string, port: number, packet: Buffer, deadlineMs = 5000): Promise<Buffer> {
  const id = packet.readUInt16BE(0);
  return new Promise((resolve, reject) => {
    const onMessage = (message: Buffer) => {
      if (message.length < 12 || message.readUInt16BE(0) !== id || !(message[2]! & 0x80)) return;
      stop();
      resolve(message);
    };
    const send = () => socket.send(packet, port, host);
    const retry = setInterval(send, 250);
    const deadline = setTimeout(() => { stop(); reject(new Error(`no answer over UDP to ${hex(packet)} in ${deadlineMs} ms`)); }, deadlineMs);
    const stop = () => { socket.off('message', onMessage); clearInterval(retry); clearTimeout(deadline); };
    socket.on('message', onMessage);
    send();
  });
}

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
  let buffered = Buffer.alloc(0);
  const frames: Buffer[] = [];
  let wake: (() => void) | undefined;
  let isClosed = false;
  const poke = () => { const w = wake; wake = undefined; w?.(); };
  const closed = new Promise<void>((resolve) => socket.on('close', () => { isClosed = true; resolve(); poke(); }));
  socket.on('error', () => {});
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const end = 2 + buffered.readUInt16BE(0);
      frames.push(buffered.subarray(2, end));
      buffered = buffered.subarray(end);
    }
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

function aAddresses(reply: Buffer | undefined): string[] {
  return reply ? Packet.parse(reply).answers.map((r) => r.address ?? '?').sort() : [];
}

t.test('over real sockets: garbage over UDP and TCP, then good queries are still answered', async (t) => {
  const rng = prng(SEED ^ 0x2);
  const { server, log } = await startServer(t, SOCKETS, { tcpIdleMs: 400 });
  const { port } = server;

  // A corpus like the one respond() saw: hostile, random, mutated; IDs below 0xf000 (ours are above).
  const corpus: Buffer[] = [...hostileCases().map((c) => c.packet).filter((p) => p.length <= 1500), ...randomCases(rng, 60).map((c) => c.packet)];
  for (const seed of seedQueries()) for (const cases of mutationCases(rng, seed.label, seed.packet).values()) corpus.push(...cases.map((c) => c.packet).filter(() => rng.chance(0.02)));
  for (const p of corpus) if (p.length >= 1) p[0]! &= 0xef;

  t.test('UDP: a few hundred bad packets, each reply well-formed, then a good query', async (t) => {
    const socket = await udpSocket(t);
    const replies: Buffer[] = [];
    socket.on('message', (m) => replies.push(m));
    const { sent, errors } = await blast(socket, SOCKETS, port, corpus, 16);
    const good = await askUdp(socket, SOCKETS, port, dns2Query(0xf001, 'web', TYPE.A));
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
    const socket = await udpSocket(t);
    const received: Buffer[] = [];
    socket.on('message', (m) => received.push(m));
    const responses = corpus.filter((p) => p.length >= 12).slice(0, 200).map((p) => { const r = Buffer.from(p); r[2]! |= 0x80; return r; });
    await blast(socket, SOCKETS, port, responses, 16);
    // The server reads its socket in order: once this is answered, every response before it was read.
    await askUdp(socket, SOCKETS, port, dns2Query(0xf002, 'web', TYPE.A));
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
    conn.socket.end(frame(dns2Query(0xf003, 'web', TYPE.A), 500));
    t.not(await within(conn.closed, 5000), HUNG, 'the server closes its side');
    t.equal(await conn.next(0), undefined, 'and answers nothing');
  });

  t.test('TCP: a 2-byte prefix, then silence', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    conn.socket.write(u16(0x20));
    const start = performance.now();
    t.not(await within(conn.closed, 5000), HUNG, 'closed by the idle timeout (tcpIdleMs 400)');
    t.comment(`closed after ${(performance.now() - start).toFixed(0)} ms`);
  });

  t.test('TCP: a 64 KiB message, then a good query on the same connection', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    const big = Buffer.concat([query(0xf004, wireName('web'), TYPE.A), Buffer.alloc(65535 - 21)]);
    const reply = await conn.ask(big);
    t.ok(reply && reply.length === 12 && (reply[3]! & 0xf) === 1 && reply.readUInt16BE(0) === 0xf004, 'a bare FORMERR', { reply: reply && hex(reply) });
    // The next query delivered a byte at a time: the framing survives any cut.
    const good = frame(dns2Query(0xf005, 'web', TYPE.A));
    for (const byte of good) conn.socket.write(Buffer.from([byte]));
    t.same(aAddresses(await conn.next()), ['10.0.0.2'], 'then A web, sent a byte at a time, is answered');
  });

  t.test('TCP: responses, and messages shorter than a header, end the connection', async (t) => {
    for (const [what, message] of [['a response', (() => { const r = dns2Query(0xf006, 'web', TYPE.A); r[2]! |= 0x80; return r; })()], ['5 bytes', Buffer.alloc(5)], ['0 bytes', Buffer.alloc(0)]] as const) {
      const conn = tcpConnect(t, SOCKETS, port);
      conn.socket.write(frame(message));
      t.not(await within(conn.closed, 5000), HUNG, `${what}: the server closes the connection`);
      t.equal(await conn.next(0), undefined, `${what}: unanswered`);
    }
  });

  t.test('TCP: 100 pipelined queries in one write are all answered', async (t) => {
    const conn = tcpConnect(t, SOCKETS, port);
    conn.socket.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => frame(dns2Query(0xf100 + i, i % 2 ? 'web' : 'example.org', TYPE.A)))));
    const ids = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const reply = await conn.next();
      if (!reply) break;
      ids.add(reply.readUInt16BE(0));
    }
    t.equal(ids.size, 100, '100 distinct answers');
  });

  t.test('afterwards, good queries over both transports', async (t) => {
    const socket = await udpSocket(t);
    t.same(aAddresses(await askUdp(socket, SOCKETS, port, dns2Query(0xf007, 'tasks.web', TYPE.A))), ['10.0.1.3', '10.0.1.4'], 'UDP: A tasks.web');
    const conn = tcpConnect(t, SOCKETS, port);
    t.same(aAddresses(await conn.ask(dns2Query(0xf008, 'web.front', TYPE.A))), ['10.0.0.2'], 'TCP: A web.front');
    t.same(log, [], 'nothing logged');
  });
});

// ---------------------------------------------------------------------------------------------------
// 3. Floods.

/**
 * A real collection when V8 lets us have one: --expose-gc can be turned on at run time, and a fresh
 * context then has `gc`. Without it the measurements hold garbage too, which the generous bound allows.
 */
function garbageCollector(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : undefined;
  } catch {
    return undefined;
  }
}

function memory(gc: (() => void) | undefined): { heap: number; buffers: number } {
  gc?.();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, buffers: usage.arrayBuffers };
}

const MiB = 1024 * 1024;

/** Yields `n` packets drawn from a fixed pool, allocating nothing per packet (the pool is the client's whole cost). */
function* drawn(rng: Rng, pool: readonly Buffer[], n: number, onDraw?: (packet: Buffer) => void): Generator<Buffer> {
  for (let i = 0; i < n; i++) {
    const packet = pool[rng.int(pool.length)]!;
    onDraw?.(packet);
    yield packet;
  }
}

/**
 * Sends `packets` in bursts of `burst` without waiting for any of their answers; after each burst, one
 * query of ours (A web, an ID above 0xf000) whose answer we do wait for. Why: here client and server share
 * one event loop, and a UDP socket's receive buffer (net.core.rmem_default, 208 KiB, about a hundred
 * datagrams as the kernel counts them) drops whatever exceeds it before the server reads anything. An
 * unpaced flood mostly tests the kernel; bursts that fit the buffer make every packet reach respond(), as
 * fast as the server can take them. The server reads its socket in order: once our query is answered,
 * every packet of the burst has been handled.
 */
async function pacedFlood(socket: dgram.Socket, host: string, port: number, packets: Iterable<Buffer>, burst = 64): Promise<number> {
  let sent = 0;
  let batch: Buffer[] = [];
  let id = 0xf400;
  const chase = async () => {
    sent += (await blast(socket, host, port, batch, 16)).sent;
    batch = [];
    id = id >= 0xfffe ? 0xf400 : id + 1;
    const answer = await askUdp(socket, host, port, dns2Query(id, 'web', TYPE.A), 10_000);
    if (aAddresses(answer)[0] !== '10.0.0.2') throw new Error(`wrong answer to A web during a flood: ${hex(answer)}`);
  };
  for (const packet of packets) {
    batch.push(packet);
    if (batch.length >= burst) await chase();
  }
  if (batch.length) await chase();
  return sent;
}

t.test('a flood of 50k UDP queries, then two paced ones: the server keeps answering and its memory does not grow', async (t) => {
  const rng = prng(SEED ^ 0x3);
  const { server } = await startServer(t, FLOOD);
  const socket = await udpSocket(t);
  let answers = 0;
  let problems = 0;
  socket.on('message', (m: Buffer) => {
    if (m.length >= 2 && m.readUInt16BE(0) >= 0xf000) return;
    answers++;
    if (malformation(m) || !(m[2]! & 0x80)) problems++;
  });
  const owned = ['web', 'WEB.front', 'tasks.web', 'web.1.aaaa', 'db', 'nope.web', '_80._tcp.web', '3.1.0.10.in-addr.arpa', 'example.org'];
  const pool: Buffer[] = [];
  for (let i = 0; i < 256; i++) {
    const name = rng.pick(owned);
    const type = name.endsWith('arpa') ? TYPE.PTR : name.startsWith('_') ? TYPE.SRV : rng.pick([TYPE.A, TYPE.A, TYPE.AAAA, TYPE.ANY]);
    pool.push(dns2Query(rng.int(0xf000), name, type, CLASS_IN, rng.chance(0.3) ? { payload: 1232, options: [] } : undefined));
  }
  for (const c of randomCases(rng, 64)) { const p = Buffer.from(c.packet); if (p.length) p[0]! &= 0xef; pool.push(p); }
  for (const c of hostileCases()) if (c.packet.length <= 1500) { const p = Buffer.from(c.packet); if (p.length) p[0]! &= 0xef; pool.push(p); }
  // Which of them get an answer at all (the rest are dropped by design: too short, or responses).
  const answerable = new Set<Buffer>();
  for (const p of pool) if (await server.respond(p, 'udp')) answerable.add(p);
  t.comment(`pool: ${pool.length} packets, ${answerable.size} of which get an answer`);

  const n = 50_000;
  // 1. As fast as the socket takes them: most are dropped by the kernel, and the server still answers.
  let start = performance.now();
  const { sent } = await blast(socket, FLOOD, server.port, drawn(rng, pool, n));
  const good = await askUdp(socket, FLOOD, server.port, dns2Query(0xf001, 'web', TYPE.A), 10_000);
  t.same(aAddresses(good), ['10.0.0.2'], `unpaced: ${sent} packets sent in ${(performance.now() - start).toFixed(0)} ms (${answers} answered), then A web is answered`);

  const gc = garbageCollector();
  t.comment(gc ? 'heap measured after a full collection' : 'no gc available: heap measured with its garbage');
  const paced = async () => {
    start = performance.now();
    const before = answers;
    let expected = 0;
    const sentNow = await pacedFlood(socket, FLOOD, server.port, drawn(rng, pool, n, (p) => { if (answerable.has(p)) expected++; }));
    const got = answers - before;
    t.comment(`paced: ${sentNow} packets in ${(performance.now() - start).toFixed(0)} ms, ${got} answers of ${expected} expected`);
    t.ok(got >= expected * 0.95, `paced flood: the server answered ${got} of the ${expected} answerable`);
  };
  // The first paced flood warms up: JIT code, V8's heap sizes, libuv's and the sockets' buffers reach
  // their steady state, so what the second, identical flood adds is what the server keeps per query. A
  // server that kept anything per query (a map entry, a pending promise, a queued reply, a buffer) would
  // keep 50k of them, and 50k of even the smallest such thing is megabytes; a heap that does not grow
  // from one flood to the next is what "does not grow without bound" can mean from outside.
  await paced();
  const before = memory(gc);
  await paced();
  const after = memory(gc);
  const heapGrowth = after.heap - before.heap;
  const bufferGrowth = after.buffers - before.buffers;
  t.comment(`second paced flood: heap ${(before.heap / MiB).toFixed(1)} -> ${(after.heap / MiB).toFixed(1)} MiB (${(heapGrowth / n).toFixed(1)} bytes a query), array buffers ${(bufferGrowth / MiB).toFixed(2)} MiB`);
  const bound = gc ? 8 * MiB : 32 * MiB;
  t.ok(heapGrowth < bound, `heap grew by ${(heapGrowth / MiB).toFixed(2)} MiB over the second flood (< ${bound / MiB} MiB)`);
  t.ok(bufferGrowth < bound, `array buffers grew by ${(bufferGrowth / MiB).toFixed(2)} MiB (< ${bound / MiB} MiB)`);
  t.equal(problems, 0, `all ${answers} answers well-formed responses`);
});

t.test('a flood for a forwarded name, upstream silent: at most maxForwarded go upstream, the rest get SERVFAIL at once', async (t) => {
  const rng = prng(SEED ^ 0x4);
  // The upstream: receives, never answers. What it has received is what is in flight (the timeout is long).
  const upstream = await (async () => {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, UPSTREAM, () => resolve()));
    t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return socket;
  })();
  const maxForwarded = 8;
  let received = 0;
  let reachedMax: () => void = () => {};
  const full = new Promise<void>((resolve) => { reachedMax = resolve; });
  upstream.on('message', () => { if (++received === maxForwarded) reachedMax(); });
  const { server } = await startServer(t, FORWARDING, { upstreams: [{ address: UPSTREAM, port: upstream.address().port }], maxForwarded, forwardTimeoutMs: 60_000 });
  const client = await udpSocket(t);
  const rcodes = new Map<number, number>();
  let wrong = 0;
  client.on('message', (m: Buffer) => {
    if (m.readUInt16BE(0) >= 0xf000) return;
    rcodes.set(m[3]! & 0xf, (rcodes.get(m[3]! & 0xf) ?? 0) + 1);
    if (malformation(m) || !(m[3]! & 0x80)) wrong++; // RA set: recursion is available, only busy
  });
  const pool = Array.from({ length: 64 }, (_, i) => dns2Query(rng.int(0xf000), `host${i}.example.org`, TYPE.A));

  const gc = garbageCollector();
  const n = 5000;
  let sent = await pacedFlood(client, FORWARDING, server.port, drawn(rng, pool, n));
  t.not(await within(full, 5000), HUNG, `the upstream received the first ${maxForwarded}`);
  const before = memory(gc);
  sent += await pacedFlood(client, FORWARDING, server.port, drawn(rng, pool, n));
  const after = memory(gc);
  t.equal(received, maxForwarded, `after ${sent} queries the upstream has received exactly maxForwarded (${maxForwarded})`);
  const servfails = rcodes.get(2) ?? 0;
  const total = [...rcodes.values()].reduce((a, b) => a + b, 0);
  t.comment(`answers: ${[...rcodes].map(([r, c]) => `${RCODE_NAMES[r]} ${c}`).join(', ')}`);
  t.ok(servfails === total && servfails >= (sent - maxForwarded) * 0.95, `${servfails} SERVFAIL of ${sent - maxForwarded} not forwarded, nothing else`);
  t.equal(wrong, 0, 'every SERVFAIL well-formed, with RA set');
  const growth = after.heap - before.heap;
  t.ok(growth < (gc ? 8 : 32) * MiB, `heap grew by ${(growth / MiB).toFixed(2)} MiB over the second ${n}`);

  // The same through respond(): all at once, none waits (the slots are taken).
  const burst = Array.from({ length: 500 }, (_, i) => server.respond(dns2Query(i, `burst${i}.example.org`, TYPE.A), i % 2 ? 'udp' : 'tcp'));
  const settled = await within(Promise.all(burst), 1000);
  t.ok(settled !== HUNG && settled.every((r) => r && (r[3]! & 0xf) === 2), '500 more at once through respond(): SERVFAIL without waiting');
  t.equal(received, maxForwarded, 'and none of them went upstream');

  t.not(await within(server.close(), 2000), HUNG, `close() returns with ${maxForwarded} queries in flight`);
});

/**
 * Runs `body` (ESM, with `DnsServer`, `dgram`, `host` and `query` in scope) in a child process, as a leaked
 * socket keeps an event loop alive for good; resolves with the JSON it prints last and whether the
 * process then exits by itself within 3 s (it is killed otherwise).
 */
async function inChild(t: Test, body: string): Promise<{ report: Record<string, unknown>; exits: boolean; stderr: string }> {
  const script = `
    import dgram from 'node:dgram';
    const { DnsServer } = await import(process.env.DNS_FUZZ_MODULE);
    const host = process.env.DNS_FUZZ_HOST;
    const query = Buffer.from(process.env.DNS_FUZZ_QUERY, 'hex');
    const silentUpstream = async () => {
      const socket = dgram.createSocket('udp4');
      await new Promise((resolve) => socket.bind(0, host, resolve));
      return socket;
    };
    ${body}
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: {
      ...process.env,
      DNS_FUZZ_MODULE: new URL('../src/vip-dns/index.ts', import.meta.url).href,
      DNS_FUZZ_HOST: CLOSE_LEAK,
      DNS_FUZZ_QUERY: dns2Query(0x0707, 'example.org', TYPE.A).toString('hex'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let out = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const reported = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(); });
    void exited.then(() => resolve());
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  t.not(await within(reported, 15_000), HUNG, 'the child reports', { stderr });
  let report: Record<string, unknown> = {};
  try {
    report = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  } catch {
    t.fail('the child\'s report is JSON', { out, stderr });
  }
  const exits = (await within(exited, 3000)) !== HUNG;
  return { report, exits, stderr: stderr.trim() };
}

t.test('close() during a forward with two silent upstreams: nothing more is sent, nothing stays open', async (t) => {
  const { report, exits, stderr } = await inChild(t, `
    const upstreams = [await silentUpstream(), await silentUpstream()];
    let closed = false;
    const afterClose = [0, 0];
    upstreams.forEach((socket, i) => socket.on('message', () => { if (closed) afterClose[i]++; }));
    const server = new DnsServer({ address: host, port: 0, zone: { vipTtl: 1, taskTtl: 1 }, forwardTimeoutMs: 300,
      upstreams: upstreams.map((s) => ({ address: host, port: s.address().port })) });
    await server.listen(0);
    const firstAsked = new Promise((resolve) => upstreams[0].once('message', resolve));
    const answer = server.respond(query, 'udp');
    await firstAsked;
    closed = true;
    await server.close();
    await answer;
    for (const socket of upstreams) socket.close();
    console.log(JSON.stringify({ afterClose }));
  `);
  expectFixed(t, JSON.stringify(report.afterClose) === '[0,0]', 'no query reaches an upstream after close()', BUG.closeLeak, { 'queries each upstream received after close()': JSON.stringify(report.afterClose), stderr });
  expectFixed(t, exits, 'the process exits once the server and the upstreams are closed (no socket left open)', BUG.closeLeak, { 'still running 3 s after its report': !exits });
});

t.test('respond() before listen(), then listen() and close(): the first forwarder is closed too', async (t) => {
  const { report, exits, stderr } = await inChild(t, `
    const upstream = await silentUpstream();
    const server = new DnsServer({ address: host, port: 0, zone: { vipTtl: 1, taskTtl: 1 }, forwardTimeoutMs: 2000,
      upstreams: [{ address: host, port: upstream.address().port }] });
    const asked = new Promise((resolve) => upstream.once('message', resolve));
    const answer = server.respond(query, 'udp');
    await asked;
    await server.listen(0);
    await server.close();
    const start = Date.now();
    await answer;
    upstream.close();
    console.log(JSON.stringify({ settledAfterCloseMs: Date.now() - start }));
  `);
  const settled = Number(report.settledAfterCloseMs);
  expectFixed(t, settled < 500, 'close() ends the forward in flight at once (not after forwardTimeoutMs, 2 s)', BUG.relistenLeak, { 'respond() settled after close() in ms': settled, stderr });
  expectFixed(t, exits, 'the process exits once the server and the upstream are closed (no socket left open)', BUG.relistenLeak, { 'still running 3 s after its report': !exits });
});

// ---------------------------------------------------------------------------------------------------
// 4. The TCP connection bound.

t.test('maxTcpConnections: the connections beyond it are closed, the others keep working', async (t) => {
  const { server } = await startServer(t, TCP_BOUND, { maxTcpConnections: 4 });
  const { port } = server;
  const held: TcpConn[] = [];
  for (let i = 0; i < 4; i++) {
    const conn = tcpConnect(t, TCP_BOUND, port);
    // Answered means accepted: the server counts it before the next one arrives.
    t.same(aAddresses(await conn.ask(dns2Query(0xe000 + i, 'web', TYPE.A))), ['10.0.0.2'], `connection ${i + 1} answered`);
    held.push(conn);
  }
  for (let i = 0; i < 3; i++) {
    const extra = tcpConnect(t, TCP_BOUND, port);
    extra.socket.write(frame(dns2Query(0xe100 + i, 'web', TYPE.A)));
    t.not(await within(extra.closed, 5000), HUNG, `connection ${5 + i} is closed by the server`);
    t.equal(await extra.next(0), undefined, `connection ${5 + i} got no answer`);
  }
  for (const [i, conn] of held.entries()) {
    t.same(aAddresses(await conn.ask(dns2Query(0xe200 + i, 'tasks.web', TYPE.A))), ['10.0.1.3', '10.0.1.4'], `connection ${i + 1} still answers`);
  }
  // One held connection ends: a new one is taken again once the server has seen it go.
  held[0]!.socket.end();
  await held[0]!.closed;
  const deadline = performance.now() + 5000;
  let answered: Buffer | undefined;
  while (!answered && performance.now() < deadline) {
    const conn = tcpConnect(t, TCP_BOUND, port);
    answered = await conn.ask(dns2Query(0xe300, 'web', TYPE.A), 1000);
    conn.socket.destroy();
  }
  t.same(aAddresses(answered), ['10.0.0.2'], 'a new connection is served once one of the 4 has closed');
});
