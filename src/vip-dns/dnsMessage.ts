// DNS messages on the wire. A query is checked by its header, then parsed by dns2, so hostile counts or
// sizes cost nothing; what is malformed gets FORMERR, what is not a query at all gets no answer
// (answering responses is how reflection loops start). Answers are written by WireWriter.
import { Packet } from 'dns2';
import type { Question } from 'dns2';
import { WireWriter } from './WireWriter.js';
import type { QueryType, ZoneAnswer, ZoneRecord } from './Zone.js';

const HEADER_BYTES = 12;
/** A question and an OPT record fit many times over; anything longer is not a query we need to read. */
export const MAX_QUERY_BYTES = 1024;
const CLASSIC_UDP_LIMIT = 512;
/** What we advertise and the most we send over UDP: the DNS flag day's fragmentation-safe size. */
export const EDNS_UDP_LIMIT = 1232;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
/** The most a DNS message over TCP can hold: its length prefix is two bytes. */
export const TCP_LIMIT = 0xffff;

const QUERY_TYPES = new Map<number, QueryType>([[1, 'A'], [28, 'AAAA'], [12, 'PTR'], [33, 'SRV'], [255, 'ANY']]);
const CLASS_IN = 1;
const CLASS_ANY = 255;
const TYPE_OPT = 41;

export interface Query {
  id: number;
  rd: 0 | 1;
  name: string;
  type: QueryType;
  /** IN or ANY: the only classes our zone answers; others are forwarded. */
  internetClass: boolean;
  /** The requestor's EDNS UDP payload size, or undefined without EDNS. */
  ednsPayload: number | undefined;
  question: Question;
}

export type QueryCheck =
  | { kind: 'drop' }
  | { kind: 'reply'; reply: Buffer }
  | { kind: 'query'; query: Query };

/** Reads a query, or says how to turn it away. Never throws. */
export function readQuery(raw: Buffer): QueryCheck {
  if (raw.length < HEADER_BYTES) return { kind: 'drop' };
  const flags = raw.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'drop' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { kind: 'reply', reply: headerOnly(raw, RCODE.NOTIMP) };
  const [qd, an, ns, ar] = [4, 6, 8, 10].map((at) => raw.readUInt16BE(at));
  // One question, no answers or authorities, at most an OPT and one more (a TSIG we will not check).
  if (raw.length > MAX_QUERY_BYTES || qd !== 1 || an !== 0 || ns !== 0 || ar! > 2) {
    return { kind: 'reply', reply: headerOnly(raw, RCODE.FORMERR) };
  }
  let packet: Packet;
  try {
    packet = Packet.parse(raw);
  } catch {
    return { kind: 'reply', reply: headerOnly(raw, RCODE.FORMERR) };
  }
  const question = packet.questions[0];
  if (!question || typeof question.name !== 'string') return { kind: 'reply', reply: headerOnly(raw, RCODE.FORMERR) };
  const opts = packet.additionals.filter((r) => r?.type === TYPE_OPT);
  if (opts.length > 1) return { kind: 'reply', reply: headerOnly(raw, RCODE.FORMERR) };
  const opt = opts[0];
  const query: Query = {
    id: packet.header.id,
    rd: packet.header.rd ? 1 : 0,
    name: question.name,
    type: QUERY_TYPES.get(question.type) ?? 'OTHER',
    internetClass: question.class === CLASS_IN || question.class === CLASS_ANY,
    ednsPayload: opt ? opt.class : undefined,
    question,
  };
  // EDNS version 0 is the only one (RFC 6891 §6.1.3): any other gets BADVERS, with our OPT saying 0.
  if (opt && (opt.ttl >>> 16) & 0xff) return { kind: 'reply', reply: encodeError(query, RCODE.BADVERS, false) };
  return { kind: 'query', query };
}

/** The largest UDP answer this query may get (RFC 6891: at least 512, never below). */
export function udpLimit(query: Query): number {
  if (query.ednsPayload === undefined) return CLASSIC_UDP_LIMIT;
  return Math.max(CLASSIC_UDP_LIMIT, Math.min(query.ednsPayload, EDNS_UDP_LIMIT));
}

