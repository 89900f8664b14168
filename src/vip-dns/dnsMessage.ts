// DNS answers on the wire, written by WireWriter; and the few header reads the forwarder needs.
import { WireWriter } from './WireWriter.js';
import type { Query } from './dnsQuery.js';
import type { ZoneAnswer, ZoneRecord } from './Zone.js';

export const HEADER_BYTES = 12;
const CLASSIC_UDP_LIMIT = 512;
/** What we advertise and the most we send over UDP: the DNS flag day's fragmentation-safe size. */
export const EDNS_UDP_LIMIT = 1232;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
/** The most a DNS message over TCP can hold: its length prefix is two bytes. */
export const TCP_LIMIT = 0xffff;

export const CLASS_IN = 1;
export const TYPE_OPT = 41;
/** The record types we answer with or are asked for by name; any other is 'OTHER' to the zone. */
export const TYPE_CODES = { A: 1, AAAA: 28, PTR: 12, SRV: 33, ANY: 255 } as const;

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
    const partial = message(query, rcode, ra, answer.answers.slice(0, kept), [], { tc: true });
    if (partial.length <= options.limit) return partial;
  }
  return message(query, rcode, ra, [], [], { tc: true });
}

/** An answer with no records, and no authority: SERVFAIL when nothing upstream answered, for instance. */
export function encodeError(query: Query, rcode: number, recursionAvailable: boolean): Buffer {
  return message(query, rcode, recursionAvailable, [], [], { authoritative: false });
}

const FLAG = { QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080 } as const;

function message(query: Query, rcode: number, ra: boolean, answers: ZoneRecord[], additionals: ZoneRecord[],
  { tc = false, authoritative = true } = {}): Buffer {
  const out = new WireWriter();
  out.u16(query.id);
  // An rcode above 15 (BADVERS) keeps its low bits here and its high bits in the OPT record (RFC 6891).
  out.u16(FLAG.QR | (authoritative ? FLAG.AA : 0) | (tc ? FLAG.TC : 0) | (query.rd ? FLAG.RD : 0) | (ra ? FLAG.RA : 0) | (rcode & 0xf));
  const edns = query.ednsPayload !== undefined;
  for (const count of [1, answers.length, 0, additionals.length + (edns ? 1 : 0)]) out.u16(count);
  if (query.dottedLabel) {
    out.bytes(query.questionBytes);
  } else {
    // Written from the name, not copied, so the answers' names can point into it.
    out.name(query.name);
    out.u16(query.qtype);
    out.u16(query.qclass);
  }
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
