// A whole cluster in this process: N engines on consecutive addresses of a subnet, the first a
// manager that inits the swarm, the next M-1 joining as managers and the rest as workers -
// through the same init/join paths the engine API serves.
import { Manager, UNPRIVILEGED_PORT_SHIFT } from '../swarm/index.js';
import { isIPv4 } from 'node:net';
import { DNS_PORT, DnsServer, intToIp, ipToInt, isLoopback, parseCidr, parseDnsAddress, systemUpstreams } from '../vip-dns/index.js';
import type { Upstream } from '../vip-dns/index.js';
import { Runtime } from '../runtime/index.js';
import type { RuntimeOptions } from '../runtime/index.js';
import { LocalMeshes, vipRouteKey } from '../mesh/index.js';
import { CLUSTER_PORT, Engine } from './Engine.js';
import type { SwarmDirectory } from './Engine.js';
import { portProbe } from './probePort.js';
import type { ReservedPort } from './probePort.js';
import { DnsMetrics } from './DnsMetrics.js';
import { processRegistry } from './processRegistry.js';
import { ClusterEvents } from './ClusterEvents.js';
import { defaultSocketDir } from './EngineSocket.js';

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
  /** madvirus/simplenode's delays (the app's: 5 s slow /health, 1 s before exit), shortened by tests. */
  simplenode?: RuntimeOptions['simplenode'];
  log?: (line: string) => void;
}

/** Docker's --metrics-addr port, which routemesh's nodes use too. */
const METRICS_PORT = 9323;

const DEFAULT_CLUSTER: ClusterOptions = {
  nodes: 3,
  managers: 1,
  subnet: '127.1.0.0/24',
  apiPort: 2375,
  taskSubnet: '127.20.0.0/16',
  vipSubnet: '127.10.0.0/16',
  bare: false,
  dns: '127.0.0.11',
  dnsVipTtl: 600,
  dnsTaskTtl: 5,
  metricsPort: METRICS_PORT,
};

/** Where DNS goes when 53 cannot be bound (no root, or taken): the shift tasks' low ports get. */
const DNS_FALLBACK_PORT = DNS_PORT + UNPRIVILEGED_PORT_SHIFT;

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

export class Cluster implements SwarmDirectory {
  readonly options: ClusterOptions;
  readonly engines: Engine[] = [];
  readonly runtime: Runtime;
  readonly dnsServer: DnsServer;
  /** `--dns ADDR:PORT` named its port: that one or none; `--dns ADDR` may fall back. */
  #dnsPortFixed: boolean;
  #managers: Manager[] = [];
  /** One per swarm (its managers share one store), so each event is logged once. */
  #events: ClusterEvents[] = [];

