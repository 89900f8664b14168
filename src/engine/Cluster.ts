// A whole cluster in this process: N engines on consecutive addresses of a subnet, the first a
// manager that inits the swarm, the next M-1 joining as managers and the rest as workers -
// through the same init/join paths the engine API serves.
import { intToIp, parseCidr } from '../vip-dns/index.js';
import type { DnsServer } from '../vip-dns/index.js';
import { Runtime } from '../runtime/index.js';
import type { RuntimeOptions } from '../runtime/index.js';
import { vipRouteKey } from '../mesh/index.js';
import type { Engine } from './Engine.js';
import { NodeDaemon } from './NodeDaemon.js';
import { DEFAULT_BLOCKS, checkBlocks, defaultNetworkPool, hostUpstreams, loopbackUpstream } from './addressChecks.js';

export interface ClusterOptions {
  nodes: number;
  managers: number;
  /** Node i (1-based) gets the subnet's i-th address: 127.1.0.0/24 → 127.1.0.1, 127.1.0.2 ... */
  subnet: string;
  apiPort: number;
  /** Where each node's engine API socket goes (`<dir>/<node address>.sock`); absent: defaultSocketDir(). */
  socketDir?: string;
  taskSubnet: string;
  vipSubnet: string;
  /** Where networks' loopback blocks come from; absent: the upper half of the subnet's /16 (127.1.128.0/17 for 127.1.0.0/24). */
  networkPool?: string;
  /** Engines up but not in a swarm, like fresh machines (`docker swarm init` comes later). */
  bare: boolean;
  /** How often nodes send heartbeats (Swarm: 5 s); a node is Down after three missed. */
  heartbeatPeriodMs?: number;
  /** The most replicas one service may ask for (the task address pool bounds it too); default DEFAULT_MAX_REPLICAS. */
  maxReplicas?: number;
  /**
   * The embedded DNS server, `ADDR` or `ADDR:PORT` (Swarm's is 127.0.0.11). Without a port: 53, or if
   * that cannot be bound 10053, or else any free port.
   */
  dns: string;
  /** Where names we do not own go, each `ADDR[:PORT]`; absent: the host's /etc/resolv.conf. */
  dnsUpstreams?: string[];
  /** Seconds a VIP answer may be cached (Swarm: 600). */
  dnsVipTtl: number;
  /** Seconds a task answer may be cached: short, so clients follow scaling and updates. */
  dnsTaskTtl: number;
  /** How long each upstream gets to answer a forwarded query (Swarm: 4 s). */
  dnsForwardTimeoutMs?: number;
  /** Each node serves /metrics on its address at this port (Docker's 9323; 0: any free port); undefined: none. */
  metricsPort?: number | undefined;
  /** Each node's engine labels (`dockerd --label`), by hostname; `engine.labels.*` constraints match them. */
  engineLabels?: Record<string, Record<string, string>>;
  /**
   * Between fencing a task and stopping it on a planned stop (Swarm: a fixed 2 s). Tests shorten it; it
   * must stay longer than a connection a mesh accepted just before the fence takes to reach the task.
   */
  fencePeriodMs?: number | undefined;
  /**
   * How long a client of a node's engine API or /metrics may take to send a whole request head, from its
   * connection's accept, before it gets 408 and is closed (HAProxy's `timeout http-request`; default 10 s).
   */
  requestHeadTimeoutMs?: number;
  /** `etcd://HOST:PORT[,...][/PREFIX]`: the managers keep the swarm in etcd and are elected there (NodeOptions.store). */
  store?: string;
  /** How long a leader that stops renewing its etcd lease keeps the lead, in whole seconds (2 when absent). */
  leaderLeaseSeconds?: number;
  /** madvirus/simplenode's delays (the app's: 5 s slow /health, 1 s before exit), shortened by tests. */
  simplenode?: RuntimeOptions['simplenode'];
  /** Seeds each node's random draws (with its hostname), so a run replays; absent: Math.random. */
  seed?: string | number;
  log?: (line: string) => void;
}

/** Docker's --metrics-addr port, which routemesh's nodes use too. */
const METRICS_PORT = 9323;

const DEFAULT_CLUSTER: ClusterOptions = {
  nodes: 3,
  managers: 1,
  ...DEFAULT_BLOCKS,
  apiPort: 2375,
  bare: false,
  dnsVipTtl: 600,
  dnsTaskTtl: 5,
  metricsPort: METRICS_PORT,
};

export interface ClusterNodeInfo {
  hostname: string;
  address: string;
  role: 'manager' | 'worker' | 'none';
  apiUrl: string;
  /** The engine API on its Unix socket, `unix:///...` (for DOCKER_HOST). */
  socketUrl: string;
  nodeId: string;
  /** Its /metrics URL; absent when metrics are off, or the port could not be had. */
  metricsUrl?: string;
}

export class Cluster {
  readonly options: ClusterOptions;
  /** One daemon per node, all in this process, sharing one runtime. */
  readonly daemons: NodeDaemon[] = [];
  readonly runtime: Runtime;

