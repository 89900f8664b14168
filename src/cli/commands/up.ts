// `routemesh up`: starts the cluster in this process (the engine module's startCluster), prints its
// nodes and what to try next, optionally runs the demo service, logs the cluster's events, and stays
// up until SIGINT, SIGTERM or SIGHUP.
// Types only: the engine itself is loaded when `up` runs (startFromEngine below).
import path from 'node:path';
import type { ClusterNodeInfo, ClusterOptions } from '../../engine/index.js';
import type { ApiService } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { DEFAULT_ENGINE_HOST } from '../engineAddress.js';
import { EngineClient } from '../EngineClient.js';
import { usageError } from '../errors.js';
import { intFlag, type ParsedArgs } from '../flags.js';
import { durationFlag } from '../duration.js';
import { renderTable } from '../table.js';
import { DEMO_SERVICE, renderDemoTasks, runDemo } from './demo.js';
import { PrometheusTargetsFile } from '../PrometheusTargetsFile.js';

/** What `up` needs of the engine module's Cluster (kept structural so tests can pass a stand-in). */
export interface UpCluster {
  readonly nodes: readonly ClusterNodeInfo[];
  /** Where the embedded DNS server answers, and where it sends names it does not own. */
  readonly dnsServer: { readonly address: string; readonly port: number; readonly upstreams: readonly { address: string; port: number }[] };
  /** Where a VIP's port really listens (a port below 1024 moves without root), once its listener is open. */
  vipEndpoint(vip: string, port: number): Promise<string | undefined>;
  close(): Promise<void>;
}

export type UpOptions = ClusterOptions & { log: (line: string) => void };

export type StartCluster = (options: UpOptions) => Promise<UpCluster>;

/** Docker's --metrics-addr port (the engine's METRICS_PORT; not imported, since the engine loads on demand). */
const METRICS_PORT = 9323;

/** Loaded on demand: the other verbs are HTTP clients and need none of the engine. */
const startFromEngine: StartCluster = async (options) => (await import('../../engine/index.js')).startCluster(options);

const DEMO_DEADLINE_MS = 30_000;

export function createUpCommand(start: StartCluster = startFromEngine): Command {
  return {
    name: 'up',
    usage: '[OPTIONS]',
    summary: 'Start a cluster of simulated nodes in the foreground (Ctrl-C stops it)',
    details: 'Node i gets the i-th address of --subnet and serves its engine API on <address>:--api-port.\n' +
      'The first --managers nodes are managers (node1 the leader), the rest workers.',
    flags: [
      { name: 'nodes', kind: 'string', valueName: 'int', help: 'Number of nodes', defaultText: '3' },
      { name: 'managers', kind: 'string', valueName: 'int', help: 'Number of managers among them', defaultText: '1' },
      { name: 'subnet', kind: 'string', valueName: 'cidr', help: 'Node addresses', defaultText: '127.1.0.0/24' },
      { name: 'api-port', kind: 'string', valueName: 'port', help: 'Engine API port on every node', defaultText: '2375' },
      { name: 'socket-dir', kind: 'string', valueName: 'dir', help: 'Directory of the engine API sockets, <dir>/<node address>.sock, owner only', defaultText: '$XDG_RUNTIME_DIR/routemesh, /run/routemesh as root, else /tmp/routemesh-<uid>' },
      { name: 'task-subnet', kind: 'string', valueName: 'cidr', help: 'Task addresses', defaultText: '127.20.0.0/16' },
      { name: 'vip-subnet', kind: 'string', valueName: 'cidr', help: 'Service virtual IPs', defaultText: '127.10.0.0/16' },
      { name: 'demo', kind: 'bool', help: `Also run the demo service ${DEMO_SERVICE} (traefik/whoami, 6 replicas, port 8080)` },
      { name: 'dns', kind: 'string', valueName: 'addr[:port]', help: 'Embedded DNS server (without a port: 53, or an unprivileged one if 53 cannot be bound)', defaultText: '127.0.0.11' },
      { name: 'dns-upstream', kind: 'list', valueName: 'addr[:port]', help: 'Resolver on loopback for names the cluster does not own (repeatable; default: those of /etc/resolv.conf on loopback)' },
      { name: 'dns-vip-ttl', kind: 'string', valueName: 'duration', help: 'How long DNS answers naming a VIP may be cached', defaultText: '10m' },
      { name: 'dns-task-ttl', kind: 'string', valueName: 'duration', help: 'How long DNS answers naming tasks may be cached', defaultText: '5s' },
      { name: 'metrics-port', kind: 'string', valueName: 'port|off', help: 'Prometheus metrics on <node address>:<port>/metrics of every node (off: none)', defaultText: '9323' },
      { name: 'prometheus-sd', kind: 'string', valueName: 'file', help: 'Keep a Prometheus file_sd target file naming every node\'s metrics (examples/prometheus.yml reads one)' },
      { name: 'max-replicas', kind: 'string', valueName: 'int', help: 'Most replicas one service may ask for (the --task-subnet bounds it too)', defaultText: '10000' },
      { name: 'heartbeat-period', kind: 'string', valueName: 'duration', help: 'How often nodes send heartbeats; a node is Down after three missed', defaultText: '5s' },
      { name: 'engine-label', kind: 'list', valueName: '[node:]key=value', help: 'An engine label (dockerd --label) of every node, or of one (node2:disk=ssd); engine.labels.* constraints match them (repeatable)' },
      { name: 'bare', kind: 'bool', help: 'Start the engines without a swarm (run `routemesh swarm init` yourself)' },
    ],
    maxArgs: 0,
    run: (ctx, args) => runUp(ctx, args, start),
  };
}

