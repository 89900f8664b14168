// `node --import tsx bench/proxy-header-build.ts`: what building one PROXY header costs, routemesh's own
// builder (src/lb/proxyHeader.ts) against proxy-protocol-js's, which routemesh used before. Both make the
// same bytes (checked first); 5 interleaved rounds of 200,000 headers each, median ns per header.
import net from 'node:net';
import {
  Command, INETProtocol, IPv4Address, IPv4ProxyAddress, IPv6Address, IPv6ProxyAddress, Peer, TransportProtocol,
  V1ProxyProtocol, V2ProxyProtocol,
} from 'proxy-protocol-js';
import type { IPv6AddressTuple } from 'proxy-protocol-js';
import { buildProxyHeader, plain } from '../src/lb/proxyHeader.js';
import type { Endpoint, ProxyVersion } from '../src/lb/proxyHeader.js';

const ROUNDS = 5;
const CALLS = 200_000;

/** routemesh's builder before, on proxy-protocol-js (src/lb/proxyHeader.ts until 2026-12-07), as it was. */
function libraryHeader(version: ProxyVersion, source: Endpoint, destination: Endpoint): Buffer {
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

function v6(address: string): string {
  return net.isIPv4(address) ? `::ffff:${address}` : address;
}

function v6Bytes(address: string): IPv6AddressTuple {
  const canonical = new net.SocketAddress({ address: v6(address), family: 'ipv6' }).address;
  const [head = '', tail = ''] = canonical.includes('::') ? canonical.split('::') : [canonical, ''];
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

const cases: [string, ProxyVersion, Endpoint, Endpoint][] = [
  ['v1 IPv4', 'v1', { address: '127.150.0.7', port: 40123 }, { address: '127.150.0.1', port: 8080 }],
  ['v2 IPv4', 'v2', { address: '127.150.0.7', port: 40123 }, { address: '127.150.0.1', port: 8080 }],
  ['v1 IPv6', 'v1', { address: '2001:db8::7', port: 40123 }, { address: 'fd00::1', port: 8080 }],
  ['v2 IPv6', 'v2', { address: '2001:db8::7', port: 40123 }, { address: 'fd00::1', port: 8080 }],
  ['v2 IPv6 and IPv4', 'v2', { address: '2001:db8::7', port: 40123 }, { address: '127.150.0.1', port: 8080 }],
];

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** ns per call of `build` over CALLS calls. */
function time(build: () => Buffer): number {
  const started = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < CALLS; i++) bytes += build().length;
  if (bytes === 0) throw new Error('nothing built');
  return Number(process.hrtime.bigint() - started) / CALLS;
}

console.log('| header | proxy-protocol-js ns (min–max) | routemesh ns (min–max) |');
console.log('|---|---:|---:|');
for (const [name, version, source, destination] of cases) {
  const ours = buildProxyHeader(version, source, destination);
  const theirs = libraryHeader(version, source, destination);
  if (!ours.equals(theirs)) throw new Error(`${name}: different bytes: ${ours.toString('hex')} vs ${theirs.toString('hex')}`);
  const runs: { library: number[]; own: number[] } = { library: [], own: [] };
  for (let round = 0; round < ROUNDS; round++) {
    runs.library.push(time(() => libraryHeader(version, source, destination)));
    runs.own.push(time(() => buildProxyHeader(version, source, destination)));
  }
  const cell = (values: number[]): string => `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
  console.log(`| ${name} | ${cell(runs.library)} | ${cell(runs.own)} |`);
}
