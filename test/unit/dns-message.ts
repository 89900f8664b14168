// DNS messages on the wire: what readQuery accepts, drops or turns away (NOTIMP, FORMERR) before and after
// dns2 parses it; how big a UDP answer may be; and what encodeAnswer / encodeError put on the wire.
import t from 'tap';
import { Packet } from 'dns2';
import type { Question, Resource } from 'dns2';
import { EDNS_UDP_LIMIT, RCODE, encodeAnswer, encodeError, headerOnly, isResponse, rcodeOf, udpLimit } from '../../src/vip-dns/dnsMessage.js';
import { MAX_QUERY_BYTES, readQuery } from '../../src/vip-dns/dnsQuery.js';
import type { Query, QueryCheck } from '../../src/vip-dns/dnsQuery.js';
import type { ZoneAnswer } from '../../src/vip-dns/Zone.js';

const ID = 0xbeef;

interface QueryOptions {
  id?: number;
  rd?: 0 | 1;
  name?: string;
  type?: number;
  cls?: number;
  /** The OPT record's UDP payload size; no OPT record when absent. */
  edns?: number;
  questions?: number;
  answers?: number;
  authorities?: number;
  /** Extra A records in the additional section, beside the OPT record. */
  extraAdditionals?: number;
}

const aRecord = (name: string): Resource => ({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 60, address: '10.0.0.1' }) as Resource;
const optRecord = (size: number): Resource => ({ name: '', type: 41, class: size, ttl: 0, rdata: [] }) as unknown as Resource;

/** A query as a client builds it, through dns2. */
function queryPacket(o: QueryOptions = {}): Buffer {
  const packet = new Packet();
  packet.header.id = o.id ?? ID;
  packet.header.rd = o.rd ?? 1;
  for (let i = 0; i < (o.questions ?? 1); i++) {
    packet.questions.push({ name: i === 0 ? (o.name ?? 'my-web') : `q${i}.example`, type: o.type ?? Packet.TYPE.A, class: o.cls ?? Packet.CLASS.IN } as Question);
  }
  for (let i = 0; i < (o.answers ?? 0); i++) packet.answers.push(aRecord('an.example'));
  for (let i = 0; i < (o.authorities ?? 0); i++) packet.authorities.push(aRecord('ns.example'));
  if (o.edns !== undefined) packet.additionals.push(optRecord(o.edns));
  for (let i = 0; i < (o.extraAdditionals ?? 0); i++) packet.additionals.push(aRecord('ar.example'));
  return packet.toBuffer();
}

/** A header by hand: flags and section counts as given. */
function header(flags: number, counts: [number, number, number, number] = [1, 0, 0, 0], id = ID): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(flags, 2);
  counts.forEach((count, i) => buf.writeUInt16BE(count, 4 + 2 * i));
  return buf;
}

/** A question by hand: raw name bytes, then type A class IN. */
const question = (name: number[]): Buffer => Buffer.concat([Buffer.from(name), Buffer.from([0, 1, 0, 1])]);
const RD = 0x0100;
const MY_WEB = [6, ...Buffer.from('my-web'), 0];

function queryOf(check: QueryCheck): Query {
  if (check.kind !== 'query') throw new Error(`expected a query, got ${check.kind}`);
  return check.query;
}

interface ReadRow {
  name: string;
  raw: Buffer;
  expect: Partial<Omit<Query, 'questionBytes'>>;
}

