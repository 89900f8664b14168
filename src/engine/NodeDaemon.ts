// One node as a daemon (dockerd's part in Swarm): an engine with its runtime and its hold on the host's
// VIPs and DNS, which `swarm init` or `swarm join` puts in a swarm, reaching its managers only over the
// cluster port. `routemesh node start` and each process of `routemesh up` run one; `up --in-process`
// runs several in one process, sharing a runtime. With a data directory the node keeps its identity (and,
// as a manager, the swarm or its copy) there, and a restart brings it back into its swarm.
import { seededRandom } from '../shared/index.js';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdSwarmStore, Manager, SwarmCopy, SwarmDataDir } from '../swarm/index.js';
import type { ClusterView, PortProbe, SwarmBackend, SwarmPersistence, SwarmReader, SwarmSource, SwarmState } from '../swarm/index.js';
import { Runtime } from '../runtime/index.js';
import type { RuntimeOptions } from '../runtime/index.js';
import { parseDnsAddress } from '../vip-dns/index.js';
import type { Upstream } from '../vip-dns/index.js';
import { CLUSTER_PORT } from '../cluster/index.js';
import { Engine } from './Engine.js';
import type { NodeIdentity, SwarmDirectory } from './Engine.js';
import { HostServices } from './HostServices.js';
import { DnsMetrics } from './DnsMetrics.js';
import { ClusterEvents } from './ClusterEvents.js';
import { defaultSocketDir } from './EngineSocket.js';
import { processRegistry } from './processRegistry.js';
import { clusterPortProbe, localPortProbe } from './probePort.js';
import type { ReservedPort } from './probePort.js';
import { parseStoreAddress } from './storeAddress.js';
import { checkDnsAddress, checkNodeAddress, defaultNetworkPool, flagValue, hostUpstreams, loopbackUpstream } from './addressChecks.js';

export interface NodeOptions {
  hostname: string;
  address: string;
  /** The engine API's port on `address` (2375 when absent). */
  apiPort?: number;
  /** The cluster port a manager serves (2377 when absent). */
  clusterPort?: number;
  /** Where the node keeps its identity and, as a manager without `store`, its swarm, so that a restart finds them again. */
  dataDir?: string;
  /**
   * `etcd://HOST:PORT[,...][/PREFIX]`: as a manager, it keeps the swarm in etcd and campaigns there to lead
   * it (a worker never talks to etcd). Absent: in its data directory, the managers agreeing among themselves.
   */
  store?: string;
  /** On a host of its own (as root): route other nodes' task addresses to their nodes (TaskRoutes). */
  routeTasks?: boolean;
  /** How long a leader that stops renewing its lease in etcd (killed, or cut off) keeps the lead: whole seconds (2 when absent). */
  leaderLeaseSeconds?: number;
  /** The engine API socket's directory (defaultSocketDir() when absent). */
  socketDir?: string;
  taskSubnet: string;
  vipSubnet: string;
  /** Where networks' loopback blocks come from; absent: the upper half of the /16 of `address` (defaultNetworkPool). */
  networkPool?: string;
  /** The embedded DNS server, `ADDR[:PORT]`, held by one node per host. */
  dns: string;
  /** Where other names go, each `ADDR[:PORT]` on loopback; absent: /etc/resolv.conf's on loopback. */
  dnsUpstreams?: string[];
  /** Seconds a DNS answer naming a VIP, or tasks, may be cached (600 and 5 when absent). */
  dnsVipTtl?: number;
  dnsTaskTtl?: number;
  dnsForwardTimeoutMs?: number;
  /** /metrics on `<address>:<metricsPort>`; absent: not served. */
  metricsPort?: number;
  fencePeriodMs?: number;
  heartbeatPeriodMs?: number;
  maxReplicas?: number;
  requestHeadTimeoutMs?: number;
  simplenode?: RuntimeOptions['simplenode'];
  /** Seeds what the node's mesh draws at random (p2c's picks, faults' jitter and losses), so a run replays; absent: Math.random. */
  seed?: string | number;
  engineLabels?: Record<string, string>;
  log?: (line: string) => void;
}

