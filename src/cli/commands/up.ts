// `routemesh up`: starts the cluster, one OS process per node (NodeSupervisor) or, with --in-process, all
// in this process (the engine module's startCluster); prints its nodes and what to try next, optionally
// runs the demo service, logs the cluster's events, and stays up until SIGINT, SIGTERM or SIGHUP.
// Types only: the engine itself is loaded when `up` runs (startFromEngine below).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ClusterNodeInfo, ClusterOptions } from '../../engine/index.js';
import type { ApiService } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { defaultClusterDataDir } from '../dataDir.js';
import { DEFAULT_ENGINE_HOST } from '../engineAddress.js';
import { EngineClient } from '../EngineClient.js';
import { usageError } from '../errors.js';
import { intFlag, type ParsedArgs } from '../flags.js';
import { foreground } from '../foreground.js';
import { cidr, NODE_FLAGS, nodeSettings } from '../nodeFlags.js';
import { NodeSupervisor } from '../NodeSupervisor.js';
import { renderTable } from '../table.js';
import { DEMO_SERVICE, renderDemoTasks, runDemo } from './demo.js';
import { PrometheusTargetsFile } from '../PrometheusTargetsFile.js';
import { startLocalEtcd } from '../LocalEtcd.js';

/** What `up` needs of a running cluster (kept structural so tests can pass a stand-in). */
export interface UpCluster {
  readonly nodes: readonly ClusterNodeInfo[];
  /**
   * Where the embedded DNS server answers, and where it sends names it does not own (absent: the
   * loopback resolvers of /etc/resolv.conf, which the node processes read themselves).
   */
  readonly dnsServer: { readonly address: string; readonly port: number; readonly upstreams?: readonly { address: string; port: number }[] };
  /** Where a VIP's port really listens (a port below 1024 moves without root), once its listener is open. */
  vipEndpoint(vip: string, port: number): Promise<string | undefined>;
  /** Each node a process of its own, whose metrics hold that process's too (else the first node's hold the one process's). */
  readonly processPerNode?: boolean;
  close(): Promise<void>;
}

export type UpOptions = ClusterOptions & {
  log: (line: string) => void;
  /** Each node keeps its swarm in `<dataDir>/<hostname>`. */
  dataDir: string;
  /** All nodes in this process (startCluster) rather than a process each. */
  inProcess: boolean;
};

/** What starting node processes needs of the command besides its options. */
export interface UpContext {
  /** Where the node processes' own log lines go, as they are. */
  output: (line: string) => void;
  /** How the user runs routemesh, for the command that starts a dead node again. */
  command: string;
  pollMs: number;
  /** Aborted on Ctrl-C. */
  signal: AbortSignal;
}

export type StartCluster = (options: UpOptions, context: UpContext) => Promise<UpCluster>;

/** Loaded on demand: the other verbs are HTTP clients and need none of the engine. */
const startFromEngine: StartCluster = async (options, context) => {
  const engine = await import('../../engine/index.js');
  if (options.inProcess) return engine.startCluster(options);
  // Refused here, as the one-process cluster refuses them, before any node process starts.
  engine.checkAddressing(options);
  const { nodes, managers, subnet, bare, dataDir, log, engineLabels, ...settings } = options;
  const supervisor = new NodeSupervisor({
    nodes, managers, subnet, bare, dataDir, log, ...context,
    settings: { ...settings, socketDir: settings.socketDir ?? engine.defaultSocketDir() },
    ...(engineLabels ? { engineLabels } : {}),
  });
  await supervisor.start();
  return supervisor;
};

const DEMO_DEADLINE_MS = 30_000;