const goodRows: ReadRow[] = [
  { name: 'a plain A query is read with its id, RD, name and type, no EDNS', raw: queryPacket(), expect: { id: ID, rd: 1, name: 'my-web', type: 'A', internetClass: true, ednsPayload: undefined } },
  { name: 'a query without RD is read with rd 0', raw: queryPacket({ rd: 0 }), expect: { rd: 0 } },
  { name: 'a query with an OPT record carries its UDP payload size', raw: queryPacket({ edns: 4096 }), expect: { name: 'my-web', ednsPayload: 4096 } },
  { name: 'a small advertised EDNS size is read as given', raw: queryPacket({ edns: 100 }), expect: { ednsPayload: 100 } },
  { name: 'an OPT record and one more additional (a TSIG, say) are allowed', raw: queryPacket({ edns: 1232, extraAdditionals: 1 }), expect: { ednsPayload: 1232 } },
  { name: 'a dotted name is read whole', raw: queryPacket({ name: 'tasks.my-web' }), expect: { name: 'tasks.my-web' } },
  { name: 'the name keeps its case', raw: queryPacket({ name: 'Tasks.My-Web' }), expect: { name: 'Tasks.My-Web' } },
  { name: 'AAAA is read as AAAA', raw: queryPacket({ type: Packet.TYPE.AAAA }), expect: { type: 'AAAA' } },
  { name: 'PTR is read as PTR', raw: queryPacket({ type: Packet.TYPE.PTR, name: '2.0.20.127.in-addr.arpa' }), expect: { type: 'PTR', name: '2.0.20.127.in-addr.arpa' } },
  { name: 'SRV is read as SRV', raw: queryPacket({ type: Packet.TYPE.SRV }), expect: { type: 'SRV' } },
  { name: 'ANY is read as ANY', raw: queryPacket({ type: Packet.TYPE.ANY }), expect: { type: 'ANY' } },
  { name: 'MX is read as OTHER', raw: queryPacket({ type: Packet.TYPE.MX }), expect: { type: 'OTHER' } },
  { name: 'TXT is read as OTHER', raw: queryPacket({ type: Packet.TYPE.TXT }), expect: { type: 'OTHER' } },
  { name: 'class ANY counts as internet class', raw: queryPacket({ cls: Packet.CLASS.ANY }), expect: { internetClass: true } },
  { name: 'class CH is not internet class', raw: queryPacket({ cls: Packet.CLASS.CH }), expect: { internetClass: false } },
  { name: 'class and type are kept as numbers too', raw: queryPacket({ type: Packet.TYPE.MX, cls: Packet.CLASS.CH }), expect: { qtype: Packet.TYPE.MX, qclass: Packet.CLASS.CH } },
  { name: 'a query of exactly MAX_QUERY_BYTES is read', raw: Buffer.concat([queryPacket(), Buffer.alloc(MAX_QUERY_BYTES - queryPacket().length)]), expect: { name: 'my-web' } },
];

for (const row of goodRows) {
  t.test(`readQuery: ${row.name}`, async (t) => {
    const check = readQuery(row.raw);
    t.equal(check.kind, 'query');
    if (check.kind !== 'query') return;
    const { questionBytes, ...query } = check.query;
    for (const [key, value] of Object.entries(row.expect)) t.equal(query[key as keyof typeof query], value, key);
    t.equal(query.dottedLabel, false, 'no label holds a dot');
    t.ok(row.raw.subarray(12).subarray(0, questionBytes.length).equals(questionBytes), 'the question is kept as it came, for replies');
  });
}

interface DropRow {
  name: string;
  raw: Buffer;
}

const dropRows: DropRow[] = [
  { name: 'an empty datagram is dropped', raw: Buffer.alloc(0) },
  { name: 'eleven bytes (less than a header) are dropped', raw: queryPacket().subarray(0, 11) },
  { name: 'a response (QR set) is dropped, never answered', raw: Buffer.concat([header(0x8000 | RD), question(MY_WEB)]) },
  { name: 'a response with a non-zero opcode is dropped too', raw: Buffer.concat([header(0x8000 | (2 << 11)), question(MY_WEB)]) },
];

for (const row of dropRows) {
  t.test(`readQuery: ${row.name}`, async (t) => {
    t.strictSame(readQuery(row.raw), { kind: 'drop' });
  });
}

t.test('readQuery: the hand-built good query the error rows are made from is itself read', async (t) => {
  // So that each FORMERR row below fails for the one defect it names.
  t.equal(queryOf(readQuery(Buffer.concat([header(RD), question(MY_WEB)]))).name, 'my-web');
});

interface ReplyRow {
  name: string;
  raw: Buffer;
  rcode: number;
}