/** What nodes in one process share (`up --in-process`): one runtime, and fault injection reaching each other. */
export interface SharedByNodes {
  runtime: Runtime;
  findEngine: (hostname: string) => Engine | undefined;
  /** Whether this node serves the process's metrics (one node per process does). */
  processMetrics: boolean;
  /** The DNS upstreams, resolved once for all. */
  upstreams: Upstream[];
}

const API_PORT = 2375;
const IDENTITY_FILE = 'node.json';
/** Where a manager keeps the swarm (its own, or its copy of the leader's), in its data directory. */
const SWARM_DIR = 'swarm';
/** A killed leader's successor is elected this long after its last lease renewal (etcd's least is about 2 s). */
const DEFAULT_LEADER_LEASE_SECONDS = 2;

export class NodeDaemon implements SwarmDirectory {
  readonly engine: Engine;
  readonly host: HostServices;
  readonly #options: NodeOptions;
  readonly #log: (line: string) => void;
  readonly #shared: SharedByNodes | undefined;
  /** Its data directory's `swarm/`: the swarm this manager leads, or its copy of it (not kept with a store). */
  readonly #swarmData: SwarmBackend | undefined;
  /** Where the managers keep the swarm and elect its leader (`--store`). */
  readonly store: EtcdSwarmStore | undefined;
  /** The control plane this node runs (it leads), with its event log. */
  #control: { manager: Manager; events?: ClusterEvents } | undefined;
  /** What the data directory follows: this node's control plane while it leads, else its copy of the leader's swarm. */
  #journal: Promise<SwarmPersistence | undefined> = Promise.resolve(undefined);
  /** Whether this node can open a published port: the ports it uses itself refused by name, others bound once. */
  readonly #probeHere: PortProbe;
  /** Identity writes, one after the other. */
  #saving: Promise<void> = Promise.resolve();
  #closed = false;
  /** What the DNS server says of /etc/resolv.conf's resolvers beyond loopback, if it serves. */
  #upstreamsNote: string | undefined;

  /** Where networks' loopback blocks come from (the leader hands them out). */
  get networkPool(): string {
    return this.#options.networkPool ?? defaultNetworkPool(this.#options.address, [this.#options.taskSubnet, this.#options.vipSubnet]);
  }

