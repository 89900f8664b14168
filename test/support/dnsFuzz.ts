// Test support for the DNS fuzz and flood tests (dns-fuzz, dns-fuzz-sockets, dns-flood): a seeded PRNG,
// the zone they serve, packets built by hand (exact bytes) and through dns2, the random, mutated and
// hostile cases, the oracle that judges a reply, and UDP clients that send in bulk.
//
// Deterministic: everything random comes from one seeded PRNG (printed by each file; DNS_FUZZ_SEED=<n>
// reruns with another), and every failure names the packet in hex.
//
// Loopback addresses of 127.215.0.0/16, one set a file as the files run in parallel:
// dns-fuzz .1; dns-fuzz-sockets .2 and client .10; dns-flood .3, .4, .5, .7 and client .11.
import dgram from 'node:dgram';
import type { Test } from 'tap';
import { Packet } from 'dns2';
import { DnsServer } from '../../src/vip-dns/index.js';
import type { DnsServerOptions, ServiceRecord, Transport } from '../../src/vip-dns/index.js';
import { dnsQuery } from './dns.js';

/** The seed of this run: DNS_FUZZ_SEED or a fixed one, printed with how to rerun with it. */
export function fuzzSeed(t: Test, file: string): number {
  const seed = process.env.DNS_FUZZ_SEED !== undefined ? Number(process.env.DNS_FUZZ_SEED) >>> 0 : 0x2e15d0c5;
  t.comment(`${file} seed ${seed} (0x${seed.toString(16)}); rerun with DNS_FUZZ_SEED=${seed}`);
  return seed;
}

// ---------------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): a subtest derives its own stream, so each one reruns alone the same.

export function prng(seed: number) {
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
export type Rng = ReturnType<typeof prng>;

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

/**
 * A server on `address` answering SERVICES, listening on a port of the kernel's choice (or, with `listen`
 * false, for respond() only); closed when the test ends. `log` holds what it logged.
 */
export async function startServer(t: Test, address: string, extra: Partial<DnsServerOptions> = {}, listen = true) {
  const log: string[] = [];
  const server = new DnsServer({ address, port: 0, zone: ZONE, upstreams: [], log: (line) => log.push(line), ...extra });
  server.setRecords(SERVICES);
  if (listen) await server.listen(0);
  t.teardown(() => server.close());
  return { server, log };
}

// ---------------------------------------------------------------------------------------------------
// Building packets: by hand (exact bytes) and through dns2 (the codec the server itself uses).

export const TYPE = { A: 1, PTR: 12, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RD = 0x0100;

export function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id & 0xffff, 0);
  b.writeUInt16BE(flags & 0xffff, 2);
  [qd, an, ns, ar].forEach((count, i) => b.writeUInt16BE(count & 0xffff, 4 + 2 * i));
  return b;
}

/** A name as length-prefixed labels and the root byte; labels are taken as raw bytes (dots included). */
export function wireName(...labels: (string | Buffer)[]): Buffer {
  const parts = labels.map((l) => (typeof l === 'string' ? Buffer.from(l, 'latin1') : l));
  return Buffer.concat([...parts.flatMap((p) => [Buffer.from([p.length]), p]), Buffer.from([0])]);
}

export function u16(...values: number[]): Buffer {
  const b = Buffer.alloc(2 * values.length);
  values.forEach((v, i) => b.writeUInt16BE(v & 0xffff, 2 * i));
  return b;
}

/** An OPT pseudo-record: root name, type 41, the payload size as class, the TTL field, the rdata. */
export function optRecord(payload: number, ttl = 0, rdata: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(11);
  b.writeUInt16BE(TYPE.OPT, 1);
  b.writeUInt16BE(payload, 3);
  b.writeUInt32BE(ttl >>> 0, 5);
  b.writeUInt16BE(rdata.length, 9);
  return Buffer.concat([b, rdata]);
}

export function query(id: number, name: Buffer, type: number, extra: Buffer[] = [], cls = CLASS_IN): Buffer {
  return Buffer.concat([header(id, RD, 1, 0, 0, extra.length), name, u16(type, cls), ...extra]);
}

/** An EDNS Client Subnet option, as dns2 builds it. */
const ecs = (Packet.Resource.EDNS as unknown as { ECS(clientIp: string): object }).ECS;

const LONG_NAME = ['a', 'b', 'c', 'd'].map((c) => c.repeat(60)).join('.');