const replyRows: ReplyRow[] = [
  { name: 'opcode 2 (STATUS) gets NOTIMP', raw: Buffer.concat([header((2 << 11) | RD), question(MY_WEB)]), rcode: RCODE.NOTIMP },
  { name: 'opcode 1 (IQUERY) gets NOTIMP', raw: Buffer.concat([header((1 << 11) | RD), question(MY_WEB)]), rcode: RCODE.NOTIMP },
  { name: 'opcode 5 (UPDATE) gets NOTIMP', raw: Buffer.concat([header(5 << 11), question(MY_WEB)]), rcode: RCODE.NOTIMP },
  { name: 'a bare header with opcode 4 (NOTIFY) gets NOTIMP', raw: header(4 << 11, [0, 0, 0, 0]), rcode: RCODE.NOTIMP },
  { name: 'no question (qdcount 0) is FORMERR', raw: queryPacket({ questions: 0 }), rcode: RCODE.FORMERR },
  { name: 'two questions (qdcount 2) is FORMERR', raw: queryPacket({ questions: 2 }), rcode: RCODE.FORMERR },
  { name: 'an answer record in a query (ancount 1) is FORMERR', raw: queryPacket({ answers: 1 }), rcode: RCODE.FORMERR },
  { name: 'an authority record in a query (nscount 1) is FORMERR', raw: queryPacket({ authorities: 1 }), rcode: RCODE.FORMERR },
  { name: 'three additional records (arcount 3) is FORMERR', raw: queryPacket({ edns: 4096, extraAdditionals: 2 }), rcode: RCODE.FORMERR },
  { name: 'a huge claimed count is FORMERR without parsing', raw: Buffer.concat([header(RD, [1, 0, 0, 0xffff]), question(MY_WEB)]), rcode: RCODE.FORMERR },
  { name: 'a query one byte over MAX_QUERY_BYTES is FORMERR', raw: Buffer.concat([queryPacket(), Buffer.alloc(MAX_QUERY_BYTES + 1 - queryPacket().length)]), rcode: RCODE.FORMERR },
  { name: 'a header claiming a question it does not carry is FORMERR', raw: header(RD), rcode: RCODE.FORMERR },
  { name: 'a question truncated mid-name is FORMERR', raw: Buffer.concat([header(RD), Buffer.from([6, ...Buffer.from('my-')])]), rcode: RCODE.FORMERR },
  { name: 'a question whose name never ends is FORMERR', raw: Buffer.concat([header(RD), Buffer.from([6, ...Buffer.from('my-web')])]), rcode: RCODE.FORMERR },
  { name: 'a question cut off before its type and class is FORMERR', raw: Buffer.concat([header(RD), Buffer.from(MY_WEB)]), rcode: RCODE.FORMERR },
  { name: 'a compression pointer to itself is FORMERR', raw: Buffer.concat([header(RD), question([0xc0, 12])]), rcode: RCODE.FORMERR },
  { name: 'two compression pointers to each other are FORMERR', raw: Buffer.concat([header(RD), question([1, 0x61, 0xc0, 16, 0xc0, 12])]), rcode: RCODE.FORMERR },
  { name: 'a compression pointer past the end is FORMERR', raw: Buffer.concat([header(RD), question([0xc0, 0xff])]), rcode: RCODE.FORMERR },
  { name: 'a label of 64 octets is FORMERR', raw: Buffer.concat([header(RD), question([64, ...Buffer.alloc(64, 0x61), 0])]), rcode: RCODE.FORMERR },
  { name: 'a reserved label type (0x80) is FORMERR', raw: Buffer.concat([header(RD), question([0x80, 0x61, 0])]), rcode: RCODE.FORMERR },
];