export function upOptions(args: ParsedArgs, log: (line: string) => void): UpOptions {
  const nodes = intFlag(args, 'nodes', { min: 1 }) ?? 3;
  const managers = intFlag(args, 'managers', { min: 1 }) ?? 1;
  if (managers > nodes) throw usageError(`--managers must be between 1 and the number of nodes (${nodes}), got ${managers}`);
  const apiPort = intFlag(args, 'api-port', { min: 1 }) ?? 2375;
  if (apiPort > 65535) throw usageError(`--api-port must be a TCP port (1-65535), got ${apiPort}`);
  const subnet = cidr(args, 'subnet', '127.1.0.0/24');
  const prefix = Number(subnet.split('/')[1]);
  const room = prefix >= 31 ? 0 : 2 ** (32 - prefix) - 2;
  if (nodes > room) throw usageError(`--subnet ${subnet} has room for ${room} nodes, not ${nodes}`);
  const bare = args.bool('bare');
  if (bare && args.bool('demo')) throw usageError('--demo needs a swarm: leave out --bare');
  return {
    nodes,
    managers,
    subnet,
    apiPort,
    ...(args.string('socket-dir') ? { socketDir: path.resolve(args.string('socket-dir')!) } : {}),
    taskSubnet: cidr(args, 'task-subnet', '127.20.0.0/16'),
    vipSubnet: cidr(args, 'vip-subnet', '127.10.0.0/16'),
    bare,
    ...heartbeat(args),
    ...maxReplicas(args),
    dns: args.string('dns') ?? '127.0.0.11',
    ...(args.list('dns-upstream').length ? { dnsUpstreams: args.list('dns-upstream') } : {}),
    dnsVipTtl: ttlSeconds(args, 'dns-vip-ttl', 600),
    dnsTaskTtl: ttlSeconds(args, 'dns-task-ttl', 5),
    metricsPort: metricsPort(args),
    ...engineLabels(args, nodes),
    log,
  };
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

/** `--engine-label disk=ssd` labels every node; `--engine-label node2:disk=ssd` only node2. */
function engineLabels(args: ParsedArgs, nodes: number): { engineLabels?: Record<string, Record<string, string>> } {
  const items = args.list('engine-label');
  if (!items.length) return {};
  const labels: Record<string, Record<string, string>> = {};
  for (const item of items) {
    const [, node, label] = /^(?:(node\d+):)?(.*)$/.exec(item)!;
    const eq = label!.indexOf('=');
    const key = (eq === -1 ? label! : label!.slice(0, eq)).trim();
    if (!key) throw usageError(`invalid argument "${item}" for "--engine-label" flag: a label needs a key, like disk=ssd or node2:disk=ssd`);
    const hostnames = node ? [node] : Array.from({ length: nodes }, (_, i) => `node${i + 1}`);
    for (const hostname of hostnames) (labels[hostname] ??= {})[key] = eq === -1 ? '' : label!.slice(eq + 1);
  }
  return { engineLabels: labels };
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

function heartbeat(args: ParsedArgs): { heartbeatPeriodMs?: number } {
  const text = args.string('heartbeat-period');
  if (text === undefined) return {};
  const ns = durationFlag('heartbeat-period', text);
  if (ns < 1_000_000) throw usageError(`--heartbeat-period must be at least 1ms, got ${text}`);
  return { heartbeatPeriodMs: ns / 1_000_000 };
}

function cidr(args: ParsedArgs, flag: string, fallback: string): string {
  const value = args.string(flag) ?? fallback;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value.trim());
  if (m === null || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) > 32) {
    throw usageError(`invalid argument "${value}" for "--${flag}" flag: expected an IPv4 CIDR like ${fallback}`);
  }
  return value.trim();
}