/**
 * Our answer to a query, encoded, in at most `limit` bytes. Over UDP an answer that does not fit is sent
 * as its question alone with TC set, and the client asks again over TCP. Over TCP (`fill`), where there
 * is no retry, it keeps as many records as fit, still with TC set.
 */
export function encodeAnswer(query: Query, answer: ZoneAnswer, options: { recursionAvailable: boolean; limit: number; fill?: boolean }): Buffer {
  const rcode = RCODE[answer.rcode];
  const ra = options.recursionAvailable;
  const full = message(query, rcode, ra, answer.answers, answer.additionals);
  if (full.length <= options.limit) return full;
  let kept = options.fill ? Math.floor((answer.answers.length * options.limit) / full.length) : 0;
  for (; kept > 0; kept--) {
    const partial = message(query, rcode, ra, answer.answers.slice(0, kept), [], true);
    if (partial.length <= options.limit) return partial;
  }
  return message(query, rcode, ra, [], [], true);
}

/** An answer with no records: SERVFAIL when nothing upstream answered, for instance. */
export function encodeError(query: Query, rcode: number, recursionAvailable: boolean): Buffer {
  return message(query, rcode, recursionAvailable, [], []);
}

const TYPE_CODES = { A: 1, PTR: 12, SRV: 33 } as const;
const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

function message(query: Query, rcode: number, ra: boolean, answers: ZoneRecord[], additionals: ZoneRecord[], tc = false): Buffer {
  const out = new WireWriter();
  out.u16(query.id);
  // An rcode above 15 (BADVERS) keeps its low bits here and its high bits in the OPT record (RFC 6891).
  out.u16(FLAG.QR | FLAG.AA | (tc ? FLAG.TC : 0) | (query.rd ? FLAG.RD : 0) | (ra ? FLAG.RA : 0) | (rcode & 0xf));
  const edns = query.ednsPayload !== undefined;
  for (const count of [1, answers.length, 0, additionals.length + (edns ? 1 : 0)]) out.u16(count);
  out.name(query.question.name);
  out.u16(query.question.type);
  out.u16(query.question.class);
  for (const record of [...answers, ...additionals]) writeRecord(out, record);
  // Our OPT pseudo-record: root owner, the UDP size we accept, the rcode's high bits, version 0, no options.
  if (edns) {
    out.u8(0);
    out.u16(TYPE_OPT);
    out.u16(EDNS_UDP_LIMIT);
    out.u32((rcode >> 4) << 24);
    out.u16(0);
  }
  return out.toBuffer();
}

function writeRecord(out: WireWriter, record: ZoneRecord): void {
  out.name(record.name);
  out.u16(TYPE_CODES[record.type]);
  out.u16(CLASS_IN);
  out.u32(record.ttl);
  const lengthAt = out.length;
  out.u16(0);
  switch (record.type) {
    case 'A': out.ipv4(record.address); break;
    case 'PTR': out.name(record.target); break;
    case 'SRV':
      out.u16(record.priority);
      out.u16(record.weight);
      out.u16(record.port);
      out.name(record.target, { compress: false });
      break;
  }
  out.setU16(lengthAt, out.length - lengthAt - 2);
}

/** A reply made of the query's own header: its ID, opcode and RD kept, QR and the rcode set, no sections. */
export function headerOnly(raw: Buffer, rcode: number): Buffer {
  const reply = Buffer.alloc(HEADER_BYTES);
  raw.copy(reply, 0, 0, 2);
  const flags = raw.readUInt16BE(2);
  reply.writeUInt16BE(0x8000 | (flags & 0x7900) | (rcode & 0xf), 2);
  return reply;
}

export function rcodeOf(message: Buffer): number {
  return message.length >= 4 ? message.readUInt16BE(2) & 0xf : RCODE.FORMERR;
}

export function isResponse(message: Buffer): boolean {
  return message.length >= HEADER_BYTES && (message.readUInt16BE(2) & 0x8000) !== 0;
}