for (const row of replyRows) {
  t.test(`readQuery: ${row.name}`, async (t) => {
    const check = readQuery(row.raw);
    t.equal(check.kind, 'reply');
    if (check.kind !== 'reply') return;
    const reply = check.reply;
    t.equal(reply.length, 12, 'a header alone');
    t.equal(reply.readUInt16BE(0), row.raw.readUInt16BE(0), 'the query\'s ID');
    const flags = reply.readUInt16BE(2);
    const asked = row.raw.readUInt16BE(2);
    t.equal(flags & 0x8000, 0x8000, 'QR set');
    t.equal(flags & 0xf, row.rcode, 'rcode');
    t.equal(flags & 0x7800, asked & 0x7800, 'the opcode kept');
    t.equal(flags & RD, asked & RD, 'RD kept');
    t.strictSame([2, 4, 6, 8, 10].map((at) => at === 2 ? 0 : reply.readUInt16BE(at)), [0, 0, 0, 0, 0], 'no sections');
  });
}

t.test('readQuery: no prefix of a query throws, and one cut inside the question is never read as a query', async (t) => {
  const raw = queryPacket({ edns: 4096 });
  const questionEnd = 12 + MY_WEB.length + 4;
  const kinds = new Set<string>();
  for (let length = 0; length < raw.length; length++) {
    let check: QueryCheck | undefined;
    t.doesNotThrow(() => { check = readQuery(raw.subarray(0, length)); }, `${length} bytes`);
    if (length < questionEnd) kinds.add(`${length < 12 ? 'short' : 'cut'}:${check?.kind}`);
  }
  t.strictSame([...kinds].sort(), ['cut:reply', 'short:drop']);
});

t.test('headerOnly keeps the ID, opcode and RD, sets QR and the rcode, and drops every other flag', async (t) => {
  // AA, TC, RA, Z and an old rcode set in the query: none of them may leak into the reply.
  const raw = header(0x0400 | 0x0200 | (3 << 11) | RD | 0x0080 | 0x0070 | 0x000f, [1, 2, 3, 4], 0x1234);
  const reply = headerOnly(raw, RCODE.REFUSED);
  t.equal(reply.length, 12);
  t.equal(reply.readUInt16BE(0), 0x1234);
  t.equal(reply.readUInt16BE(2), 0x8000 | (3 << 11) | RD | RCODE.REFUSED);
  t.equal(reply.subarray(4).toString('hex'), '0000000000000000', 'zero counts');
});

interface LimitRow {
  name: string;
  edns: number | undefined;
  expect: number;
}

const limitRows: LimitRow[] = [
  { name: 'without EDNS a UDP answer may be 512 bytes', edns: undefined, expect: 512 },
  { name: 'EDNS 4096 is capped at the fragmentation-safe 1232', edns: 4096, expect: EDNS_UDP_LIMIT },
  { name: 'EDNS 1232 gives 1232', edns: 1232, expect: 1232 },
  { name: 'EDNS 1000 gives 1000', edns: 1000, expect: 1000 },
  { name: 'EDNS 512 gives 512', edns: 512, expect: 512 },
  { name: 'EDNS 100 is raised to 512, never below', edns: 100, expect: 512 },
  { name: 'EDNS 0 is raised to 512', edns: 0, expect: 512 },
];

for (const row of limitRows) {
  t.test(`udpLimit: ${row.name}`, async (t) => {
    t.equal(EDNS_UDP_LIMIT, 1232);
    t.equal(udpLimit(queryOf(readQuery(queryPacket(row.edns === undefined ? {} : { edns: row.edns })))), row.expect);
  });
}

const webAnswer: ZoneAnswer = { rcode: 'NOERROR', answers: [{ type: 'A', name: 'my-web', ttl: 600, address: '127.10.0.2' }], additionals: [] };

const isOpt = (r: Resource): boolean => r.type === 41;

t.test('encodeAnswer: an authoritative answer with the question echoed and the records as given', async (t) => {
  const query = queryOf(readQuery(queryPacket({ id: 0x4242, name: 'My-Web' })));
  const answer: ZoneAnswer = { rcode: 'NOERROR', answers: [{ type: 'A', name: 'My-Web', ttl: 600, address: '127.10.0.2' }], additionals: [] };
  const reply = Packet.parse(encodeAnswer(query, answer, { recursionAvailable: true, limit: 0xffff }));
  t.has(reply.header, { id: 0x4242, qr: 1, opcode: 0, aa: 1, tc: 0, rd: 1, ra: 1, rcode: 0 });
  t.strictSame(reply.questions.map((q) => [q.name, q.type, q.class]), [['My-Web', Packet.TYPE.A, Packet.CLASS.IN]]);
  t.strictSame(reply.answers.map((r) => [r.name, r.type, r.class, r.ttl, r.address]), [['My-Web', Packet.TYPE.A, Packet.CLASS.IN, 600, '127.10.0.2']]);
  t.equal(reply.additionals.length, 0, 'no OPT for a query without one');
});