  constructor(options: Partial<ClusterOptions> = {}) {
    this.options = { ...DEFAULT_CLUSTER, ...options };
    const { nodes, managers, subnet } = this.options;
    if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`--nodes must be 1 or more, got ${nodes}`);
    if (!Number.isInteger(managers) || managers < 1 || managers > nodes) {
      throw new Error(`--managers must be between 1 and the number of nodes (${nodes}), got ${managers}`);
    }
    const block = parseCidr(subnet);
    // Checked now, not at `swarm init`: a bad block must stop the start before anything listens.
    checkBlocks(this.options);
    const { maxReplicas } = this.options;
    if (maxReplicas !== undefined && (!Number.isInteger(maxReplicas) || maxReplicas < 1)) throw new Error(`--max-replicas must be 1 or more, got ${maxReplicas}`);
    if (nodes > block.size - 2) throw new Error(`--subnet ${subnet} has room for ${block.size - 2} nodes, not ${nodes}`);
    const { dnsVipTtl, dnsTaskTtl, dnsForwardTimeoutMs, fencePeriodMs, requestHeadTimeoutMs, simplenode } = this.options;
    this.runtime = new Runtime(simplenode ? { simplenode } : {});
    const dns = flagValue('--dns', () => parseDnsAddress(this.options.dns, 0));
    checkDnsAddress(dns.address, this.options);
    this.#dnsPortFixed = dns.port !== 0;
    const upstreams = this.options.dnsUpstreams?.map((text) => flagValue('--dns-upstream', () => loopbackUpstream(text)));
    const { metricsPort } = this.options;
    // Counted only when served: with metrics off, a query pays nothing for them.
    const dnsMetrics = metricsPort === undefined ? undefined : new DnsMetrics();
    this.dnsServer = new DnsServer({
      address: dns.address,
      port: dns.port || DNS_PORT,
      zone: { vipTtl: dnsVipTtl, taskTtl: dnsTaskTtl, ownedBlocks: [this.options.vipSubnet, this.options.taskSubnet] },
      upstreams: upstreams ?? this.#hostUpstreams(),
      ...(dnsForwardTimeoutMs !== undefined ? { forwardTimeoutMs: dnsForwardTimeoutMs } : {}),
      ...(this.options.log ? { log: this.options.log } : {}),
      ...(dnsMetrics ? { observe: dnsMetrics.dnsAnswered } : {}),
    });
    const labelled = Object.keys(this.options.engineLabels ?? {}).filter((hostname) => !/^node\d+$/.test(hostname) || Number(hostname.slice(4)) < 1 || Number(hostname.slice(4)) > nodes);
    if (labelled.length) throw new Error(`--engine-label names ${labelled.join(', ')}, not a node of this cluster (node1 to node${nodes})`);
    const meshes = new LocalMeshes();
    const socketDir = this.options.socketDir ?? defaultSocketDir();
    for (let i = 1; i <= nodes; i++) {
      this.engines.push(new Engine({
        hostname: `node${i}`,
        address: intToIp(block.base + i),
        apiPort: this.options.apiPort,
        socketDir,
        runtime: this.runtime,
        directory: this,
        dns: this.dnsServer,
        meshes,
        ...(fencePeriodMs !== undefined ? { fencePeriodMs } : {}),
        ...(requestHeadTimeoutMs !== undefined ? { requestHeadTimeoutMs } : {}),
        ...(metricsPort !== undefined ? { metricsPort } : {}),
        ...(this.options.engineLabels?.[`node${i}`] ? { engineLabels: this.options.engineLabels[`node${i}`] } : {}),
        // The process's and the DNS server's metrics, once: on the first node.
        ...(i === 1 && dnsMetrics ? { sharedMetrics: [processRegistry(), dnsMetrics.registry] } : {}),
        ...(this.options.log ? { log: this.options.log } : {}),
      }));
    }
  }

  /**
   * /etc/resolv.conf's resolvers on loopback (systemd-resolved's 127.0.0.53, a local dnsmasq). Others are
   * left out, and said so: routemesh sends nothing beyond this machine's loopback.
   */
  #hostUpstreams(): Upstream[] {
    const all = systemUpstreams();
    const local = all.filter((u) => isLoopback(u.address));
    const skipped = all.filter((u) => !local.includes(u)).map((u) => u.address);
    if (skipped.length) {
      this.options.log?.(`DNS: /etc/resolv.conf's ${skipped.join(', ')} ${skipped.length > 1 ? 'are' : 'is'} not on loopback, and routemesh ` +
        'sends nothing beyond it: other names get SERVFAIL unless --dns-upstream names a resolver on 127.0.0.0/8 or ::1');
    }
    return local;
  }

  engine(hostname: string): Engine | undefined {
    return this.engines.find((e) => e.hostname === hostname);
  }

  managerAt(clusterAddr: string): Manager | undefined {
    const engine = this.engines.find((e) => e.clusterAddr === clusterAddr);
    return engine?.swarmState() === 'active/manager' ? engine.requireManager() : undefined;
  }

  newManager(): Manager {
    const manager: Manager = new Manager({
      taskSubnet: this.options.taskSubnet,
      vipSubnet: this.options.vipSubnet,
      ...(this.options.heartbeatPeriodMs ? { heartbeatPeriodMs: this.options.heartbeatPeriodMs } : {}),
      ...(this.options.maxReplicas !== undefined ? { maxReplicas: this.options.maxReplicas } : {}),
      ...(this.options.log ? { log: this.options.log } : {}),
      portProbe: portProbe(() => manager.store.nodes().map((n) => n.Status.Addr), () => this.#reservedPorts()),
    });
    this.#managers.push(manager);
    if (this.options.log) this.#events.push(new ClusterEvents(manager.store, this.options.log));
    return manager;
  }

  /** The ports routemesh listens on (or, for 2377, names) on the node addresses, which no service may publish. */
  #reservedPorts(): ReservedPort[] {
    const portOf = (url: string): number => Number(new URL(url).port);
    const { address, port } = this.dnsServer;
    const reserved: ReservedPort[] = [
      ...new Set(this.engines.map((e) => portOf(e.apiUrl))),
    ].map((api) => ({ port: api, protocols: ['tcp'], holder: `the engine API port of every node (--api-port; DOCKER_HOST=tcp://${this.engines[0]!.address}:${api})` }));
    reserved.push({ port: CLUSTER_PORT, protocols: ['tcp'], holder: `the swarm's cluster port, which \`docker swarm join\` names (${this.engines[0]!.address}:${CLUSTER_PORT})` });
    for (const metrics of new Set(this.engines.flatMap((e) => (e.metricsUrl ? [portOf(e.metricsUrl)] : [])))) {
      reserved.push({ port: metrics, protocols: ['tcp'], holder: `the metrics port of every node (--metrics-port; ${this.engines[0]!.metricsUrl ?? ''})` });
    }
    reserved.push({ port, protocols: ['tcp', 'udp'], holder: `the embedded DNS server's port (${address}:${port}; --dns)` });
    return reserved;
  }

  /** Opens every engine API and forms the swarm; on any failure closes what it opened and says why. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.engines.map((e) => e.listen()));
      await this.#listenDns();
      if (!this.options.bare) this.#formSwarm();
    } catch (error) {
      await this.close();
      const e = error as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE'
        ? `cannot start the cluster: an engine API address is already in use (${e.message}); is another routemesh running? Stop it or pick another --subnet`
        : `cannot start the cluster: ${e.message}`);
    }
  }

  /**
   * A port that was asked for must be had. The default 53 falls back, when it needs root or is taken, to
   * 10053, then to any free port (tried a few times: UDP picks it, and TCP may find it taken); the log
   * says where DNS went. Any other error (an address not on this machine, say) stops the start.
   */
  async #listenDns(): Promise<void> {
    const { address, port: asked } = this.dnsServer;
    const ports = this.#dnsPortFixed ? [asked] : [DNS_PORT, DNS_FALLBACK_PORT, 0, 0, 0];
    let firstError: NodeJS.ErrnoException | undefined;
    for (const port of ports) {
      try {
        await this.dnsServer.listen(port);
        if (firstError) this.options.log?.(`DNS: ${address}:${DNS_PORT} cannot be bound (${firstError.code}): serving on ${address}:${this.dnsServer.port}`);
        return;
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        firstError ??= e;
        if (this.#dnsPortFixed || (e.code !== 'EACCES' && e.code !== 'EADDRINUSE')) {
          throw new Error(`the DNS server cannot listen on ${address}:${port} (${e.message}): choose another address with --dns ADDR[:PORT]`);
        }
      }
    }
    throw new Error(`the DNS server cannot listen on ${address}:${DNS_PORT} (${firstError?.message}), nor on another port: choose one with --dns ADDR:PORT`);
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

  #formSwarm(): void {
    const [first, ...rest] = this.engines;
    first!.init();
    const manager = first!.requireManager();
    rest.forEach((engine, i) => {
      const role = i + 1 < this.options.managers ? 'manager' : 'worker';
      engine.join({ remoteAddr: first!.clusterAddr, token: manager.tokens.token(role) });
    });
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
    for (const events of this.#events) events.close();
    for (const manager of this.#managers) manager.close();
    await Promise.all([...this.engines.map((e) => e.close()), this.dnsServer.close()]);
  }
}

