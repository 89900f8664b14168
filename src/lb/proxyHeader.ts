// The PROXY protocol (HAProxy's, v1 text and v2 binary): the header routemesh sends ahead of a connection
// so the task learns the real client (written here: a few lines, run once per connection, where
// proxy-protocol-js's builder took 1.5-8 times as long: bench/proxy-header-build.ts), and the reading of
// one a trusted proxy sends ahead of its own (through proxy-protocol-js, whose parser checks what a header
// may hold). Reading is incremental: a header split across packets is waited for, bounded.
import net from 'node:net';
import { Command, INETProtocol, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';

export type ProxyVersion = 'v1' | 'v2';

export interface Endpoint {
  address: string;
  port: number;
}

const V1_SIGNATURE = Buffer.from('PROXY ');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The spec's bound on a v1 header, CRLF included. */
const V1_MAX = 107;
const V2_FIXED = 16;

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) as the IPv4 address it is; any other as it is. */
export function plain(address: string): string {
  if (!address.startsWith('::')) return address;
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

/** Our header, v1 or v2, naming `source` to the task (an IPv4 address among IPv6 ones in its mapped form). */
export function buildProxyHeader(version: ProxyVersion, source: Endpoint, destination: Endpoint): Buffer {
  // Both come from a socket or a header we read, so each is a valid address: a colon says IPv6.
  const [src, dst] = [plain(source.address), plain(destination.address)];
  const v4 = !src.includes(':') && !dst.includes(':');
  if (version === 'v1') {
    const line = v4 ? `PROXY TCP4 ${src} ${dst}` : `PROXY TCP6 ${v6(src)} ${v6(dst)}`;
    return Buffer.from(`${line} ${source.port} ${destination.port}\r\n`, 'latin1');
  }
  // v2: the signature; version 2 and PROXY; the family over STREAM; the length of what follows (both
  // addresses, both ports); the addresses and ports in network order.
  const size = v4 ? 4 : 16;
  // Zeroed for IPv6, whose text leaves out groups of zeros.
  const header = v4 ? Buffer.allocUnsafe(V2_FIXED + 2 * size + 4) : Buffer.alloc(V2_FIXED + 2 * size + 4);
  V2_SIGNATURE.copy(header, 0);
  header[12] = 0x21;
  header[13] = v4 ? 0x11 : 0x21;
  header.writeUInt16BE(2 * size + 4, 14);
  if (v4) {
    header.writeUInt32BE(ipv4Word(src), 16);
    header.writeUInt32BE(ipv4Word(dst), 20);
  } else {
    writeIPv6(header, 16, v6(src));
    writeIPv6(header, 32, v6(dst));
  }
  header.writeUInt16BE(source.port, V2_FIXED + 2 * size);
  header.writeUInt16BE(destination.port, V2_FIXED + 2 * size + 2);
  return header;
}

/** An IPv4 address among IPv6 ones is written as its mapped form. */
function v6(address: string): string {
  return address.includes(':') ? address : `::ffff:${address}`;
}

/**
 * The 16 bytes of an IPv6 address in any of its valid texts (`::` anywhere, a dotted IPv4 tail) at `offset`
 * of a zeroed buffer.
 */
function writeIPv6(into: Buffer, offset: number, address: string): void {
  const gap = address.indexOf('::');
  if (gap < 0) {
    writeWords(into, offset, address);
    return;
  }
  writeWords(into, offset, address.slice(0, gap));
  // What follows the gap ends at the address's last byte.
  const tail = address.slice(gap + 2);
  writeWords(into, offset + 16 - 2 * wordCount(tail), tail);
}

/** Colon-separated hex groups (a dotted IPv4 group last counts two) into `into` at `offset`. */
function writeWords(into: Buffer, offset: number, text: string): void {
  if (!text) return;
  let at = offset;
  for (const group of text.split(':')) {
    if (group.includes('.')) {
      into.writeUInt32BE(ipv4Word(group), at);
      at += 4;
    } else {
      into.writeUInt16BE(parseInt(group, 16), at);
      at += 2;
    }
  }
}

function wordCount(text: string): number {
  if (!text) return 0;
  const groups = text.split(':');
  return groups.length + (groups[groups.length - 1]!.includes('.') ? 1 : 0);
}

function ipv4Word(dotted: string): number {
  let word = 0;
  for (const octet of dotted.split('.')) word = (word << 8) | Number(octet);
  return word >>> 0;
}

export type HeaderRead =
  /** No PROXY header: the data is the client's own. */
  | { kind: 'none' }
  /** The start of a header: wait for more bytes. */
  | { kind: 'incomplete' }
  /** A header of `length` bytes; `source` absent for a LOCAL (health check) or UNKNOWN one. */
  | { kind: 'header'; length: number; source?: Endpoint }
  | { kind: 'invalid'; reason: string };

/** More than any real header (v1: 107 bytes; v2 with its usual TLVs): still "a header" past this is refused. */
const MAX_HEADER_BYTES = 4096;

/** Reads a possible header off the start of a stream, chunk by chunk, holding what it has seen. */
export class ProxyHeaderSniffer {
  /** Everything received so far, header included. */
  buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): HeaderRead {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const read = readProxyHeader(this.buffered);
    if (read.kind === 'incomplete' && this.buffered.length >= MAX_HEADER_BYTES) return { kind: 'invalid', reason: 'a PROXY header that never ends' };
    return read;
  }

  /** What follows the header (all of it when there was none). */
  rest(read: HeaderRead): Buffer {
    return read.kind === 'header' ? this.buffered.subarray(read.length) : this.buffered;
  }
}