t.test('encodeAnswer: RD and RA follow the query and the option', async (t) => {
  const query = queryOf(readQuery(queryPacket({ rd: 0 })));
  const reply = Packet.parse(encodeAnswer(query, webAnswer, { recursionAvailable: false, limit: 0xffff }));
  t.equal(reply.header.rd, 0);
  t.equal(reply.header.ra, 0);
});

t.test('encodeAnswer: SRV records and their additional A records survive the wire', async (t) => {
  const query = queryOf(readQuery(queryPacket({ name: '_80._tcp.my-web', type: Packet.TYPE.SRV })));
  const answer: ZoneAnswer = {
    rcode: 'NOERROR',
    answers: [
      { type: 'SRV', name: '_80._tcp.my-web', ttl: 5, priority: 0, weight: 1, port: 10080, target: 'my-web.1.aaa' },
      { type: 'SRV', name: '_80._tcp.my-web', ttl: 5, priority: 0, weight: 1, port: 80, target: 'my-web.2.bbb' },
    ],
    additionals: [
      { type: 'A', name: 'my-web.1.aaa', ttl: 5, address: '127.20.0.2' },
      { type: 'A', name: 'my-web.2.bbb', ttl: 5, address: '127.20.0.3' },
    ],
  };
  const reply = Packet.parse(encodeAnswer(query, answer, { recursionAvailable: true, limit: 0xffff }));
  t.strictSame(
    reply.answers.map((r) => [r.name, r.type, r.ttl, r.priority, r.weight, r.port, r.target]),
    [['_80._tcp.my-web', Packet.TYPE.SRV, 5, 0, 1, 10080, 'my-web.1.aaa'], ['_80._tcp.my-web', Packet.TYPE.SRV, 5, 0, 1, 80, 'my-web.2.bbb']],
  );
  t.strictSame(reply.additionals.map((r) => [r.name, r.type, r.ttl, r.address]), [['my-web.1.aaa', Packet.TYPE.A, 5, '127.20.0.2'], ['my-web.2.bbb', Packet.TYPE.A, 5, '127.20.0.3']]);
});

t.test('encodeAnswer: a PTR record survives the wire', async (t) => {
  const query = queryOf(readQuery(queryPacket({ name: '2.0.20.127.in-addr.arpa', type: Packet.TYPE.PTR })));
  const answer: ZoneAnswer = { rcode: 'NOERROR', answers: [{ type: 'PTR', name: '2.0.20.127.in-addr.arpa', ttl: 5, target: 'my-web.1.aaa' }], additionals: [] };
  const reply = Packet.parse(encodeAnswer(query, answer, { recursionAvailable: true, limit: 0xffff }));
  t.strictSame(reply.answers.map((r) => [r.name, r.type, r.ttl, r.domain]), [['2.0.20.127.in-addr.arpa', Packet.TYPE.PTR, 5, 'my-web.1.aaa']]);
});

t.test('encodeAnswer: NXDOMAIN and NODATA carry their rcode and no records', async (t) => {
  const query = queryOf(readQuery(queryPacket({ name: 'x.my-web' })));
  const nx = Packet.parse(encodeAnswer(query, { rcode: 'NXDOMAIN', answers: [], additionals: [] }, { recursionAvailable: true, limit: 0xffff }));
  t.has(nx.header, { rcode: RCODE.NXDOMAIN, aa: 1, qr: 1 });
  t.equal(nx.answers.length, 0);
  const nodata = Packet.parse(encodeAnswer(query, { rcode: 'NOERROR', answers: [], additionals: [] }, { recursionAvailable: true, limit: 0xffff }));
  t.equal(nodata.header.rcode, RCODE.NOERROR);
  t.equal(nodata.answers.length, 0);
});