export function createUpCommand(start: StartCluster = startFromEngine): Command {
  return {
    name: 'up',
    usage: '[OPTIONS]',
    summary: 'Start a cluster of simulated nodes in the foreground (Ctrl-C stops it)',
    details: 'Node i gets the i-th address of --subnet and serves its engine API on <address>:--api-port.\n' +
      'The first --managers nodes are managers (node1 the leader), the rest workers.\n' +
      'Each node runs as a process of its own (`routemesh node start`, named after the node in ps), unless --in-process.\n' +
      'The swarm lives in --data-dir: `up` again finds the same swarm, nodes, services and join tokens.',
    flags: [
      { name: 'nodes', kind: 'string', valueName: 'int', help: 'Number of nodes', defaultText: '3' },
      { name: 'managers', kind: 'string', valueName: 'int', help: 'Number of managers among them', defaultText: '1' },
      { name: 'subnet', kind: 'string', valueName: 'cidr', help: 'Node addresses', defaultText: '127.1.0.0/24' },
      ...NODE_FLAGS,
      { name: 'data-dir', kind: 'string', valueName: 'dir', help: 'Where the nodes keep the swarm between runs, node i in <dir>/node<i>', defaultText: '$XDG_STATE_HOME/routemesh/<subnet>, /var/lib/routemesh/<subnet> as root' },
      { name: 'fresh', kind: 'bool', help: 'Remove --data-dir first: a new swarm (the old one, its services and tokens, are lost)' },
      { name: 'in-process', kind: 'bool', help: 'Run every node in this one process instead of a process each' },
      { name: 'demo', kind: 'bool', help: `Also run the demo service ${DEMO_SERVICE} (traefik/whoami, 6 replicas, port 8080)` },
      { name: 'prometheus-sd', kind: 'string', valueName: 'file', help: 'Keep a Prometheus file_sd target file naming every node\'s metrics (examples/prometheus.yml reads one)' },
      { name: 'engine-label', kind: 'list', valueName: '[node:]key=value', help: 'An engine label (dockerd --label) of every node, or of one (node2:disk=ssd); engine.labels.* constraints match them (repeatable)' },
      { name: 'etcd', kind: 'bool', help: 'Start a local etcd member (etcd-server) on the --subnet\'s last address and keep the swarm there (--store etcd://<it>:2379), its data in --data-dir' },
      { name: 'bare', kind: 'bool', help: 'Start the engines without a swarm (run `routemesh swarm init` yourself)' },
    ],
    maxArgs: 0,
    run: (ctx, args) => runUp(ctx, args, start),
  };
}

