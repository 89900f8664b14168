// The settings every node of a cluster shares, as flags: `up` takes them for all its nodes, and
// `node start` for the one it runs, which `up` passes on to each node process it starts.
import path from 'node:path';
import { usageError } from './errors.js';
import { intFlag, type FlagSpec, type ParsedArgs } from './flags.js';
import { durationFlag } from './duration.js';

/** Docker's --metrics-addr port (the engine's METRICS_PORT; not imported, since the engine loads on demand). */
const METRICS_PORT = 9323;

export const NODE_FLAGS: readonly FlagSpec[] = [
  { name: 'api-port', kind: 'string', valueName: 'port', help: 'Engine API port on every node', defaultText: '2375' },
  { name: 'socket-dir', kind: 'string', valueName: 'dir', help: 'Directory of the engine API sockets, <dir>/<node address>.sock, owner only', defaultText: '$XDG_RUNTIME_DIR/routemesh, /run/routemesh as root, else /tmp/routemesh-<uid>' },
  { name: 'task-subnet', kind: 'string', valueName: 'cidr', help: 'Task addresses', defaultText: '127.20.0.0/16' },
  { name: 'vip-subnet', kind: 'string', valueName: 'cidr', help: 'Service virtual IPs', defaultText: '127.10.0.0/16' },
  { name: 'network-pool', kind: 'string', valueName: 'cidr', help: "Loopback blocks of networks (each network's subnet maps one to one onto a block of it)", defaultText: "the upper half of the node subnet's /16, 127.1.128.0/17 (its highest free part if another block is there)" },
  { name: 'dns', kind: 'string', valueName: 'addr[:port]', help: 'Embedded DNS server (without a port: 53, or an unprivileged one if 53 cannot be bound)', defaultText: '127.0.0.11' },
  { name: 'dns-upstream', kind: 'list', valueName: 'addr[:port]', help: 'Resolver on loopback for names the cluster does not own (repeatable; default: those of /etc/resolv.conf on loopback)' },
  { name: 'dns-vip-ttl', kind: 'string', valueName: 'duration', help: 'How long DNS answers naming a VIP may be cached', defaultText: '10m' },
  { name: 'dns-task-ttl', kind: 'string', valueName: 'duration', help: 'How long DNS answers naming tasks may be cached', defaultText: '5s' },
  { name: 'metrics-port', kind: 'string', valueName: 'port|off', help: 'Prometheus metrics on <node address>:<port>/metrics of every node (off: none)', defaultText: '9323' },
  { name: 'max-replicas', kind: 'string', valueName: 'int', help: 'Most replicas one service may ask for (the --task-subnet bounds it too)', defaultText: '10000' },
  { name: 'heartbeat-period', kind: 'string', valueName: 'duration', help: 'How often nodes send heartbeats; a node is Down after three missed', defaultText: '5s' },
  { name: 'store', kind: 'string', valueName: 'etcd://host:port[,...][/prefix]', help: "Keep the swarm in etcd and elect its leader there (the managers' only; workers never talk to etcd)", defaultText: "each manager's data directory, the managers agreeing among themselves" },
  { name: 'leader-lease', kind: 'string', valueName: 'duration', help: "With --store: how long a leader that stops renewing its etcd lease (killed, cut off) keeps the lead; whole seconds", defaultText: '2s' },
  { name: 'fence-period', kind: 'string', valueName: 'duration', help: 'How long a task stopped on purpose keeps serving, once every mesh has fenced it, the connections they accepted before', defaultText: '2s' },
];

/** What NODE_FLAGS say, in the engine's terms. */
export interface NodeSettings {
  apiPort: number;
  socketDir?: string;
  taskSubnet: string;
  vipSubnet: string;
  /** Absent: derived from the node addresses (the engine's defaultNetworkPool). */
  networkPool?: string;
  dns: string;
  dnsUpstreams?: string[];
  dnsVipTtl: number;
  dnsTaskTtl: number;
  /** Absent: no metrics. */
  metricsPort?: number | undefined;
  heartbeatPeriodMs?: number;
  fencePeriodMs?: number;
  maxReplicas?: number;
  store?: string;
  leaderLeaseSeconds?: number;
}

export function nodeSettings(args: ParsedArgs): NodeSettings {
  const apiPort = intFlag(args, 'api-port', { min: 1 }) ?? 2375;
  if (apiPort > 65535) throw usageError(`--api-port must be a TCP port (1-65535), got ${apiPort}`);
  return {
    apiPort,
    ...(args.string('socket-dir') ? { socketDir: path.resolve(args.string('socket-dir')!) } : {}),
    taskSubnet: cidr(args, 'task-subnet', '127.20.0.0/16'),
    vipSubnet: cidr(args, 'vip-subnet', '127.10.0.0/16'),
    ...(args.string('network-pool') !== undefined ? { networkPool: cidr(args, 'network-pool', '127.1.128.0/17') } : {}),
    ...heartbeat(args),
    ...fencePeriod(args),
    ...maxReplicas(args),
    ...store(args),
    dns: args.string('dns') ?? '127.0.0.11',
    ...(args.list('dns-upstream').length ? { dnsUpstreams: args.list('dns-upstream') } : {}),
    dnsVipTtl: ttlSeconds(args, 'dns-vip-ttl', 600),
    dnsTaskTtl: ttlSeconds(args, 'dns-task-ttl', 5),
    metricsPort: metricsPort(args),
  };
}

