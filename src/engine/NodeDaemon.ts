// One node as a daemon of its own (`routemesh node start`, and each process `routemesh up` starts): a
// bare engine with its own runtime, listening on its address, that `swarm init` or `swarm join` puts in a swarm.
import { Manager } from '../swarm/index.js';
import { Runtime } from '../runtime/index.js';
import { Engine } from './Engine.js';
import type { SwarmDirectory } from './Engine.js';
import { checkAddressing } from './Cluster.js';
import { ClusterEvents } from './ClusterEvents.js';
import { defaultSocketDir } from './EngineSocket.js';
import { processRegistry } from './processRegistry.js';

export interface NodeOptions {
  hostname: string;
  address: string;
  /** The engine API's port on `address` (2375 when absent). */
  apiPort?: number;
  /** Where the node keeps its identity and, as a manager, its swarm, so that a restart finds them again. */
  dataDir?: string;
  /** The engine API socket's directory (defaultSocketDir() when absent). */
  socketDir?: string;
  taskSubnet: string;
  vipSubnet: string;
  /** The embedded DNS server, `ADDR[:PORT]`, held by one node process per host. */
  dns: string;
  dnsUpstreams?: string[];
  /** Seconds a DNS answer naming a VIP, or tasks, may be cached (600 and 5 when absent). */
  dnsVipTtl?: number;
  dnsTaskTtl?: number;
  /** /metrics on `<address>:<metricsPort>`; absent: not served. */
  metricsPort?: number;
  fencePeriodMs?: number;
  heartbeatPeriodMs?: number;
  maxReplicas?: number;
  requestHeadTimeoutMs?: number;
  engineLabels?: Record<string, string>;
  log?: (line: string) => void;
}

/** A running node: where it serves, and how to stop it. */
export interface NodeHandle {
  readonly hostname: string;
  readonly address: string;
  readonly apiUrl: string;
  /** The engine API on its Unix socket, `unix:///...`. */
  readonly socketUrl: string;
  /** Its /metrics URL; absent when metrics are off, or the port could not be had. */
  readonly metricsUrl: string | undefined;
  close(): Promise<void>;
}

const API_PORT = 2375;

/**
 * Starts the node and resolves once its engine API answers. `swarm init` makes the node its own swarm's
 * manager; a `swarm join` reaches only a manager in this process until the cluster protocol carries it.
 */
export async function startNode(options: NodeOptions): Promise<NodeHandle> {
  checkAddressing(options);
  const runtime = new Runtime();
  let manager: Manager | undefined;
  let events: ClusterEvents | undefined;
  const directory: SwarmDirectory = {
    managerAt: (clusterAddr) => (clusterAddr === engine.clusterAddr ? manager : undefined),
    newManager: () => {
      manager = new Manager({
        taskSubnet: options.taskSubnet,
        vipSubnet: options.vipSubnet,
        ...(options.heartbeatPeriodMs !== undefined ? { heartbeatPeriodMs: options.heartbeatPeriodMs } : {}),
        ...(options.maxReplicas !== undefined ? { maxReplicas: options.maxReplicas } : {}),
        ...(options.log ? { log: options.log } : {}),
      });
      if (options.log) events = new ClusterEvents(manager.store, options.log);
      return manager;
    },
    engine: (hostname) => (hostname === engine.hostname ? engine : undefined),
  };
  const engine = new Engine({
    hostname: options.hostname,
    address: options.address,
    apiPort: options.apiPort ?? API_PORT,
    socketDir: options.socketDir ?? defaultSocketDir(),
    runtime,
    directory,
    ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort, sharedMetrics: [processRegistry()] } : {}),
    ...(options.engineLabels ? { engineLabels: options.engineLabels } : {}),
    ...(options.fencePeriodMs !== undefined ? { fencePeriodMs: options.fencePeriodMs } : {}),
    ...(options.requestHeadTimeoutMs !== undefined ? { requestHeadTimeoutMs: options.requestHeadTimeoutMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const close = async (): Promise<void> => {
    events?.close();
    manager?.close();
    await engine.close();
  };
  try {
    await engine.listen();
  } catch (error) {
    await close();
    const e = error as NodeJS.ErrnoException;
    throw new Error(e.code === 'EADDRINUSE'
      ? `cannot start ${options.hostname}: ${e.message.replace(/^listen /, '')}; is another routemesh node on ${options.address}? Stop it or pick another --address`
      : `cannot start ${options.hostname}: ${e.message}`);
  }
  return {
    hostname: engine.hostname,
    address: engine.address,
    apiUrl: engine.apiUrl,
    socketUrl: engine.socketUrl,
    get metricsUrl() { return engine.metricsUrl; },
    close,
  };
}
