// The PROXY protocol (HAProxy's, v1 text and v2 binary) through proxy-protocol-js: the header routemesh
// sends ahead of a connection so the task learns the real client, and the reading of one a trusted proxy
// sends ahead of its own. Reading is incremental: a header split across packets is waited for, bounded.
import net from 'node:net';
import {
  Command, INETProtocol, IPv4Address, IPv4ProxyAddress, IPv6Address, IPv6ProxyAddress, Peer, TransportProtocol,
  V1ProxyProtocol, V2ProxyProtocol,
} from 'proxy-protocol-js';
import type { IPv6AddressTuple } from 'proxy-protocol-js';

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
  return address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
}

export function buildProxyHeader(version: ProxyVersion, source: Endpoint, destination: Endpoint): Buffer {
  const [src, dst] = [plain(source.address), plain(destination.address)];
  const v4 = net.isIPv4(src) && net.isIPv4(dst);
  if (version === 'v1') {
    const header = new V1ProxyProtocol(v4 ? INETProtocol.TCP4 : INETProtocol.TCP6,
      new Peer(v4 ? src : v6(src), source.port), new Peer(v4 ? dst : v6(dst), destination.port));
    return Buffer.from(header.build(), 'latin1');
  }
  const addresses = v4
    ? new IPv4ProxyAddress(IPv4Address.createFrom(src.split('.').map(Number)), source.port, IPv4Address.createFrom(dst.split('.').map(Number)), destination.port)
    : new IPv6ProxyAddress(new IPv6Address(v6Bytes(src)), source.port, new IPv6Address(v6Bytes(dst)), destination.port);
  return Buffer.from(new V2ProxyProtocol(Command.PROXY, TransportProtocol.STREAM, addresses).build());
}

/** An IPv4 address among IPv6 ones is written as its mapped form. */
function v6(address: string): string {
  return net.isIPv4(address) ? `::ffff:${address}` : address;
}

function v6Bytes(address: string): IPv6AddressTuple {
  const canonical = new net.SocketAddress({ address: v6(address), family: 'ipv6' }).address;
  const [head = '', tail = ''] = canonical.includes('::') ? canonical.split('::') : [canonical, ''];
  // A mapped address ends in dotted IPv4: two words' worth.
  const words = (text: string): number[] => (text ? text.split(':') : []).flatMap((group) => {
    if (!group.includes('.')) return [parseInt(group, 16)];
    const n = ipv4Word(group);
    return [n >>> 16, n & 0xffff];
  });
  const [before, after] = [words(head), words(tail)];
  const all = [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
  return all.flatMap((word) => [word >> 8, word & 0xff]) as IPv6AddressTuple;
}

function ipv4Word(dotted: string): number {
  return dotted.split('.').reduce((n, octet) => (n << 8) | Number(octet), 0) >>> 0;
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