/** Valid queries, the seeds of the mutations: every answer path (zone, NXDOMAIN, forward, TC, EDNS). */
export function seedQueries(): { label: string; packet: Buffer }[] {
  return [
    { label: 'A web', packet: dnsQuery('web', TYPE.A, 0x1001) },
    { label: 'A WEB.Front (case)', packet: dnsQuery('WEB.Front', TYPE.A, 0x1002) },
    { label: 'SRV _80._tcp.web', packet: dnsQuery('_80._tcp.web', TYPE.SRV, 0x1003) },
    { label: 'PTR 2.0.0.10.in-addr.arpa', packet: dnsQuery('2.0.0.10.in-addr.arpa', TYPE.PTR, 0x1004) },
    { label: 'ANY tasks.web +EDNS 4096', packet: dnsQuery('tasks.web', TYPE.ANY, 0x1005, CLASS_IN, { payload: 4096, options: [] }) },
    { label: 'A db +EDNS 1232 +ECS', packet: dnsQuery('db', TYPE.A, 0x1006, CLASS_IN, { payload: 1232, options: [ecs('10.1.2.0/24')] }) },
    { label: 'SRV _5432._tcp.db +EDNS 512', packet: dnsQuery('_5432._tcp.db', TYPE.SRV, 0x1007, CLASS_IN, { payload: 512, options: [] }) },
    { label: 'A example.org (forwarded)', packet: dnsQuery('example.org', TYPE.A, 0x1008) },
    { label: 'A nope.web (NXDOMAIN)', packet: dnsQuery('nope.web', TYPE.A, 0x1009) },
    { label: 'TXT CH version.bind', packet: dnsQuery('version.bind', TYPE.TXT, 0x100a, 3) },
    { label: 'AAAA web', packet: dnsQuery('web', TYPE.AAAA, 0x100b) },
    { label: 'A db (TC over UDP)', packet: dnsQuery('db', TYPE.A, 0x100c) },
    { label: 'A 245-octet name', packet: dnsQuery(LONG_NAME, TYPE.A, 0x100d) },
  ];
}

// ---------------------------------------------------------------------------------------------------
// The oracle.

export function hex(b: Buffer): string {
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
export function malformation(buf: Buffer): string | undefined {
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

export const KNOWN_RCODES = new Set([0, 1, 2, 3, 4, 5, 16]);
export const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };

interface Verdict {
  /** What is wrong with the reply; undefined when nothing. */
  problem?: string;
  /** The reply's question is not the query's (a label with a dot in it answered as two, say). */
  echo?: string;
  rcode?: number;
}

/** Whether `reply` is an acceptable answer (or absence of one) to `input` sent over `transport`. */
export function judge(input: Buffer, reply: unknown, transport: Transport): Verdict {
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

/** An assertion of a bug of src/ a test once found (since fixed): on failure, the bug and its evidence are printed with it. */
export function expectFixed(t: Test, pass: boolean, message: string, bug: string, evidence: Record<string, unknown>): void {
  t.ok(pass, message, { bug, ...evidence });
}

/** What within() resolves with when the promise has not settled in time. */
export const HUNG = Symbol('hung');
export function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof HUNG> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<typeof HUNG>((resolve) => { timer = setTimeout(() => resolve(HUNG), ms); })])
    .finally(() => clearTimeout(timer));
}

export interface Case {
  label: string;
  packet: Buffer;
  transport: Transport;
}

// ---------------------------------------------------------------------------------------------------
// The cases.

/** Pure noise, and noise behind a header that passes the pre-checks so dns2's parser gets to read it. */
export function randomCases(rng: Rng, n: number): Case[] {
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
export function mutationCases(rng: Rng, label: string, packet: Buffer): Map<string, Case[]> {
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
export function hostileCases(): { label: string; packet: Buffer }[] {
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
// UDP clients that send in bulk.

/** A UDP socket bound to `from` (a loopback address of the calling file), closed at teardown. */
export async function udpSocket(t: Test, from: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, from, () => { socket.off('error', reject); resolve(); });
  });
  socket.on('error', () => {});
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

/** Sends every packet as fast as the socket takes them, at most `window` sends in progress; no waiting for answers. */
export async function blast(socket: dgram.Socket, host: string, port: number, packets: Iterable<Buffer>, window = 64): Promise<{ sent: number; errors: number }> {
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
export function askUdpRetrying(socket: dgram.Socket, host: string, port: number, packet: Buffer, deadlineMs = 5000): Promise<Buffer> {
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

/** The addresses of a reply's answers, sorted ([] for no reply). */
export function aAddresses(reply: Buffer | undefined): string[] {
  return reply ? Packet.parse(reply).answers.map((r) => r.address ?? '?').sort() : [];
}