export function upOptions(args: ParsedArgs, log: (line: string) => void, env: Record<string, string | undefined> = {}): UpOptions {
  const nodes = intFlag(args, 'nodes', { min: 1 }) ?? 3;
  const managers = intFlag(args, 'managers', { min: 1 }) ?? 1;
  if (managers > nodes) throw usageError(`--managers must be between 1 and the number of nodes (${nodes}), got ${managers}`);
  const subnet = cidr(args, 'subnet', '127.1.0.0/24');
  const prefix = Number(subnet.split('/')[1]);
  const room = prefix >= 31 ? 0 : 2 ** (32 - prefix) - 2;
  if (nodes > room) throw usageError(`--subnet ${subnet} has room for ${room} nodes, not ${nodes}`);
  if (args.bool('etcd') && args.string('store') !== undefined) throw usageError('--etcd starts an etcd of its own: leave out --store, or --etcd to use yours');
  if (args.bool('etcd') && nodes >= room) throw usageError(`--etcd takes the last address of --subnet ${subnet}: room for ${room - 1} nodes then, not ${nodes}`);
  const bare = args.bool('bare');
  if (bare && args.bool('demo')) throw usageError('--demo needs a swarm: leave out --bare');
  return {
    nodes,
    managers,
    subnet,
    bare,
    ...nodeSettings(args),
    ...engineLabels(args, nodes),
    dataDir: path.resolve(args.string('data-dir') ?? defaultClusterDataDir(env, subnet)),
    inProcess: args.bool('in-process'),
    log,
  };
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

async function runUp(ctx: CommandContext, args: ParsedArgs, start: StartCluster): Promise<number> {
  // The cluster's log, events included, on stderr with the time, as a daemon's log is.
  const options = upOptions(args, (line) => ctx.err(`${new Date(ctx.now()).toISOString()} ${line}`), ctx.io.env);
  const sdFile = args.string('prometheus-sd');
  if (sdFile !== undefined && options.metricsPort === undefined) throw usageError('--prometheus-sd names the nodes\' metrics: leave out --metrics-port off');
  const running = foreground(ctx, 'the cluster');
  try {
    if (args.bool('fresh')) {
      await rm(options.dataDir, { recursive: true, force: true });
      ctx.err(`--fresh: ${options.dataDir} removed; starting a new swarm`);
    }
    const etcd = args.bool('etcd') ? await startLocalEtcd({ address: lastAddress(options.subnet), dataDir: path.join(options.dataDir, 'etcd'), log: options.log }) : undefined;
    if (etcd) {
      options.store = etcd.store;
      ctx.err(`etcd: ${etcd.store.replace('etcd://', '')} (data in ${path.join(options.dataDir, 'etcd')}); the managers keep the swarm there`);
    }
    try {
      return await runCluster(ctx, args, start, options, running, sdFile);
    } finally {
      await etcd?.stop();
    }
  } finally {
    running.dispose();
  }
}

async function runCluster(ctx: CommandContext, args: ParsedArgs, start: StartCluster, options: UpOptions, running: ReturnType<typeof foreground>, sdFile: string | undefined): Promise<number> {
  const cluster = await start(options, { output: (line) => ctx.err(line), command: ctx.io.command ?? 'routemesh', pollMs: Math.min(ctx.pollMs, 100), signal: running.signal });
  const targets = sdFile === undefined ? undefined : new PrometheusTargetsFile(sdFile, () => cluster.nodes, { log: (line) => ctx.err(line) });
  try {
    await targets?.start();
    if (sdFile !== undefined) ctx.err(`Prometheus targets: ${sdFile}, kept current as nodes join and leave`);
    await show(ctx, cluster, args.bool('demo'), running.signal);
    await running.stopped();
    if (!running.fatal) ctx.err('Stopping the cluster...');
  } finally {
    await targets?.stop();
    await cluster.close();
  }
  return running.fatal ? 1 : 0;
}

/** The last host address of a subnet: 127.1.0.254 of 127.1.0.0/24. */
function lastAddress(subnet: string): string {
  const [base, bits] = subnet.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  const given = base.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const last = given - (given % size) + size - 2;
  return [24, 16, 8, 0].map((shift) => Math.floor(last / 2 ** shift) % 256).join('.');
}

async function show(ctx: CommandContext, cluster: UpCluster, demo: boolean, signal: AbortSignal): Promise<void> {
  const rows = cluster.nodes.map((n) => [n.hostname, n.role === 'none' ? '-' : n.role, n.address, tcp(n.apiUrl)]);
  ctx.write(renderTable([['HOSTNAME', 'ROLE', 'ADDRESS', 'ENGINE API'], ...rows]));
  const sockets = cluster.nodes.map((n) => n.socketUrl);
  ctx.write(`\nEngine sockets: ${sockets[0]}${sockets.length > 1 ? ` ... ${path.basename(sockets.at(-1)!)}` : ''} ` +
    '(only this user may connect; e.g. DOCKER_HOST=<socket> docker node ls)\n');
  const { address, port, upstreams } = cluster.dnsServer;
  ctx.write(`DNS: ${address}:${port} answers for services and tasks; other names go to ` +
    `${upstreams === undefined ? "the loopback resolvers of /etc/resolv.conf" : upstreams.length ? upstreams.map((u) => `${u.address}:${u.port}`).join(', ') : 'no upstream (SERVFAIL)'}\n`);
  const metrics = cluster.nodes.map((n) => n.metricsUrl).filter((url): url is string => url !== undefined);
  if (metrics.length) {
    ctx.write(`Metrics: ${metrics[0]}${metrics.length > 1 ? ` ... ${metrics.at(-1)}` : ''} (Prometheus; ${cluster.processPerNode ? "each has its node process's too" : `${cluster.nodes[0]!.hostname}'s also has the process and DNS`})\n`);
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
  ctx.write(`Dashboard: ${manager.apiUrl.replace(/\/+$/, '')}/ui/ (live, in a browser; every manager serves it)\n`);
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
  const { tasks, replicas } = await runDemo(ctx, client, { pollMs: Math.min(ctx.pollMs, 100), deadlineMs: DEMO_DEADLINE_MS, signal });
  if (signal.aborted) return;
  ctx.write(`\nService ${DEMO_SERVICE}: traefik/whoami, ${replicas} replicas, published on port 8080 of every node\n`);
  ctx.write(await renderDemoTasks(client, tasks));
  if (tasks.length < replicas) {
    ctx.err(`only ${tasks.length} of ${replicas} tasks of ${DEMO_SERVICE} run after ${DEMO_DEADLINE_MS / 1000} s; see \`${cmd} service ps ${DEMO_SERVICE}\``);
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