  constructor(options: Partial<ClusterOptions> = {}) {
    this.options = { ...DEFAULT_CLUSTER, ...options };
    const { nodes, managers, subnet } = this.options;
    if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`--nodes must be 1 or more, got ${nodes}`);
    if (!Number.isInteger(managers) || managers < 1 || managers > nodes) {
      throw new Error(`--managers must be between 1 and the number of nodes (${nodes}), got ${managers}`);
    }
    // Checked now, not at `swarm init`: a bad block must stop the start before anything listens.
    this.options.networkPool ??= defaultNetworkPool(subnet, [this.options.taskSubnet, this.options.vipSubnet]);
    checkBlocks([['--subnet', subnet], ['--task-subnet', this.options.taskSubnet], ['--vip-subnet', this.options.vipSubnet], ['--network-pool', this.options.networkPool]]);
    const block = parseCidr(subnet);
    const { maxReplicas } = this.options;
    if (maxReplicas !== undefined && (!Number.isInteger(maxReplicas) || maxReplicas < 1)) throw new Error(`--max-replicas must be 1 or more, got ${maxReplicas}`);
    if (nodes > block.size - 2) throw new Error(`--subnet ${subnet} has room for ${block.size - 2} nodes, not ${nodes}`);
    const labelled = Object.keys(this.options.engineLabels ?? {}).filter((hostname) => !/^node\d+$/.test(hostname) || Number(hostname.slice(4)) < 1 || Number(hostname.slice(4)) > nodes);
    if (labelled.length) throw new Error(`--engine-label names ${labelled.join(', ')}, not a node of this cluster (node1 to node${nodes})`);
    this.runtime = new Runtime(this.options.simplenode ? { simplenode: this.options.simplenode } : {});
    const { engineLabels, bare: _bare, nodes: _nodes, managers: _managers, subnet: _subnet, ...settings } = this.options;
    const upstreams = settings.dnsUpstreams?.map(loopbackUpstream) ?? hostUpstreams(settings.log);
    for (let i = 1; i <= nodes; i++) {
      const hostname = `node${i}`;
      this.daemons.push(new NodeDaemon({
        ...withoutUndefined(settings),
        hostname,
        address: intToIp(block.base + i),
        ...(engineLabels?.[hostname] ? { engineLabels: engineLabels[hostname] } : {}),
      }, {
        runtime: this.runtime,
        findEngine: (name) => this.engine(name),
        // The process's metrics, once: on the first node.
        processMetrics: i === 1,
        upstreams,
      }));
    }
  }

  get engines(): Engine[] {
    return this.daemons.map((d) => d.engine);
  }

  engine(hostname: string): Engine | undefined {
    return this.engines.find((e) => e.hostname === hostname);
  }

  /** The DNS server of the node that holds the host's services (the first node's while none does). */
  get dnsServer(): DnsServer {
    return (this.daemons.find((d) => d.host.held()) ?? this.daemons[0]!).host.dnsServer;
  }

  /** Opens every engine API and forms the swarm; on any failure closes what it opened and says why. */
  async start(): Promise<void> {
    try {
      // One after the other: the first node holds the host's VIPs and DNS, as it always has.
      for (const daemon of this.daemons) await daemon.engine.listen();
      if (!this.options.bare) await this.#formSwarm();
    } catch (error) {
      await this.close();
      const e = error as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE'
        ? `cannot start the cluster: an engine API address is already in use (${e.message}); is another routemesh running? Stop it or pick another --subnet`
        : `cannot start the cluster: ${e.message}`);
    }
  }

  /** `vip:port` as its listener really listens (a port below 1024 moves without root); undefined until open. */
  async vipEndpoint(vip: string, port: number): Promise<string | undefined> {
    for (const engine of this.engines) {
      const mesh = engine.mesh;
      if (!mesh) continue;
      await mesh.settled();
      const listener = mesh.listenerStates().get(vipRouteKey(vip, port));
      if (listener?.state === 'open') return `${vip}:${listener.port}`;
    }
    return undefined;
  }

  /** As a user forms one: `swarm init` on node1, then `swarm join` over its cluster port from the others. */
  async #formSwarm(): Promise<void> {
    const [first, ...rest] = this.engines;
    await first!.init();
    const { tokens } = first!.requireManager();
    await Promise.all(rest.map((engine, i) => engine.join({
      remoteAddr: first!.clusterAddr, token: tokens.token(i + 1 < this.options.managers ? 'manager' : 'worker'),
    })));
  }

  get nodes(): ClusterNodeInfo[] {
    return this.engines.map((e) => {
      const state = e.swarmState();
      return {
        hostname: e.hostname,
        address: e.address,
        role: state === 'active/manager' ? 'manager' : state === 'active/worker' ? 'worker' : 'none',
        apiUrl: e.apiUrl,
        socketUrl: e.socketUrl,
        nodeId: e.nodeId() ?? '',
        ...(e.metricsUrl ? { metricsUrl: e.metricsUrl } : {}),
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.close()));
  }
}

/** The options given, less those left undefined (exactOptionalPropertyTypes). */
function withoutUndefined<T extends object>(options: T): T {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;
}

export async function startCluster(options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = new Cluster(options);
  await cluster.start();
  return cluster;
}