async function runUp(ctx: CommandContext, args: ParsedArgs, start: StartCluster): Promise<number> {
  // The cluster's log, events included, on stderr with the time, as a daemon's log is.
  const options = upOptions(args, (line) => ctx.err(`${new Date(ctx.now()).toISOString()} ${line}`));
  const sdFile = args.string('prometheus-sd');
  if (sdFile !== undefined && options.metricsPort === undefined) throw usageError('--prometheus-sd names the nodes\' metrics: leave out --metrics-port off');
  // Listen for Ctrl-C before starting: a press during start-up must still close what was opened.
  // The first press stops the cluster; the listener then goes, so a second press kills a stuck close.
  const stop = new AbortController();
  let unsubscribe = (): void => {};
  unsubscribe = ctx.onInterrupt(() => {
    stop.abort();
    unsubscribe();
  });
  // A bug that throws where nothing catches it must still close the cluster (its sockets, its tasks)
  // before the process ends, with exit code 1.
  let fatal = false;
  const unsubscribeFatal = ctx.onFatal((error) => {
    fatal = true;
    ctx.err(`Error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\nStopping the cluster after this unexpected error...`);
    stop.abort();
  });
  try {
    const cluster = await start(options);
    const targets = sdFile === undefined ? undefined : new PrometheusTargetsFile(sdFile, () => cluster.nodes, { log: (line) => ctx.err(line) });
    try {
      await targets?.start();
      if (sdFile !== undefined) ctx.err(`Prometheus targets: ${sdFile}, kept current as nodes join and leave`);
      await show(ctx, cluster, args.bool('demo'), stop.signal);
      await new Promise<void>((resolve) => {
        if (stop.signal.aborted) resolve();
        else stop.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      if (!fatal) ctx.err('Stopping the cluster...');
    } finally {
      await targets?.stop();
      await cluster.close();
    }
    return fatal ? 1 : 0;
  } finally {
    unsubscribe();
    unsubscribeFatal();
  }
}

async function show(ctx: CommandContext, cluster: UpCluster, demo: boolean, signal: AbortSignal): Promise<void> {
  const rows = cluster.nodes.map((n) => [n.hostname, n.role === 'none' ? '-' : n.role, n.address, tcp(n.apiUrl)]);
  ctx.write(renderTable([['HOSTNAME', 'ROLE', 'ADDRESS', 'ENGINE API'], ...rows]));
  const sockets = cluster.nodes.map((n) => n.socketUrl);
  ctx.write(`\nEngine sockets: ${sockets[0]}${sockets.length > 1 ? ` ... ${path.basename(sockets.at(-1)!)}` : ''} ` +
    '(only this user may connect; e.g. DOCKER_HOST=<socket> docker node ls)\n');
  const { address, port, upstreams } = cluster.dnsServer;
  ctx.write(`DNS: ${address}:${port} answers for services and tasks; other names go to ` +
    `${upstreams.length ? upstreams.map((u) => `${u.address}:${u.port}`).join(', ') : 'no upstream (SERVFAIL)'}\n`);
  const metrics = cluster.nodes.map((n) => n.metricsUrl).filter((url): url is string => url !== undefined);
  if (metrics.length) {
    ctx.write(`Metrics: ${metrics[0]}${metrics.length > 1 ? ` ... ${metrics.at(-1)}` : ''} (Prometheus; ${cluster.nodes[0]!.hostname}'s also has the process and DNS)\n`);
  }
  const manager = cluster.nodes.find((n) => n.role === 'manager') ?? cluster.nodes[0];
  if (manager === undefined) return;
  const cmd = ctx.io.command ?? 'routemesh';
  const host = tcp(manager.apiUrl);
  // The CLI's default target is node1 of the default cluster; anything else needs ROUTEMESH_HOST.
  const env = host === DEFAULT_ENGINE_HOST ? '' : `    export ROUTEMESH_HOST=${host}\n`;
  if (cluster.nodes.every((n) => n.role === 'none')) {
    ctx.write(`\nThe engines are not in a swarm yet. From another terminal:\n${env}` +
      `    ${cmd} swarm init --advertise-addr ${manager.address}\n\nPress Ctrl-C to stop.\n`);
    return;
  }
  if (!demo) {
    ctx.write(`\nFrom another terminal:\n${env}    ${cmd} node ls\n` +
      `    ${cmd} service create --name web --publish published=9090,target=80 --replicas 2 nginx\n\n` +
      'Press Ctrl-C to stop the cluster.\n');
    return;
  }
  const client = new EngineClient(manager.apiUrl, { host });
  try {
    await showDemo(ctx, client, cluster, env, cmd, signal);
  } catch (e) {
    // The cluster is fine without its demo (say port 8080 is taken): keep it up and say why.
    ctx.err(`The demo service could not start: ${(e as Error).message}`);
    ctx.write('\nPress Ctrl-C to stop the cluster.\n');
  } finally {
    client.close();
  }
}

/** `cmd`: how the user runs routemesh (`./routemesh` in a checkout). */
async function showDemo(ctx: CommandContext, client: EngineClient, cluster: UpCluster, env: string, cmd: string, signal: AbortSignal): Promise<void> {
  const tasks = await runDemo(ctx, client, { pollMs: Math.min(ctx.pollMs, 100), deadlineMs: DEMO_DEADLINE_MS, signal });
  if (signal.aborted) return;
  ctx.write(`\nService ${DEMO_SERVICE}: traefik/whoami, 6 replicas, published on port 8080 of every node\n`);
  ctx.write(await renderDemoTasks(client, tasks));
  if (tasks.length < 6) {
    ctx.err(`only ${tasks.length} of 6 tasks of ${DEMO_SERVICE} run after ${DEMO_DEADLINE_MS / 1000} s; see \`${cmd} service ps ${DEMO_SERVICE}\``);
  }
  // Any node but the manager shows best that the mesh answers everywhere.
  const node2 = cluster.nodes[1] ?? cluster.nodes[0]!;
  const service = await client.get<ApiService>(`/services/${DEMO_SERVICE}`);
  const vip = service?.Endpoint?.VirtualIPs?.[0]?.Addr?.split('/')[0];
  const vipEndpoint = vip ? await cluster.vipEndpoint(vip, 80) : undefined;
  const { address, port } = cluster.dnsServer;
  const dig = `dig @${address}${port === 53 ? '' : ` -p ${port}`}`;
  const tries: [string, string][] = [
    [`curl http://${node2.address}:8080/`, 'any node reaches the service; the answer names the task'],
    ...(vipEndpoint ? [[`curl http://${vipEndpoint.replace(/:80$/, '')}/`, "the service's VIP balances the same way"] as [string, string]] : []),
    [`${dig} ${DEMO_SERVICE} +short`, 'its VIP, from the embedded DNS server'],
    [`${dig} tasks.${DEMO_SERVICE} +short`, 'the addresses of its tasks'],
    ...(node2.metricsUrl ? [[`curl -s ${node2.metricsUrl} | grep ^routemesh_connections_total`, 'which task got each connection through that node'] as [string, string]] : []),
    [`${cmd} service ps ${DEMO_SERVICE}`, ''],
    [`${cmd} service scale ${DEMO_SERVICE}=3`, ''],
  ];
  const width = Math.max(...tries.map(([command]) => command.length)) + 2;
  ctx.write('\nTry, from another terminal:\n' + env +
    tries.map(([command, why]) => `    ${why ? `${command.padEnd(width)}# ${why}` : command}\n`).join('') +
    '\nPress Ctrl-C to stop the cluster.\n');
}

function tcp(apiUrl: string): string {
  return apiUrl.replace(/^http:\/\//, 'tcp://').replace(/\/+$/, '');
}