t.test('encodeAnswer: an answer over the limit is sent as its question alone with TC set', async (t) => {
  const query = queryOf(readQuery(queryPacket({ name: 'tasks.my-db', id: 7 })));
  const answer: ZoneAnswer = {
    rcode: 'NOERROR',
    answers: Array.from({ length: 40 }, (_, i) => ({ type: 'A' as const, name: 'tasks.my-db', ttl: 5, address: `127.20.1.${i + 1}` })),
    additionals: [],
  };
  const full = encodeAnswer(query, answer, { recursionAvailable: true, limit: 0xffff });
  t.ok(full.length > 512, `the full answer (${full.length} bytes) is over 512`);
  const cut = encodeAnswer(query, answer, { recursionAvailable: true, limit: 512 });
  t.ok(cut.length <= 512, 'the truncated answer fits');
  const reply = Packet.parse(cut);
  t.has(reply.header, { id: 7, qr: 1, aa: 1, tc: 1, rcode: 0 });
  t.strictSame(reply.questions.map((q) => q.name), ['tasks.my-db'], 'the question is echoed');
  t.equal(reply.answers.length, 0, 'no answers');
  t.equal(reply.additionals.length, 0, 'no additionals');
});

t.test('encodeAnswer: an answer exactly at the limit is sent whole; one byte less truncates it', async (t) => {
  const query = queryOf(readQuery(queryPacket()));
  const full = encodeAnswer(query, webAnswer, { recursionAvailable: true, limit: 0xffff });
  t.strictSame(encodeAnswer(query, webAnswer, { recursionAvailable: true, limit: full.length }), full, 'at the limit: the full answer');
  const under = Packet.parse(encodeAnswer(query, webAnswer, { recursionAvailable: true, limit: full.length - 1 }));
  t.equal(under.header.tc, 1, 'one byte under: TC');
  t.equal(under.answers.length, 0);
  t.equal(Packet.parse(full).header.tc, 0, 'no TC when it fits');
});

interface OptRow {
  name: string;
  edns: number | undefined;
  limit?: number;
}

const optRows: OptRow[] = [
  { name: 'a query without EDNS gets no OPT record', edns: undefined },
  { name: 'a query with EDNS gets an OPT record advertising 1232', edns: 4096 },
  { name: 'a query with a small EDNS size gets an OPT record too', edns: 512 },
  { name: 'a truncated answer to an EDNS query keeps its OPT record', edns: 4096, limit: 20 },
  { name: 'a truncated answer to a plain query has no OPT record', edns: undefined, limit: 20 },
];

for (const row of optRows) {
  t.test(`encodeAnswer: ${row.name}`, async (t) => {
    const query = queryOf(readQuery(queryPacket(row.edns === undefined ? {} : { edns: row.edns })));
    const reply = Packet.parse(encodeAnswer(query, webAnswer, { recursionAvailable: true, limit: row.limit ?? 0xffff }));
    const opts = reply.additionals.filter(isOpt);
    t.equal(opts.length, row.edns === undefined ? 0 : 1);
    if (opts.length) t.equal(opts[0]!.class, EDNS_UDP_LIMIT, 'the OPT class is the UDP size we accept');
    if (row.limit) t.equal(reply.header.tc, 1, 'truncated');
    t.equal(reply.additionals.length, opts.length, 'nothing else in the additional section');
  });
}

interface ErrorRow {
  name: string;
  rcode: number;
  ra: boolean;
  edns?: number;
}

const errorRows: ErrorRow[] = [
  { name: 'SERVFAIL with recursion available', rcode: RCODE.SERVFAIL, ra: true },
  { name: 'REFUSED without recursion available', rcode: RCODE.REFUSED, ra: false },
  { name: 'NXDOMAIN with an OPT record for an EDNS query', rcode: RCODE.NXDOMAIN, ra: true, edns: 4096 },
];