/** What checkAddressing reads: the nodes' block (or one node's address), and the blocks and DNS addresses they share. */
type Addressing = Pick<ClusterOptions, 'taskSubnet' | 'vipSubnet' | 'dns' | 'dnsUpstreams'> & ({ subnet: string } | { address: string });

/**
 * The blocks and DNS addresses checked as a Cluster checks them, for nodes that are processes of their own:
 * `up` before it starts any (`subnet`), and each node for its own `address`.
 */
export function checkAddressing(options: Addressing): void {
  checkBlocks(options);
  checkDnsAddress(flagValue('--dns', () => parseDnsAddress(options.dns, 0)).address, options);
  for (const text of options.dnsUpstreams ?? []) flagValue('--dns-upstream', () => loopbackUpstream(text));
}

/**
 * Node, task and VIP addresses come from three blocks that must not share an address: the allocator
 * would hand a node's address to a task or a VIP, and its listeners would collide.
 */
function checkBlocks(options: Addressing): void {
  const blocks = [['--task-subnet', options.taskSubnet], ['--vip-subnet', options.vipSubnet]] as const;
  const parsed = [
    'address' in options
      ? { flag: '--address', text: options.address, cidr: { base: ipToInt(options.address), size: 1 } }
      : { flag: '--subnet', text: options.subnet, cidr: flagValue('--subnet', () => parseCidr(options.subnet)) },
    ...blocks.map(([flag, text]) => ({ flag, text, cidr: flagValue(flag, () => parseCidr(text)) })),
  ];
  for (const { flag, text, cidr } of parsed) {
    if (!isLoopback(intToIp(cidr.base)) || !isLoopback(intToIp(cidr.base + cidr.size - 1))) {
      throw new Error(`${flag} ${text} is not inside 127.0.0.0/8: routemesh's nodes, tasks and VIPs live on this machine's ` +
        `loopback, which needs no set-up on Linux; choose a block like ${DEFAULT_CLUSTER.subnet}`);
    }
  }
  parsed.forEach((a, i) => {
    for (const b of parsed.slice(i + 1)) {
      if (a.cidr.base < b.cidr.base + b.cidr.size && b.cidr.base < a.cidr.base + a.cidr.size) {
        throw new Error(`${a.flag} ${a.text} and ${b.flag} ${b.text} overlap: give each a block of its own ` +
          `(the defaults are --subnet ${DEFAULT_CLUSTER.subnet}, --task-subnet ${DEFAULT_CLUSTER.taskSubnet} and --vip-subnet ${DEFAULT_CLUSTER.vipSubnet})`);
      }
    }
  });
}