/** The flags that say `settings` again: how `up` hands its settings to each node process. */
export function nodeSettingsArgs(settings: NodeSettings): string[] {
  return [
    '--api-port', String(settings.apiPort),
    ...(settings.socketDir !== undefined ? ['--socket-dir', settings.socketDir] : []),
    '--task-subnet', settings.taskSubnet,
    '--vip-subnet', settings.vipSubnet,
    ...(settings.networkPool !== undefined ? ['--network-pool', settings.networkPool] : []),
    '--dns', settings.dns,
    ...(settings.dnsUpstreams ?? []).flatMap((upstream) => ['--dns-upstream', upstream]),
    '--dns-vip-ttl', `${settings.dnsVipTtl}s`,
    '--dns-task-ttl', `${settings.dnsTaskTtl}s`,
    '--metrics-port', settings.metricsPort === undefined ? 'off' : String(settings.metricsPort),
    ...(settings.heartbeatPeriodMs !== undefined ? ['--heartbeat-period', `${settings.heartbeatPeriodMs}ms`] : []),
    ...(settings.fencePeriodMs !== undefined ? ['--fence-period', `${settings.fencePeriodMs}ms`] : []),
    ...(settings.maxReplicas !== undefined ? ['--max-replicas', String(settings.maxReplicas)] : []),
    ...(settings.store !== undefined ? ['--store', settings.store] : []),
    ...(settings.leaderLeaseSeconds !== undefined ? ['--leader-lease', `${settings.leaderLeaseSeconds}s`] : []),
  ];
}

export function cidr(args: ParsedArgs, flag: string, fallback: string): string {
  const value = args.string(flag) ?? fallback;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value.trim());
  if (m === null || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw usageError(`invalid argument "${value}" for "--${flag}" flag: expected an IPv4 CIDR like ${fallback}`);
  }
  return value.trim();
}

function metricsPort(args: ParsedArgs): number | undefined {
  const text = args.string('metrics-port');
  if (text === undefined) return METRICS_PORT;
  if (text.trim() === 'off') return undefined;
  const port = Number(text.trim());
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw usageError(`invalid argument "${text}" for "--metrics-port" flag: a TCP port (1-65535), or off`);
  }
  return port;
}

/** A DNS TTL is whole seconds on the wire. */
function ttlSeconds(args: ParsedArgs, flag: string, fallback: number): number {
  const text = args.string(flag);
  if (text === undefined) return fallback;
  const ns = durationFlag(flag, text);
  if (ns % 1_000_000_000 !== 0 || ns / 1_000_000_000 > 0x7fffffff) {
    throw usageError(`invalid argument "${text}" for "--${flag}" flag: a DNS TTL is whole seconds, like 5s or 10m`);
  }
  return ns / 1_000_000_000;
}

function maxReplicas(args: ParsedArgs): { maxReplicas?: number } {
  const value = intFlag(args, 'max-replicas', { min: 1 });
  return value === undefined ? {} : { maxReplicas: value };
}

/** The store's address is checked by the engine (checkAddressing), which knows etcd's form; here only its lease. */
function store(args: ParsedArgs): { store?: string; leaderLeaseSeconds?: number } {
  const text = args.string('leader-lease');
  const address = args.string('store');
  if (text !== undefined && address === undefined) throw usageError('--leader-lease needs --store: without etcd, no leader holds a lease');
  if (text === undefined) return address === undefined ? {} : { store: address };
  const ns = durationFlag('leader-lease', text);
  if (ns % 1_000_000_000 !== 0 || ns < 1_000_000_000) {
    throw usageError(`invalid argument "${text}" for "--leader-lease" flag: etcd's leases are whole seconds, at least 1s, like 2s`);
  }
  return { store: address!, leaderLeaseSeconds: ns / 1_000_000_000 };
}

function heartbeat(args: ParsedArgs): { heartbeatPeriodMs?: number } {
  const text = args.string('heartbeat-period');
  if (text === undefined) return {};
  const ns = durationFlag('heartbeat-period', text);
  if (ns < 1_000_000) throw usageError(`--heartbeat-period must be at least 1ms, got ${text}`);
  return { heartbeatPeriodMs: ns / 1_000_000 };
}

function fencePeriod(args: ParsedArgs): { fencePeriodMs?: number } {
  const text = args.string('fence-period');
  return text === undefined ? {} : { fencePeriodMs: durationFlag('fence-period', text) / 1_000_000 };
}