  constructor(options: NodeOptions, shared?: SharedByNodes) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#shared = shared;
    this.#probeHere = localPortProbe(options.address, () => this.#reservedPorts());
    const blocks = { ...options, networkPool: this.networkPool };
    checkNodeAddress(options.address, blocks);
    const dns = flagValue('--dns', () => parseDnsAddress(options.dns, 0));
    checkDnsAddress(dns.address, blocks);
    // Said by the node that serves DNS only, not once per node process.
    const upstreams = shared?.upstreams ?? options.dnsUpstreams?.map(loopbackUpstream) ?? hostUpstreams((line) => { this.#upstreamsNote = line; });
    const metrics = options.metricsPort !== undefined;
    // Counted only when served: with metrics off, a query pays nothing for them.
    const dnsMetrics = metrics ? new DnsMetrics() : undefined;
    this.host = new HostServices({
      holder: options.hostname,
      dns: {
        address: dns.address,
        port: dns.port,
        zone: { vipTtl: options.dnsVipTtl ?? 600, taskTtl: options.dnsTaskTtl ?? 5, ownedBlocks: [options.vipSubnet, options.taskSubnet, this.networkPool] },
        upstreams,
        ...(options.dnsForwardTimeoutMs !== undefined ? { forwardTimeoutMs: options.dnsForwardTimeoutMs } : {}),
        ...(options.log ? { log: options.log } : {}),
        ...(dnsMetrics ? { observe: dnsMetrics.dnsAnswered } : {}),
      },
      ...(options.log ? { log: options.log } : {}),
    });
    if (options.store) {
      const { endpoints, prefix } = parseStoreAddress(options.store);
      this.store = new EtcdSwarmStore({ endpoints, prefix, leaseTtlSeconds: options.leaderLeaseSeconds ?? DEFAULT_LEADER_LEASE_SECONDS, log: this.#log });
    } else if (options.dataDir) {
      this.#swarmData = new SwarmDataDir(join(options.dataDir, SWARM_DIR), { log: this.#log });
    }
    this.engine = new Engine({
      hostname: options.hostname,
      address: options.address,
      apiPort: options.apiPort ?? API_PORT,
      clusterPort: options.clusterPort ?? CLUSTER_PORT,
      socketDir: options.socketDir ?? defaultSocketDir(),
      runtime: shared?.runtime ?? new Runtime(options.simplenode ? { simplenode: options.simplenode } : {}),
      directory: this,
      host: this.host,
      ...(options.dataDir ? { volumesDir: join(options.dataDir, 'volumes') } : {}),
      probePort: this.#probeHere,
      ...(options.metricsPort !== undefined ? { metricsPort: options.metricsPort } : {}),
      // Each node's DNS server counts only while it serves; the process's metrics once per process.
      ...(dnsMetrics ? { sharedMetrics: shared?.processMetrics === false ? [dnsMetrics.registry] : [processRegistry(), dnsMetrics.registry] } : {}),
      ...(options.engineLabels ? { engineLabels: options.engineLabels } : {}),
      ...(options.fencePeriodMs !== undefined ? { fencePeriodMs: options.fencePeriodMs } : {}),
      ...(options.seed !== undefined ? { random: seededRandom(`${options.seed}:${options.hostname}`) } : {}),
      ...(options.requestHeadTimeoutMs !== undefined ? { requestHeadTimeoutMs: options.requestHeadTimeoutMs } : {}),
      ...(options.routeTasks ? { routeTasks: true } : {}),
      ...(options.dataDir ? { onMembership: (identity: NodeIdentity | undefined) => this.#saveIdentity(identity) } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  // ---- SwarmDirectory ---------------------------------------------------------------------------

  newCopy(store: ClusterView, swarm: () => SwarmState['swarm'] | undefined): SwarmReader {
    return new SwarmCopy({ store, swarm, taskSubnet: this.#options.taskSubnet });
  }

  /** A control plane for this node, new or made again; journaled to the data directory when there is one. */
  newManager(restore?: SwarmState): Manager {
    const options = this.#options;
    const previous = this.#control;
    const manager: Manager = new Manager({
      ...(restore ? { restore } : {}),
      taskSubnet: options.taskSubnet,
      vipSubnet: options.vipSubnet,
      networkPool: this.networkPool,
      ...(options.heartbeatPeriodMs ? { heartbeatPeriodMs: options.heartbeatPeriodMs } : {}),
      ...(options.maxReplicas !== undefined ? { maxReplicas: options.maxReplicas } : {}),
      ...(options.log ? { log: options.log } : {}),
      ...(this.store ? { quorumInStore: true } : {}),
      portProbe: clusterPortProbe(options.address, this.#probeHere, () => manager.store.nodes().map((n) => n.Status.Addr), () => Number(new URL(this.engine.apiUrl).port)),
    });
    this.#keep(manager);
    previous?.events?.close();
    this.#control = { manager, ...(options.log ? { events: new ClusterEvents(manager.store, options.log) } : {}) };
    return manager;
  }

  /** A manager that does not lead keeps its copy of the swarm (undefined: it is a manager no more). */
  keepCopy(copy: SwarmSource | undefined): void {
    if (this.store) return; // etcd keeps the swarm for every manager
    if (copy) this.#keep(copy);
    else this.#forget();
  }

  /** The data directory (or etcd, a leader's only) follows `source` from now on, once what it followed before has ended. */
  #keep(source: SwarmSource): void {
    const backend = this.store ?? this.#swarmData;
    if (!backend) return;
    const previous = this.#journal;
    this.#journal = (async () => {
      await (await previous)?.close().catch(() => {});
      return backend.persist(source);
    })().catch((error: Error) => {
      if (this.store) return undefined; // said by the store, whose leader steps down
      this.#log(`${this.#options.hostname}: the swarm cannot be kept in ${this.#options.dataDir} (${error.message}); it runs on in memory, and a restart loses it`);
      return undefined;
    });
  }

  /** No copy to keep (a worker, or out of the swarm): what was kept is removed, never to be led from. */
  #forget(): void {
    if (!this.#swarmData) return;
    const previous = this.#journal;
    this.#journal = (async () => {
      await (await previous)?.close().catch(() => {});
      await this.#swarmData!.remove();
      return undefined;
    })();
  }

  /**
   * A journal that failed has said so, and what to do: the answer goes out all the same. A change etcd did
   * not confirm is answered with an error instead: its leader has stepped down, and the next leads from
   * what etcd holds, which may or may not include the change.
   */
  async durable(): Promise<void> {
    const flushed = (await this.#journal)?.flush();
    if (!this.store) return flushed?.catch(() => {});
    await flushed?.catch((error: Error) => {
      // As with any consensus, a write etcd did not confirm may still be committed when its quorum is back.
      throw new Error(`The swarm does not have a leader: ${this.store!.where} did not confirm this change (${error.message}), ` +
        'so it may or may not take effect once etcd has a quorum again: look (docker service ls, node ls ...) before trying again');
    });
  }

  /** The last manager left: its control plane is followed no more, and the swarm is deleted from etcd. */
  async eraseStoredSwarm(): Promise<void> {
    if (!this.store) return;
    const journal = this.#journal;
    this.#journal = Promise.resolve(undefined);
    await (await journal)?.close().catch(() => {});
    await this.store.remove();
  }

  /** Fault injection reaches the nodes of one process only: a node process alone fails by being killed. */
  findEngine(hostname: string): Engine | undefined {
    return this.#shared?.findEngine(hostname);
  }

  /** The ports routemesh listens on (or, for 2377, names) on the node addresses, which no service may publish. */
  #reservedPorts(): ReservedPort[] {
    const engine = this.engine;
    const portOf = (url: string): number => Number(new URL(url).port);
    const { address, port } = this.host.dnsServer;
    const reserved: ReservedPort[] = [
      { port: portOf(engine.apiUrl), protocols: ['tcp'], holder: `the engine API port of every node (--api-port; DOCKER_HOST=${engine.apiUrl.replace('http:', 'tcp:')})` },
      { port: Number(engine.clusterAddr.split(':')[1]), protocols: ['tcp'], holder: `the swarm's cluster port, which \`docker swarm join\` names (${engine.clusterAddr})` },
    ];
    if (engine.metricsUrl) reserved.push({ port: portOf(engine.metricsUrl), protocols: ['tcp'], holder: `the metrics port of every node (--metrics-port; ${engine.metricsUrl})` });
    reserved.push({ port, protocols: ['tcp', 'udp'], holder: `the embedded DNS server's port (${address}:${port}; --dns)` });
    return reserved;
  }

  // ---- life -------------------------------------------------------------------------------------

  /**
   * Reads its data directory, listens, then, when that remembers a swarm, goes back into it. Damaged data
   * stops it before its engine API ever answers, so `up` never takes it for a node that started and died.
   */
  async start(): Promise<void> {
    const identity = await this.#loadIdentity().catch(async (error: Error) => {
      await this.close();
      throw error;
    });
    try {
      await this.engine.listen();
      if (this.#upstreamsNote && this.host.held()) this.#log(this.#upstreamsNote);
    } catch (error) {
      await this.close();
      const e = error as NodeJS.ErrnoException;
      throw new Error(e.code === 'EADDRINUSE'
        ? `cannot start ${this.#options.hostname}: ${e.message.replace(/^listen /, '')}; is another routemesh node on ${this.#options.address}? Stop it or pick another --address`
        : `cannot start ${this.#options.hostname}: ${e.message}`);
    }
    if (!identity) return;
    try {
      await this.engine.resume(identity);
      this.#log(`${this.#options.hostname}: back in its swarm (node ${identity.nodeId}, data in ${this.#options.dataDir})`);
    } catch (error) {
      // Removed from its swarm while away: it forgot the swarm, and has nothing to try again.
      if (this.engine.swarmState() !== 'pending') {
        this.#log(`${this.#options.hostname}: ${(error as Error).message}`);
        return;
      }
      // Its managers are not back yet: it keeps trying, as a restarted dockerd does.
      this.#log(`${this.#options.hostname}: ${(error as Error).message}; trying again every second`);
      void this.#resumeLater(identity);
    }
  }

  async #resumeLater(identity: NodeIdentity): Promise<void> {
    while (!this.#closed && this.engine.swarmState() === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      if (this.#closed || this.engine.swarmState() !== 'pending') return;
      try {
        await this.engine.resume(identity);
        this.#log(`${this.#options.hostname}: back in its swarm (node ${identity.nodeId})`);
      } catch {
        // said once already
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.engine.close();
    const control = this.#control;
    this.#control = undefined;
    control?.events?.close();
    control?.manager.close();
    await (await this.#journal)?.close().catch((error: Error) => this.#log(`${this.#options.hostname}: ${error.message}`));
    await this.store?.close();
    await this.#saving;
  }

  // ---- the data directory ------------------------------------------------------------------------

  async #loadIdentity(): Promise<NodeIdentity | undefined> {
    const dir = this.#options.dataDir;
    if (!dir) return undefined;
    let text: string;
    try {
      text = await readFile(join(dir, IDENTITY_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    let identity: NodeIdentity;
    try {
      identity = JSON.parse(text) as NodeIdentity;
      if (typeof identity.nodeId !== 'string' || typeof identity.token !== 'string' || !Array.isArray(identity.managers)) throw new Error('fields are missing');
    } catch (error) {
      throw new Error(`${join(dir, IDENTITY_FILE)} is damaged (${(error as Error).message}): start with --fresh (or remove ${dir}) to begin again, which loses this node's place in its swarm`);
    }
    const swarm = await this.#swarmData?.load();
    if (!swarm && !this.store && identity.managers.every((addr) => addr === this.engine.clusterAddr)) {
      // Its swarm lived only here: without it there is nothing to go back to, and waiting would never end.
      throw new Error(`cannot start ${this.#options.hostname}: ${join(dir, IDENTITY_FILE)} names it the only manager of its swarm, but ` +
        `${join(dir, SWARM_DIR)} holds no copy of that swarm (removed, or never written): restore a copy of ${join(dir, SWARM_DIR)}, ` +
        `or start over, which loses the swarm: routemesh up --fresh (for routemesh node start, remove ${dir})`);
    }
    return swarm ? { ...identity, swarm } : identity;
  }

  /** Written whole or not at all (a temporary file renamed over); owner-only, as it holds the join token. */
  #saveIdentity(identity: NodeIdentity | undefined): void {
    const dir = this.#options.dataDir!;
    this.#saving = this.#saving.then(async () => {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = join(dir, IDENTITY_FILE);
      if (!identity) {
        // Left the swarm: nothing to come back to.
        await rm(file, { force: true });
        this.#forget();
        await this.#journal;
        return;
      }
      await writeFile(`${file}.tmp`, JSON.stringify(identity), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    }).catch((error: Error) => this.#log(`${this.#options.hostname}: cannot write its identity in ${dir} (${error.message}); a restart will not rejoin by itself`));
  }
}

/** A running node as `routemesh node start` sees it: where it serves, and how to stop it. */
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

/**
 * Starts one node and resolves once its engine API answers and, with a data directory that remembers a
 * swarm, it has tried once to go back into it (it keeps trying while its managers are not back).
 */
export async function startNode(options: NodeOptions): Promise<NodeHandle> {
  const node = new NodeDaemon(options);
  await node.start();
  const { engine } = node;
  return {
    hostname: engine.hostname,
    address: engine.address,
    apiUrl: engine.apiUrl,
    socketUrl: engine.socketUrl,
    get metricsUrl() { return engine.metricsUrl; },
    close: () => node.close(),
  };
}
