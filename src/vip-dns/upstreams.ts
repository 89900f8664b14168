// Where names we do not own are sent: `--dns-upstream ADDR[:PORT]`, or the host's /etc/resolv.conf.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Upstream } from './Forwarder.js';

export const DNS_PORT = 53;

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8 or ::1 (an IPv4-mapped 127.x too): the only addresses routemesh ever sends to. */
export function isLoopback(address: string): boolean {
  const plain = address.split('%')[0]!.replace(/^::ffff:(?=\d+\.)/i, '');
  const family = net.isIP(plain);
  return family !== 0 && LOOPBACK.check(plain, family === 4 ? 'ipv4' : 'ipv6');
}
/** Like Swarm's resolver (and glibc), only the first three nameservers are used. */
const MAX_RESOLV_CONF_SERVERS = 3;

/**
 * A DNS server's address, ours or an upstream's: `10.0.0.2`, `10.0.0.2:5353`, `::1` or `[::1]:5353`
 * (without a port, `defaultPort`); throws an error that shows the expected form.
 */
export function parseDnsAddress(text: string, defaultPort = DNS_PORT): Upstream {
  const value = text.trim();
  const withPort = /^\[([^\]]+)\](?::(.*))?$/.exec(value) ?? /^([^:]*)(?::(.*))?$/.exec(value);
  const [address, port] = net.isIPv6(value) ? [value, undefined] : [withPort?.[1] ?? '', withPort?.[2]];
  const portNumber = /^\d{1,5}$/.test(port ?? '') ? Number(port) : NaN;
  if (!net.isIP(address) || (port !== undefined && !(portNumber >= 1 && portNumber <= 65535))) {
    throw new Error(`'${text}' is not a DNS address: use ADDR or ADDR:PORT, like 127.0.0.53 or 127.0.0.53:53 ([::1]:53 for IPv6)`);
  }
  return { address, port: port === undefined ? defaultPort : portNumber };
}

/** The nameservers of a resolv.conf text, in order; IPv6 zone ids (`fe80::1%eth0`) are kept as Node needs them. */
export function resolvConfUpstreams(text: string): Upstream[] {
  const upstreams: Upstream[] = [];
  for (const line of text.split('\n')) {
    const [keyword, address] = line.trim().split(/\s+/);
    if (keyword !== 'nameserver' || address === undefined) continue;
    // A zone id (`%eth0`) belongs to IPv6 link-local addresses only; glibc ignores anything else.
    if (!(net.isIP(address) === 4 || net.isIPv6(address.split('%')[0]!))) continue;
    upstreams.push({ address, port: DNS_PORT });
  }
  return upstreams.slice(0, MAX_RESOLV_CONF_SERVERS);
}

/** The host's resolvers; none (every forwarded name then gets SERVFAIL) when the file cannot be read. */
export function systemUpstreams(path = '/etc/resolv.conf'): Upstream[] {
  try {
    return resolvConfUpstreams(readFileSync(path, 'utf8'));
  } catch {
    return [];
  }
}