/** What the start of a client's data holds. */
export function readProxyHeader(data: Buffer): HeaderRead {
  // Most clients' first byte already says no: the common case costs one comparison.
  if (data[0] !== V1_SIGNATURE[0] && data[0] !== V2_SIGNATURE[0]) return { kind: 'none' };
  if (startsLike(data, V1_SIGNATURE)) {
    if (data.length < V1_SIGNATURE.length) return { kind: 'incomplete' };
    const end = data.subarray(0, V1_MAX).indexOf('\r\n');
    if (end < 0) return data.length < V1_MAX ? { kind: 'incomplete' } : { kind: 'invalid', reason: 'a v1 header longer than 107 bytes' };
    const length = end + 2;
    const text = data.subarray(0, length).toString('latin1');
    if (text.startsWith('PROXY UNKNOWN')) return { kind: 'header', length };
    try {
      const header = V1ProxyProtocol.parse(text);
      const source = { address: header.source.ipAddress, port: header.source.port };
      const family = header.inetProtocol === INETProtocol.TCP4 ? 4 : 6;
      const ports = [header.source.port, header.destination.port];
      if (net.isIP(source.address) !== family || net.isIP(header.destination.ipAddress) !== family) {
        return { kind: 'invalid', reason: `a v1 ${header.inetProtocol} header with addresses ${source.address} and ${header.destination.ipAddress}` };
      }
      if (ports.some((port) => !(port >= 0 && port <= 65535))) return { kind: 'invalid', reason: `a v1 header with a port out of range (${ports.join(', ')})` };
      return { kind: 'header', length, source };
    } catch (error) {
      return { kind: 'invalid', reason: (error as Error).message };
    }
  }
  if (startsLike(data, V2_SIGNATURE)) {
    if (data.length < V2_FIXED) return { kind: 'incomplete' };
    const length = V2_FIXED + data.readUInt16BE(14);
    if (data.length < length) return { kind: 'incomplete' };
    try {
      const header = V2ProxyProtocol.parse(new Uint8Array(data.subarray(0, length)));
      if (header.command === Command.LOCAL) return { kind: 'header', length };
      const address = header.proxyAddress;
      if (address instanceof IPv4ProxyAddress) return { kind: 'header', length, source: { address: address.sourceAddress.address.join('.'), port: address.sourcePort } };
      if (address instanceof IPv6ProxyAddress) return { kind: 'header', length, source: { address: v6Text(address.sourceAddress.address), port: address.sourcePort } };
      return { kind: 'header', length };
    } catch (error) {
      return { kind: 'invalid', reason: (error as Error).message };
    }
  }
  return { kind: 'none' };
}

function v6Text(bytes: readonly number[]): string {
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new net.SocketAddress({ address: words.join(':'), family: 'ipv6' }).address;
}

/** `data` begins with `signature`, or with as much of it as has arrived. */
function startsLike(data: Buffer, signature: Buffer): boolean {
  const n = Math.min(data.length, signature.length);
  return n > 0 && data.subarray(0, n).equals(signature.subarray(0, n));
}