/** The DNS server listens on loopback, outside the task and VIP blocks, whose addresses go to tasks and services. */
function checkDnsAddress(address: string, options: Addressing): void {
  if (!isLoopback(address)) throw new Error(`--dns ${address} is not a loopback address: choose one in 127.0.0.0/8 (Swarm's is ${DEFAULT_CLUSTER.dns})`);
  if (!isIPv4(address)) return;
  const ip = ipToInt(address);
  for (const [flag, text] of [['--task-subnet', options.taskSubnet], ['--vip-subnet', options.vipSubnet]] as const) {
    const { base, size } = parseCidr(text);
    if (ip >= base && ip < base + size) {
      throw new Error(`--dns ${address} is inside ${flag} ${text}, whose addresses go to ${flag === '--task-subnet' ? 'tasks' : "services' VIPs"}: ` +
        `choose a DNS address outside the task and VIP blocks (Swarm's is ${DEFAULT_CLUSTER.dns})`);
    }
  }
}

/** An upstream the user named: routemesh sends to nothing beyond this machine's loopback. */
function loopbackUpstream(text: string): Upstream {
  const upstream = parseDnsAddress(text);
  if (!isLoopback(upstream.address)) {
    throw new Error(`'${text}' is not on loopback: routemesh forwards names only to a resolver on this machine's loopback ` +
      '(127.0.0.0/8 or ::1), such as systemd-resolved at 127.0.0.53 or a local dnsmasq');
  }
  return upstream;
}

/** A flag's parsed value, or its parse error with the flag's name in front. */
function flagValue<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`);
  }
}

export async function startCluster(options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = new Cluster(options);
  await cluster.start();
  return cluster;
}