for (const row of errorRows) {
  t.test(`encodeError: ${row.name}`, async (t) => {
    const query = queryOf(readQuery(queryPacket({ id: 0x0a0b, name: 'example.org', ...(row.edns ? { edns: row.edns } : {}) })));
    const raw = encodeError(query, row.rcode, row.ra);
    t.equal(rcodeOf(raw), row.rcode, 'rcodeOf reads it back');
    t.ok(isResponse(raw), 'a response');
    const reply = Packet.parse(raw);
    t.has(reply.header, { id: 0x0a0b, qr: 1, rd: 1, ra: row.ra ? 1 : 0, tc: 0, rcode: row.rcode });
    t.strictSame(reply.questions.map((q) => q.name), ['example.org']);
    t.equal(reply.answers.length, 0);
    t.equal(reply.additionals.filter(isOpt).length, row.edns ? 1 : 0);
  });
}

t.test('rcodeOf and isResponse read a message\'s header, and are safe on short ones', async (t) => {
  const table: [string, Buffer, number, boolean][] = [
    ['a query', queryPacket(), RCODE.NOERROR, false],
    ['a FORMERR reply', headerOnly(queryPacket(), RCODE.FORMERR), RCODE.FORMERR, true],
    ['a NXDOMAIN reply', headerOnly(queryPacket(), RCODE.NXDOMAIN), RCODE.NXDOMAIN, true],
    ['three bytes', Buffer.from([0x80, 0, 0]), RCODE.FORMERR, false],
    ['four bytes with QR set, not a whole header', Buffer.from([0, 0, 0x80, 3]), RCODE.NXDOMAIN, false],
  ];
  for (const [name, raw, rcode, response] of table) {
    t.equal(rcodeOf(raw), rcode, `${name}: rcode`);
    t.equal(isResponse(raw), response, `${name}: response`);
  }
});

t.test('encodeAnswer with fill (TCP): as many records as fit, TC set, never over the limit', async (t) => {
  const query = queryOf(readQuery(queryPacket({ name: 'tasks.big' })));
  const many: ZoneAnswer = {
    rcode: 'NOERROR',
    answers: Array.from({ length: 5000 }, (_, i) => ({ type: 'A' as const, name: 'tasks.big', ttl: 5, address: `127.20.${i >> 8}.${i & 255}` })),
    additionals: [],
  };
  const whole = encodeAnswer(query, many, { recursionAvailable: false, limit: 0xfffff });
  t.ok(whole.length > 0xffff, `the whole answer (${whole.length} bytes) would not fit a TCP message`);
  const cut = encodeAnswer(query, many, { recursionAvailable: false, limit: 0xffff, fill: true });
  t.ok(cut.length <= 0xffff, `${cut.length} bytes fit the two-byte length prefix`);
  const reply = Packet.parse(cut);
  t.equal(reply.header.tc, 1, 'TC says records were left out');
  t.ok(reply.answers.length > 4000, `most records are kept (${reply.answers.length})`);
  const noFill = Packet.parse(encodeAnswer(query, many, { recursionAvailable: false, limit: 0xffff }));
  t.equal(noFill.answers.length, 0, 'without fill (UDP) only the question is sent');
});

t.test('readQuery: two OPT records are FORMERR; an EDNS version other than 0 is BADVERS', async (t) => {
  const twoOpts = new Packet();
  twoOpts.header.id = ID;
  twoOpts.questions.push({ name: 'my-web', type: Packet.TYPE.A, class: Packet.CLASS.IN } as Question);
  twoOpts.additionals.push(optRecord(4096), optRecord(4096));
  const formerr = readQuery(twoOpts.toBuffer());
  t.equal(formerr.kind, 'reply');
  if (formerr.kind === 'reply') t.equal(formerr.reply.readUInt16BE(2) & 0xf, 1, 'FORMERR');

  const v1 = new Packet();
  v1.header.id = ID;
  v1.questions.push({ name: 'my-web', type: Packet.TYPE.A, class: Packet.CLASS.IN } as Question);
  v1.additionals.push({ ...optRecord(4096), ttl: 1 << 16 } as Resource);
  const badvers = readQuery(v1.toBuffer());
  t.equal(badvers.kind, 'reply');
  if (badvers.kind !== 'reply') return;
  const reply = Packet.parse(badvers.reply);
  t.equal(reply.header.id, ID);
  const opt = reply.additionals.find(isOpt) as Resource & { ttl: number };
  t.ok(opt, 'the reply carries our OPT record');
  t.equal(reply.header.rcode, 16, 'BADVERS: 0 in the header, 1 in the OPT record\'s extended rcode');
  t.equal((opt.ttl >>> 16) & 0xff, 0, 'and says we speak version 0');
});

