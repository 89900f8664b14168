// `--store etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`: the etcd members the managers keep the swarm in, and
// the prefix of its keys. Members on loopback only: routemesh sends nothing beyond this machine (a "host"
// of a multi-host test is a network namespace, whose addresses are 127/8 too).
import { isIPv4 } from 'node:net';

export interface StoreAddress {
  /** `host:port` of each member. */
  endpoints: string[];
  /** Where the swarm's keys live, ending in `/`. */
  prefix: string;
}

const ETCD_CLIENT_PORT = 2379;
const DEFAULT_PREFIX = '/routemesh/';
const EXAMPLE = 'etcd://127.1.0.100:2379 (several members: etcd://127.1.0.100:2379,127.1.0.101:2379; keys under another prefix: etcd://127.1.0.100:2379/team-a/)';

export function parseStoreAddress(text: string): StoreAddress {
  const refuse = (why: string): never => {
    throw new Error(`--store ${text}: ${why}; give etcd's client addresses, like ${EXAMPLE}`);
  };
  const match = /^etcd:\/\/([^/]+)(\/.*)?$/.exec(text.trim());
  if (!match) return refuse('not an etcd:// address');
  const endpoints = match[1]!.split(',').map((member) => {
    const [host, port, extra] = member.split(':');
    if (extra !== undefined || !host) return refuse(`'${member}' is not HOST or HOST:PORT`);
    if (!isIPv4(host) || !host.startsWith('127.')) return refuse(`'${host}' is not an IPv4 address in 127.0.0.0/8: routemesh talks only to this machine's loopback`);
    const number = port === undefined ? ETCD_CLIENT_PORT : Number(port);
    if (!/^\d{1,5}$/.test(port ?? '2379') || number < 1 || number > 65535) return refuse(`'${port}' is not a TCP port`);
    return `${host}:${number}`;
  });
  const path = match[2] ?? DEFAULT_PREFIX;
  if (!/^\/[\w./-]*$/.test(path)) return refuse(`the prefix '${path}' may hold only letters, digits and . _ - /`);
  return { endpoints, prefix: path.endsWith('/') ? path : `${path}/` };
}
