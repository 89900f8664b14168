// A whole cluster in this process: N engines on consecutive addresses of a subnet, the first a
// manager that inits the swarm, the next M-1 joining as managers and the rest as workers -
// through the same init/join paths the engine API serves.
import { Manager } from '../swarm/index.js';
import { intToIp, parseCidr } from '../vip-dns/index.js';
import { Runtime } from '../runtime/index.js';
import { Engine } from './Engine.js';
import type { SwarmDirectory } from './Engine.js';
import { portProbe } from './probePort.js';

export interface ClusterOptions {
  nodes: number;
  managers: number;
  /** Node i (1-based) gets the subnet's i-th address: 127.1.0.0/24 → 127.1.0.1, 127.1.0.2 ... */
  subnet: string;
  apiPort: number;
  taskSubnet: string;
  vipSubnet: string;
  /** Engines up but not in a swarm, like fresh machines (`docker swarm init` comes later). */
  bare: boolean;
  /** How often nodes send heartbeats (Swarm: 5 s); a node is Down after three missed. */
  heartbeatPeriodMs?: number;
  log?: (line: string) => void;
}

const DEFAULT_CLUSTER: ClusterOptions = {
  nodes: 3,
  managers: 1,
  subnet: '127.1.0.0/24',
  apiPort: 2375,
  taskSubnet: '127.20.0.0/16',
  vipSubnet: '127.10.0.0/16',
  bare: false,
};

export interface ClusterNodeInfo {
  hostname: string;
  address: string;
  role: 'manager' | 'worker' | 'none';
  apiUrl: string;
  nodeId: string;
}

export class Cluster implements SwarmDirectory {
  readonly options: ClusterOptions;
  readonly engines: Engine[] = [];
  readonly runtime = new Runtime();
  #managers: Manager[] = [];

  constructor(options: Partial<ClusterOptions> = {}) {
    this.options = { ...DEFAULT_CLUSTER, ...options };
    const { nodes, managers, subnet } = this.options;
    if (!Number.isInteger(nodes) || nodes < 1) throw new Error(`--nodes must be 1 or more, got ${nodes}`);
    if (!Number.isInteger(managers) || managers < 1 || managers > nodes) {
      throw new Error(`--managers must be between 1 and the number of nodes (${nodes}), got ${managers}`);
    }
    const block = parseCidr(subnet);
    // Checked now, not at `swarm init`: a bad block must stop the start before anything listens.
    parseCidr(this.options.taskSubnet);
    parseCidr(this.options.vipSubnet);
    if (nodes > block.size - 2) throw new Error(`--subnet ${subnet} has room for ${block.size - 2} nodes, not ${nodes}`);
    for (let i = 1; i <= nodes; i++) {
      this.engines.push(new Engine({
        hostname: `node${i}`,
        address: intToIp(block.base + i),
        apiPort: this.options.apiPort,
        runtime: this.runtime,
        directory: this,
        ...(this.options.log ? { log: this.options.log } : {}),
      }));
    }
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
      portProbe: portProbe(() => manager.store.nodes().map((n) => n.Status.Addr)),
    });
    this.#managers.push(manager);
    return manager;
  }

  /** Opens every engine API and forms the swarm; on any failure closes what it opened and says why. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.engines.map((e) => e.listen()));
      if (!this.options.bare) this.#formSwarm();
    } catch (error) {
      await this.close();
      const e = error as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE'
        ? `cannot start the cluster: an engine API address is already in use (${e.message}); is another routemesh running? Stop it or pick another --subnet`
        : `cannot start the cluster: ${e.message}`);
    }
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
        nodeId: e.nodeId() ?? '',
      };
    });
  }

  async close(): Promise<void> {
    for (const manager of this.#managers) manager.close();
    await Promise.all(this.engines.map((e) => e.close()));
  }
}

export async function startCluster(options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = new Cluster(options);
  await cluster.start();
  return cluster;
}