const hex = (text: string): Buffer => Buffer.from(text, 'hex');

interface WireRow {
  name: string;
  raw: Buffer;
  expect: 'query' | 'FORMERR';
}

// Packets dns2 alone would misread; each is a header, a question for `web`, then what is being tested.
const QUERY_WEB_AR1 = '720101000001000000000001037765620000010001';
const wireRows: WireRow[] = [
  { name: 'an additional record announced but absent is FORMERR', raw: hex(QUERY_WEB_AR1), expect: 'FORMERR' },
  { name: 'an OPT record cut short is FORMERR', raw: hex(`${QUERY_WEB_AR1}0000290200`), expect: 'FORMERR' },
  { name: 'an OPT record whose data runs past the end is FORMERR', raw: hex(`${QUERY_WEB_AR1}00002904d0000000000010`), expect: 'FORMERR' },
  { name: 'an OPT record owned by a name other than the root is FORMERR', raw: hex(`${QUERY_WEB_AR1}03776562000029 04d0 00000000 0000`.replace(/ /g, '')), expect: 'FORMERR' },
  { name: 'an OPT record with the DO bit and a high extended rcode byte is version 0, not BADVERS', raw: hex(`${QUERY_WEB_AR1}00002904d0800080000000`), expect: 'query' },
  { name: 'a question name with a pointer is FORMERR (it could only point into the header)', raw: hex('720101000001000000000000c00000010001'), expect: 'FORMERR' },
];

for (const row of wireRows) {
  t.test(`readQuery: ${row.name}`, async (t) => {
    const check = readQuery(row.raw);
    if (row.expect === 'query') {
      t.equal(check.kind, 'query');
      if (check.kind === 'query') t.equal(check.query.ednsPayload, 1232);
    } else {
      t.equal(check.kind, 'reply');
      if (check.kind === 'reply') t.equal(check.reply.readUInt16BE(2) & 0xf, RCODE.FORMERR);
    }
  });
}

t.test('readQuery: a long unknown EDNS option is skipped, not read (it costs what any query costs)', async (t) => {
  const option = Buffer.alloc(MAX_QUERY_BYTES - 32 - 4, 0x41);
  const opt = Buffer.concat([hex('00002904d000000000'), Buffer.from([(option.length + 4) >> 8, (option.length + 4) & 255]), hex('fffe'),
    Buffer.from([option.length >> 8, option.length & 255]), option]);
  const raw = Buffer.concat([hex(QUERY_WEB_AR1), opt]);
  const started = performance.now();
  const kinds = new Set<string>();
  for (let i = 0; i < 100; i++) kinds.add(readQuery(raw).kind);
  const perQuery = (performance.now() - started) / 100;
  t.same([...kinds], ['query'], 'read as a query every time');
  t.ok(perQuery < 1, `${perQuery.toFixed(3)} ms per query (dns2 alone took 3.5 ms)`);
});

t.test('a label holding a dot: read as such, never a name of ours, echoed byte for byte', async (t) => {
  // One label "web.front" (9 bytes), not the two labels web and front.
  const raw = hex('515101000001000000000000097765622e66726f6e740000010001');
  const check = readQuery(raw);
  t.equal(check.kind, 'query');
  if (check.kind !== 'query') return;
  t.equal(check.query.dottedLabel, true);
  const reply = encodeError(check.query, RCODE.SERVFAIL, false);
  t.ok(reply.subarray(12).equals(raw.subarray(12)), 'the question comes back as it was asked');
  t.equal(reply.readUInt16BE(2) & 0x0400, 0, 'SERVFAIL for a name not ours is not authoritative');
});
