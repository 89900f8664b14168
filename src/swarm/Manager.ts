// The control plane of one swarm: accepts desired state (services, node changes), has the
// orchestrators turn it into tasks, places them on nodes, and takes task status back from the agents.
// Level-triggered: every change queues its services (or node), and the reconcile queue reads the store
// and converges them in bounded slices (a request runs the first slice itself, task reports the next turn).
import type {
  Network, NodeRole, NodeSpec, PortConfig, Service, ServiceSpec, SwarmNode, SwarmSpec, Task, TaskEndpoint, TaskState, VirtualIP,
} from './model.js';
import { isGlobal, isTerminal, nowIso, replicasOf } from './model.js';
import { Store } from './Store.js';
import { Scheduler, isEligible } from './Scheduler.js';
import { Allocator } from './Allocator.js';
import type { AllocatorOptions } from './Allocator.js';
import { nodeSatisfies, parseConstraint } from './constraints.js';
import { normalizeServiceSpec } from './serviceSpec.js';
import { normalizeNodeSpec } from './nodeSpec.js';
import { INGRESS_NETWORK_NAME, TaskLifecycle } from './TaskLifecycle.js';
import { RestartSupervisor } from './RestartSupervisor.js';
import { realTimer } from './timer.js';
import type { SetTimer } from './timer.js';
import { ReplicatedOrchestrator } from './ReplicatedOrchestrator.js';
import { GlobalOrchestrator } from './GlobalOrchestrator.js';
import { historyLimit, trimHistory } from './taskHistory.js';
import { Updater, isUpdating } from './Updater.js';
import { sameSpec } from './sameSpec.js';
import { SwarmError, failedPrecondition, invalidArgument, nameConflict, outOfSequence, rpcError } from './errors.js';
import { newObjectId } from './ids.js';
import { DEFAULT_HEARTBEAT_PERIOD_MS, NANOS_PER_MS, NANOS_PER_SECOND } from './defaults.js';
import { defaultSwarmSpec, normalizeSwarmSpec } from './swarmSpec.js';
import { JoinTokens, joinTokensOf } from './JoinTokens.js';
import { RootCA } from './RootCA.js';
import { naturalOrder } from './naturalOrder.js';
import { ReconcileQueue } from './ReconcileQueue.js';
import type { Dirty, SliceBudget } from './ReconcileQueue.js';
import { SWARM_STATE_FORMAT, checkSwarmState } from './SwarmState.js';
import type { SwarmState } from './SwarmState.js';
import { Faults } from './Faults.js';
import { SecretKind } from './SecretKind.js';
import { NetworkAllocator } from './NetworkAllocator.js';
import { SwarmNetworks } from './SwarmNetworks.js';
import { PREDEFINED_NETWORKS } from './networkSpec.js';
import { clusterInfoOf, resolveNodeIn, resolveServiceIn } from './SwarmReader.js';
import type { SwarmReader } from './SwarmReader.js';
import { IpamError } from '../vip-dns/index.js';

/** Checks that every node can open a published port; throws an Error whose message says what to do. */
export type PortProbe = (port: PortConfig) => Promise<void>;

export interface ManagerOptions extends AllocatorOptions {
  /** The loopback block networks' blocks come from (`up --network-pool`); default DEFAULT_NETWORK_POOL. */
  networkPool?: string;
  portProbe?: PortProbe;
  /** Injected so tests can run restart delays and update pacing without waiting. */
  setTimer?: SetTimer;
  now?: () => number;
  /** Swarm's dispatcher heartbeat period (5 s); a node is Down after three of them without one. */
  heartbeatPeriodMs?: number;
  /** The most replicas one service may ask for (`routemesh up --max-replicas`); the task address pool bounds it too. */
  maxReplicas?: number;
  /** Task writes per reconcile slice (see ReconcileQueue). */
  sliceBudget?: number;
  /** Where an error of a reconcile no request waits for goes. */
  log?: (line: string) => void;
  /**
   * The swarm to make again (from `exportState`, or a data directory): same IDs, CA, tokens, spec and
   * objects. Its stored swarm spec wins over `heartbeatPeriodMs`.
   */
  restore?: SwarmState;
  /**
   * The swarm is kept in a store that has its own quorum (etcd), which made this manager leader: it
   * decides however many managers answer heartbeats. Absent: the managers' own quorum, more than half ready.
   */
  quorumInStore?: boolean;
}

/** The network pool of `routemesh up`'s default node subnet, 127.1.0.0/24: the upper half of its /16. */
export const DEFAULT_NETWORK_POOL = '127.1.128.0/17';


/** Far more than one machine runs well, far less than what stalls it (see `replicaLimit`). */
export const DEFAULT_MAX_REPLICAS = 10_000;

const MISSED_HEARTBEATS = 3;
/**
 * After a restore or an election every node must first find the new leader and open a session with it,
 * which under load takes longer than a heartbeat: it gets twice the usual grace, as swarmkit gives a node
 * of unknown state.
 */
const MISSED_HEARTBEATS_AFTER_RESTORE = MISSED_HEARTBEATS * 2;

export interface NodeJoin {
  hostname: string;
  addr: string;
  role: NodeRole;
  engineLabels?: Record<string, string>;
}

export interface TaskStatusReport {
  State: TaskState;
  Message: string;
  Err?: string;
  ExitCode?: number;
  PID?: number;
  Endpoint?: TaskEndpoint;
  Health?: 'starting' | 'healthy' | 'unhealthy';
}


export class Manager implements SwarmReader {
  readonly store = new Store();
  /** `docker secret` and `docker config`: kept in the store, referred to by services. */
  readonly secrets = new SecretKind(this.store, 'secret');
  readonly configs = new SecretKind(this.store, 'config');
  readonly faults: Faults;
  readonly swarmId: string;
  readonly ingressNetworkId: string;
  readonly rootCA: RootCA;
  readonly tokens: JoinTokens;
  readonly createdAt: string;
  swarmVersion: number;
  swarmUpdatedAt: string;
  /** Told of every change to the swarm object itself (its spec, version, tokens): the store's events cover the rest. */
  #swarmListeners = new Set<() => void>();
  #scheduler = new Scheduler();
  #allocator: Allocator;
  /** Each network's loopback block and the addresses handed out on it. */
  readonly #networkAddresses: NetworkAllocator;
  /** The swarm's networks and containers' places on them. */
  readonly networks: SwarmNetworks;
  #portProbe: PortProbe;
  #tasks: TaskLifecycle;
  #restarts: RestartSupervisor;
  #replicated: ReplicatedOrchestrator;
  #global: GlobalOrchestrator;
  #updater: Updater;
  #closed = false;
  #setTimer: SetTimer;
  #now: () => number;
  #swarmSpec: SwarmSpec;
  /** The ingress network's address block: where tasks get their addresses. */
  readonly taskSubnet: string;
  /**
   * When each node is Down unless it beats again: three periods from its last beat, counted with the period
   * it was told then (as swarmkit's dispatcher does), so a shorter period marks no node Down before it heard it.
   */
  #heartbeatDeadline = new Map<string, number>();
  #sweep: { cancel(): void } | undefined;
  #queue: ReconcileQueue;
  #runsOn: string | undefined;
  readonly #quorumInStore: boolean;
  readonly maxReplicas: number;

  constructor(options: ManagerOptions) {
    const restored = options.restore && checkSwarmState(options.restore);
    this.#quorumInStore = options.quorumInStore ?? false;
    const swarm = restored ? restored.swarm : undefined;
    this.swarmId = swarm?.id ?? newObjectId();
    this.ingressNetworkId = swarm?.ingressNetworkId ?? newObjectId();
    this.rootCA = new RootCA(undefined, swarm?.rootCA);
    this.tokens = new JoinTokens(this.rootCA.joinTokenDigest, swarm?.tokens);
    this.createdAt = swarm?.createdAt ?? nowIso();
    if (restored) {
      const { index, nodes, services, tasks, networks, secrets, configs, faults } = structuredClone(restored);
      this.store.restore(index, nodes, services, tasks, { networks, secrets, configs, faults });
    }
    this.swarmVersion = swarm?.version ?? this.store.nextIndex();
    this.swarmUpdatedAt = swarm?.updatedAt ?? this.createdAt;
    this.#allocator = new Allocator(options);
    this.#networkAddresses = new NetworkAllocator(options.networkPool ?? DEFAULT_NETWORK_POOL);
    this.networks = new SwarmNetworks(this.store, this.#networkAddresses, this.ingressNetworkId);
    this.taskSubnet = options.taskSubnet;
    this.maxReplicas = options.maxReplicas ?? DEFAULT_MAX_REPLICAS;
    const log = options.log ?? ((line: string) => console.error(line));
    this.#queue = new ReconcileQueue((item, budget) => this.#reconcileItem(item, budget), {
      ...(options.sliceBudget !== undefined ? { perSlice: options.sliceBudget } : {}),
      onError: (error, item) => log(`manager: reconciling ${item.kind === 'addresses' ? 'the task address pool' : `${item.kind} ${item.id}`} ` +
        `failed, the others go on: ${(error as Error).stack ?? String(error)}`),
    });
    this.#portProbe = options.portProbe ?? (async () => {});
    this.#tasks = new TaskLifecycle(this.store, this.#allocator, this.#networkAddresses, this.ingressNetworkId);
    this.#setTimer = options.setTimer ?? realTimer;
    this.#now = options.now ?? Date.now;
    this.faults = new Faults(this.store, { setTimer: this.#setTimer, now: this.#now });
    this.#restarts = new RestartSupervisor(this.#setTimer, (serviceId) => this.reconcile(serviceId), this.#now);
    this.#replicated = new ReplicatedOrchestrator(this.#tasks, this.#restarts);
    this.#global = new GlobalOrchestrator(this.#tasks, this.#restarts);
    this.#swarmSpec = swarm ? structuredClone(swarm.spec) : defaultSwarmSpec(options.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS);
    this.#updater = new Updater(this.#tasks, {
      setTimer: this.#setTimer,
      now: this.#now,
      due: (serviceId) => this.reconcile(serviceId),
    });
    if (restored) this.#restored();
  }

  /**
   * After a restore: the addresses the objects hold are taken again, every node gets six heartbeat periods
   * to come back (it keeps its stored state until then), and every service is reconciled (restart delays and
   * update pacing start again).
   */
  #restored(): void {
    for (const network of this.store.all('network')) this.#networkAddresses.add(network);
    this.#tasks.restore();
    for (const service of this.store.services()) {
      for (const vip of service.Endpoint.VirtualIPs ?? []) {
        if (vip.LoopbackAddr) this.#networkAddresses.restore(vip.NetworkID, vipHolder(service.ID), vip.LoopbackAddr);
        else this.#allocator.restoreVip(vip.Addr);
      }
    }
    const deadline = this.#now() + this.heartbeatPeriodMs * MISSED_HEARTBEATS_AFTER_RESTORE;
    for (const node of this.store.nodes()) this.#heartbeatDeadline.set(node.ID, deadline);
    if (this.#heartbeatDeadline.size) this.#sweep = this.#setTimer(() => this.#sweepHeartbeats(), this.heartbeatPeriodMs);
    this.faults.restored();
    this.#reconcileAll();
  }

  /** The swarm as plain JSON, for its data directory (the objects are the store's own: serialise, do not change them). */
  exportState(): SwarmState {
    return {
      format: SWARM_STATE_FORMAT,
      swarm: this.exportSwarm(),
      index: this.store.index,
      nodes: this.store.nodes(),
      services: this.store.services(),
      tasks: this.store.tasks(),
      networks: this.store.all('network'),
      secrets: this.store.all('secret'),
      configs: this.store.all('config'),
      faults: this.store.all('fault'),
    };
  }

  /** The swarm object itself (IDs, spec, CA with its key, token secrets), without the store's objects. */
  exportSwarm(): SwarmState['swarm'] {
    return {
      id: this.swarmId,
      ingressNetworkId: this.ingressNetworkId,
      createdAt: this.createdAt,
      updatedAt: this.swarmUpdatedAt,
      spec: this.swarmSpec,
      version: this.swarmVersion,
      rootCA: { certificatePem: this.rootCA.certificatePem, keyPem: this.rootCA.keyPem },
      tokens: this.tokens.secrets,
    };
  }

  /** Calls `listener` after each change to the swarm object itself; returns how to stop. */
  onSwarmChanged(listener: () => void): () => void {
    this.#swarmListeners.add(listener);
    return () => { this.#swarmListeners.delete(listener); };
  }

  close(): void {
    this.#closed = true;
    this.#queue.close();
    this.#restarts.close();
    this.#updater.close();
    this.#sweep?.cancel();
    this.faults.close();
  }

  /** How often nodes beat (the swarm's Dispatcher.HeartbeatPeriod): each engine reads it as it arms its next beat. */
  get heartbeatPeriodMs(): number {
    return this.#swarmSpec.Dispatcher.HeartbeatPeriod / NANOS_PER_MS;
  }

  /** A node's agent is alive. A node that was Down comes back Ready (empty: its tasks were replaced). */
  heartbeat(nodeId: string): void {
    if (this.#closed || !this.store.node(nodeId)) return;
    this.#heartbeatDeadline.set(nodeId, this.#now() + this.heartbeatPeriodMs * MISSED_HEARTBEATS);
    this.#sweep ??= this.#setTimer(() => this.#sweepHeartbeats(), this.heartbeatPeriodMs);
    this.setNodeState(nodeId, 'ready');
  }

  #sweepHeartbeats(): void {
    this.#sweep = undefined;
    if (this.#closed) return;
    const now = this.#now();
    for (const [nodeId, deadline] of this.#heartbeatDeadline) {
      if (!this.store.node(nodeId)) this.#heartbeatDeadline.delete(nodeId);
      else if (deadline < now) this.setNodeState(nodeId, 'down');
    }
    if (this.#heartbeatDeadline.size) this.#sweep = this.#setTimer(() => this.#sweepHeartbeats(), this.heartbeatPeriodMs);
  }

  /** A node that left the swarm stops being watched for heartbeats. */
  forgetHeartbeats(nodeId: string): void {
    this.#heartbeatDeadline.delete(nodeId);
  }

  // ---- nodes ----------------------------------------------------------------------------------

  addNode(join: NodeJoin): SwarmNode {
    const now = nowIso();
    const node: SwarmNode = {
      ID: newObjectId(),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Labels: {}, Role: join.role, Availability: 'active' },
      Description: {
        Hostname: join.hostname,
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: 2 * NANOS_PER_SECOND, MemoryBytes: 2 * 1024 ** 3 },
        Engine: {
          EngineVersion: '28.2.2',
          Labels: join.engineLabels ?? {},
          Plugins: [
            { Type: 'Log', Name: 'json-file' },
            { Type: 'Network', Name: 'overlay' },
            { Type: 'Volume', Name: 'local' },
          ],
        },
        TLSInfo: this.rootCA.tlsInfo,
      },
      Status: { State: 'ready', Addr: join.addr },
    };
    this.#setManagerStatus(node);
    this.store.putNode(node);
    this.#electLeader();
    this.#reconcileAll();
    return this.store.node(node.ID)!;
  }

  /** Leadership is `#electLeader`'s to give, once the node is in the store. */
  #setManagerStatus(node: SwarmNode): void {
    if (node.Spec.Role === 'manager') {
      node.ManagerStatus = { Leader: false, Reachability: 'reachable', Addr: `${node.Status.Addr}:2377` };
    } else {
      delete node.ManagerStatus;
    }
  }

  /** Raft's rule: the managers can decide only while more than half of them are reachable. */
  hasQuorum(): boolean {
    if (this.#quorumInStore) return true;
    const managers = this.store.nodes().filter((n) => n.Spec.Role === 'manager');
    return managers.filter((n) => n.Status.State === 'ready').length * 2 > managers.length;
  }

  /**
   * The node whose process runs this control plane: it is the Leader the store shows (a swarm made again
   * from a copy names the old leader until then).
   */
  runsOn(nodeId: string): void {
    this.#runsOn = nodeId;
    this.#electLeader();
  }

  /** Keeps exactly one Leader among the reachable managers while there is a quorum, none without one. */
  #electLeader(): void {
    const managers = this.store.nodes().filter((n) => n.Spec.Role === 'manager')
      .sort((a, b) => naturalOrder(a.Description.Hostname, b.Description.Hostname));
    const quorum = this.hasQuorum();
    const current = managers.find((n) => (this.#runsOn ? n.ID === this.#runsOn : n.ManagerStatus?.Leader) && n.Status.State === 'ready');
    const leader = quorum ? current ?? managers.find((n) => n.Status.State === 'ready') : undefined;
    for (const node of managers) {
      const isLeader = node === leader;
      const reachability = node.Status.State === 'ready' ? 'reachable' : 'unreachable';
      if (node.ManagerStatus?.Leader === isLeader && node.ManagerStatus.Reachability === reachability) continue;
      const next = structuredClone(node);
      next.ManagerStatus = { Addr: `${node.Status.Addr}:2377`, ...next.ManagerStatus, Leader: isLeader, Reachability: reachability };
      this.store.putNode(next);
    }
  }

  /**
   * `swarm init --force-new-cluster` on a surviving manager: it becomes the only manager (the others are
   * demoted, as they leave the Raft group), so it has a quorum again, with every service as it was.
   */
  forceNewCluster(nodeId: string): void {
    for (const node of this.store.nodes()) {
      if (node.ID === nodeId || node.Spec.Role !== 'manager') continue;
      const next = structuredClone(node);
      next.Spec.Role = 'worker';
      delete next.ManagerStatus;
      this.store.putNode(next);
    }
    this.#electLeader();
    this.#reconcileAll();
  }

  updateNode(ref: string, version: number, input: unknown): void {
    const node = this.resolveNode(ref);
    const spec: NodeSpec = normalizeNodeSpec(input);
    if (node.Spec.Role === 'manager' && spec.Role === 'worker') {
      const managers = this.store.nodes().filter((n) => n.Spec.Role === 'manager');
      if (managers.length === 1) throw failedPrecondition('attempting to demote the last manager of the swarm');
    }
    const next = structuredClone(node);
    next.Spec = spec;
    if (spec.Role !== node.Spec.Role) this.#setManagerStatus(next);
    this.store.putNode(next, version);
    this.#electLeader();
    if (spec.Availability === 'drain') this.#queue.add({ kind: 'node', id: node.ID });
    this.#reconcileAll();
  }

  /** Removing a node that is not down needs `force`; its tasks go with it (a slice at a time) and its engine leaves the swarm. */
  removeNode(ref: string, force: boolean): void {
    const node = this.resolveNode(ref);
    if (node.Spec.Role === 'manager' && !force) {
      throw failedPrecondition(`node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    }
    if (node.Status.State !== 'down' && !force) {
      throw failedPrecondition(`node ${node.ID} is not down and can't be removed`);
    }
    if (node.Spec.Role === 'manager' && this.store.nodes().filter((n) => n.Spec.Role === 'manager').length === 1) {
      throw failedPrecondition('can not remove the last manager of the swarm');
    }
    this.store.deleteNode(node.ID);
    this.networks.forgetNode(node.ID);
    this.faults.forget(node.ID);
    this.#queue.add({ kind: 'node', id: node.ID });
    this.#electLeader();
    this.#reconcileAll();
  }

  /** Marks a node Down (a leaving worker, a failed node) or Ready again; a Down node's tasks are replaced. */
  setNodeState(nodeId: string, state: 'ready' | 'down'): void {
    const node = this.store.node(nodeId);
    if (!node || node.Status.State === state) return;
    const next = structuredClone(node);
    next.Status.State = state;
    this.store.putNode(next);
    this.#electLeader();
    if (state === 'down') this.#queue.add({ kind: 'node', id: nodeId });
    this.#reconcileAll();
  }

  /**
   * Brings a node's tasks in line with the node, as far as the slice's budget goes (the Store indexes tasks
   * by node): a removed node's are forgotten, a down node's orphaned, a drained node's stopped. Each one's
   * service is queued, to fill its slot elsewhere.
   */
  #reconcileNode(nodeId: string, budget: SliceBudget): void {
    const node = this.store.node(nodeId);
    const down = node?.Status.State === 'down';
    const drained = node?.Spec.Availability === 'drain';
    if (node && !down && !drained) return;
    for (const task of this.store.tasksOfNode(nodeId)) {
      if (budget.left <= 0) {
        this.#queue.add({ kind: 'node', id: nodeId });
        return;
      }
      if (!node) {
        this.#tasks.forget(task);
      } else if (down) {
        if (isTerminal(task.Status.State)) continue;
        // Its service is gone: nobody will ever look at it again.
        if (task.DesiredState === 'remove') this.#tasks.forget(task);
        // Orphaned, not stopped: nobody confirmed the task ended, so it keeps its address until forgotten.
        else this.store.updateTask(task.ID, (t) => {
          if (t.DesiredState === 'running') t.DesiredState = 'shutdown';
          t.Status = { ...t.Status, State: 'orphaned', Message: 'task belongs to a node that is down', Timestamp: nowIso() };
        });
      } else {
        if (task.DesiredState !== 'running') continue;
        this.#tasks.stop(task, 'shutdown');
      }
      budget.left--;
      this.#queue.add({ kind: 'service', id: task.ServiceID });
    }
  }

  resolveNode(ref: string): SwarmNode {
    return resolveNodeIn(this.store, ref);
  }

  // ---- services -------------------------------------------------------------------------------

  resolveService(ref: string): Service {
    return resolveServiceIn(this.store, ref);
  }

  async createService(input: unknown): Promise<Service> {
    const spec = this.#withNetworks(normalizeServiceSpec(input));
    const check = (): PortConfig[] => {
      this.#checkCapacity(spec);
      // Swarm's names are unique ignoring case: `My-Web` beside `my-web` would share (and take over) its DNS name.
      if (this.store.services().some((s) => s.Spec.Name.toLowerCase() === spec.Name.toLowerCase())) throw nameConflict(spec.Name);
      this.#checkReferences(spec);
      return this.#allocator.publishedPorts(spec.EndpointSpec?.Ports ?? [], this.store.services());
    };
    await this.#probe(check(), []);
    // Checked again after the await: another create may have taken the name or a port meanwhile.
    const ports = check();
    const now = nowIso();
    const service: Service = {
      ID: newObjectId(),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: spec,
      Endpoint: { Spec: structuredClone(spec.EndpointSpec!), ...(ports.length ? { Ports: ports } : {}) },
    };
    const { vips } = this.#virtualIps(service.ID, spec, undefined);
    if (vips.length) service.Endpoint.VirtualIPs = vips;
    this.store.putService(service);
    this.reconcile(service.ID);
    return service;
  }

  /**
   * The spec with each of its networks named by ID (the daemon takes names too), refused as Docker refuses:
   * an unknown network, ingress (every task is on it already), a node-local network, the same network twice.
   */
  #withNetworks(spec: ServiceSpec): ServiceSpec {
    const wanted = spec.TaskTemplate.Networks ?? [];
    if (!wanted.length) return spec;
    const seen = new Set<string>();
    spec.TaskTemplate.Networks = wanted.map((attachment) => {
      const target = attachment.Target ?? '';
      if (target === INGRESS_NETWORK_NAME || target === this.ingressNetworkId) {
        throw invalidArgument('service cannot be explicitly attached to the ingress network "ingress"');
      }
      let network: Network;
      try {
        network = this.networks.resolve(target);
      } catch (error) {
        const local = (PREDEFINED_NETWORKS as readonly string[]).includes(target) ||
          this.store.all('network').some((n) => n.Spec.Scope === 'local' && (n.ID === target || n.Spec.Name === target));
        if (!local) throw error;
        throw new SwarmError('invalid_argument', `The network ${target} cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.`);
      }
      if (seen.has(network.ID)) throw invalidArgument(`duplicate network ${network.Spec.Name}: attach the service to each network once`);
      seen.add(network.ID);
      return { ...attachment, Target: network.ID };
    });
    return spec;
  }

  /**
   * A vip-mode service's VIPs, as Docker lists them: one on ingress (routemesh gives every service one, which
   * the host reaches it at) and one on each of its networks, from that network's block (kept from `current`
   * where the service had one). Returns also the VIPs `current` had that go.
   */
  #virtualIps(serviceId: string, spec: ServiceSpec, current: readonly VirtualIP[] | undefined): { vips: VirtualIP[]; dropped: VirtualIP[] } {
    const vips: VirtualIP[] = [];
    if (spec.EndpointSpec!.Mode === 'vip') {
      vips.push(current?.find((v) => v.NetworkID === this.ingressNetworkId) ?? { NetworkID: this.ingressNetworkId, Addr: this.#allocator.vip() });
      for (const { Target } of spec.TaskTemplate.Networks ?? []) {
        const kept = current?.find((v) => v.NetworkID === Target);
        if (kept) {
          vips.push(kept);
          continue;
        }
        try {
          const { shown, loopback } = this.#networkAddresses.address(Target, vipHolder(serviceId));
          vips.push({ NetworkID: Target, Addr: shown, LoopbackAddr: loopback });
        } catch (error) {
          if (!(error instanceof IpamError)) throw error;
          for (const vip of vips) if (!current?.includes(vip)) this.#releaseVip(serviceId, vip);
          throw invalidArgument(`network ${this.store.get('network', Target)?.Spec.Name ?? Target} has no address left for the service's VIP: remove a service from it, or give a new network a larger --subnet`);
        }
      }
    }
    return { vips, dropped: (current ?? []).filter((v) => !vips.includes(v)) };
  }

  #releaseVip(serviceId: string, vip: VirtualIP): void {
    if (vip.LoopbackAddr) this.#networkAddresses.release(vip.NetworkID, vipHolder(serviceId));
    else this.#allocator.releaseVip(vip.Addr);
  }

  /**
   * Tasks the cluster cannot hold would only wait for addresses that never come: a service's replicas stay
   * under the cap and, with what every other service asks for, within the task address pool. An update
   * that asks for no more addresses than the service had is never refused.
   */
  #checkCapacity(spec: ServiceSpec, current?: Service): void {
    const addresses = this.#allocator.taskCapacity;
    const replicas = replicasOf(spec);
    const limit = Math.min(addresses, this.maxReplicas);
    if (replicas !== undefined && replicas > limit) {
      throw invalidArgument(`replicas ${replicas} is more than this cluster can hold (${addresses} task addresses in ${this.taskSubnet}, ` +
        `and a cap of ${this.maxReplicas} replicas per service): ask for ${limit} or fewer, or start the cluster with ` +
        `${limit === addresses ? 'a larger --task-subnet' : 'a higher --max-replicas'}`);
    }
    const wanted = this.#addressesWanted(spec);
    if (current && wanted <= this.#addressesWanted(current.Spec)) return;
    const others = this.store.services().filter((s) => s.ID !== current?.ID);
    const taken = others.reduce((sum, other) => sum + this.#addressesWanted(other.Spec), 0);
    const left = Math.max(addresses - taken, 0);
    if (wanted <= left) return;
    const pool = `the task address pool has left: ${this.taskSubnet} has ${addresses} task addresses, and the other ` +
      `${others.length === 1 ? 'service asks' : `${others.length} services ask`} for ${taken} of them`;
    const fewer = !left ? '' : replicas === undefined ? `constrain it to ${left} nodes or fewer, ` : `ask for ${left} or fewer, `;
    const what = replicas === undefined ? `a global service here needs a task address on each of ${wanted} nodes, more` : `replicas ${replicas} is more`;
    throw invalidArgument(`${what} than ${pool}: ${fewer}scale another service down or remove it, or start the cluster with a larger --task-subnet`);
  }

  /** Every secret and config the spec names exists (checked again after an await: one may be removed meanwhile). */
  #checkReferences(spec: ServiceSpec): void {
    this.secrets.checkReferences(spec);
    this.configs.checkReferences(spec);
  }

  /** The task addresses a spec asks for: its replicas, or a global service's one per node it would run on now. */
  #addressesWanted(spec: ServiceSpec): number {
    const replicas = replicasOf(spec);
    if (replicas !== undefined) return replicas;
    const constraints = (spec.TaskTemplate.Placement?.Constraints ?? []).map(parseConstraint);
    return this.store.nodes().filter((node) => isEligible(node) && nodeSatisfies(node, constraints)).length;
  }

  async #probe(ports: readonly PortConfig[], current: readonly PortConfig[]): Promise<void> {
    for (const port of ports) {
      if (current.some((c) => c.PublishedPort === port.PublishedPort && c.Protocol === port.Protocol)) continue;
      try {
        await this.#portProbe(port);
      } catch (err) {
        throw invalidArgument((err as Error).message);
      }
    }
  }

  async updateService(ref: string, version: number, input: unknown, rollback = false): Promise<Service> {
    const service = this.resolveService(ref);
    if (service.Version.Index !== version) throw outOfSequence();
    let spec: ServiceSpec;
    if (rollback) {
      if (!service.PreviousSpec) throw failedPrecondition(`service ${service.ID} does not have a previous spec`);
      spec = structuredClone(service.PreviousSpec);
    } else {
      spec = this.#withNetworks(normalizeServiceSpec(input));
    }
    if (spec.Name !== service.Spec.Name) throw rpcError('unimplemented', 'Unimplemented', 'renaming services is not supported');
    if (isGlobal(spec) !== isGlobal(service.Spec)) throw invalidArgument('service mode change is not allowed');
    this.#checkCapacity(spec, service);
    const otherServices = () => this.store.services().filter((s) => s.ID !== service.ID);
    await this.#probe(this.#allocator.publishedPorts(spec.EndpointSpec?.Ports ?? [], otherServices(), service.Endpoint.Ports), service.Endpoint.Ports ?? []);

    const current = this.resolveService(service.ID);
    if (current.Version.Index !== version) throw outOfSequence();
    // Checked again after the await, as in createService.
    this.#checkCapacity(spec, current);
    this.#checkReferences(spec);
    const ports = this.#allocator.publishedPorts(spec.EndpointSpec?.Ports ?? [], otherServices(), current.Endpoint.Ports);
    const next = structuredClone(current);
    next.PreviousSpec = structuredClone(current.Spec);
    next.Spec = spec;
    next.Endpoint = { ...next.Endpoint, Spec: structuredClone(spec.EndpointSpec!) };
    if (ports.length) next.Endpoint.Ports = ports;
    else delete next.Endpoint.Ports;
    const { vips, dropped: droppedVips } = this.#virtualIps(current.ID, spec, current.Endpoint.VirtualIPs);
    if (vips.length) next.Endpoint.VirtualIPs = vips;
    else delete next.Endpoint.VirtualIPs;
    // A stale `completed` would make the docker CLI's progress display return at once (SPEC.md §7.4).
    delete next.UpdateStatus;
    if (rollback) {
      next.UpdateStatus = { State: 'rollback_started', Message: 'manually requested rollback', StartedAt: nowIso() };
    } else if (this.store.tasksOfService(current.ID).some((t) => t.DesiredState === 'running' && !sameSpec(t.Spec, spec.TaskTemplate))) {
      // Any task not of the new template means an update runs: a new template, or one that a scale or a
      // settings change interrupted (that update goes on rather than being abandoned half-way).
      const continuing = current.UpdateStatus?.State === 'updating' && sameSpec(spec.TaskTemplate, current.Spec.TaskTemplate);
      next.UpdateStatus = { State: 'updating', Message: 'update in progress', StartedAt: continuing ? current.UpdateStatus!.StartedAt! : nowIso() };
    }
    this.store.putService(next);
    for (const vip of droppedVips) this.#releaseVip(current.ID, vip);
    // A new spec deserves fresh restart attempts, no stale pending restarts, and a new update run.
    this.#restarts.forget(next.ID);
    this.#updater.forget(next.ID);
    this.reconcile(next.ID);
    return next;
  }

  removeService(ref: string): void {
    const service = this.resolveService(ref);
    this.store.deleteService(service.ID);
    for (const vip of service.Endpoint.VirtualIPs ?? []) this.#releaseVip(service.ID, vip);
    this.#restarts.forget(service.ID);
    this.#updater.forget(service.ID);
    this.faults.forget(service.ID);
    // Its tasks are stopped by the reconcile queue, a slice at a time.
    this.reconcile(service.ID);
  }

  // ---- reconciliation -------------------------------------------------------------------------

  #reconcileAll(): void {
    for (const service of this.store.services()) this.#queue.add({ kind: 'service', id: service.ID });
    this.#queue.runNow();
  }

  /** Queues the service and runs a slice now; what does not fit in it runs on the next turns. */
  reconcile(serviceId: string): void {
    this.#queue.add({ kind: 'service', id: serviceId });
    this.#queue.runNow();
  }

  /** Resolves once every queued reconcile has run (the cluster has converged as far as it can now). */
  settled(): Promise<void> {
    return this.#queue.settled();
  }

  #reconcileItem(item: Dirty, budget: SliceBudget): void {
    if (this.#closed) return;
    if (item.kind === 'service') this.#reconcileService(item.id, budget);
    else if (item.kind === 'node') this.#reconcileNode(item.id, budget);
    else for (const serviceId of this.#tasks.retryAddresses(budget)) this.#queue.add({ kind: 'service', id: serviceId });
    // Every change that frees an address (a task that ended, a scale-down, a node removed) queues a reconcile:
    // after it, tasks that wait for an address get the free ones. Nothing is retried while none is free.
    if (this.#tasks.canServeWaiting) this.#queue.add({ kind: 'addresses' });
  }

  #reconcileService(serviceId: string, budget: SliceBudget): void {
    const service = this.store.service(serviceId);
    if (!service) {
      this.#removeTasks(serviceId, budget);
      return;
    }
    const done = isGlobal(service.Spec) ? (this.#global.reconcile(service), true) : this.#replicated.reconcile(service, budget);
    const step = this.#updater.step(service, budget);
    this.#scheduleUnassigned(service, budget);
    // A failed update that rolls itself back starts the rollback now.
    if (!done || step.more || (step.service !== service && isUpdating(step.service))) this.#queue.add({ kind: 'service', id: service.ID });
  }

  /** The tasks of a removed service, stopped as far as the slice's budget goes. */
  #removeTasks(serviceId: string, budget: SliceBudget): void {
    for (const task of this.store.tasksOfService(serviceId)) {
      if (task.DesiredState === 'remove') continue;
      if (budget.left-- <= 0) {
        this.#queue.add({ kind: 'service', id: serviceId });
        return;
      }
      this.#tasks.stop(task, 'remove');
    }
  }

  /**
   * Places the service's pending tasks, as many as the slice has budget for (one at least), and queues the
   * service again while more remain: tasks can wait pending in thousands (a constraint no node met, every node
   * drained), and a node becoming eligible must not place them all in one turn. Each batch counts the tasks
   * placed before it, so the slices spread as one batch would.
   */
  #scheduleUnassigned(service: Service, budget: SliceBudget): void {
    const pending = this.store.tasksOfService(service.ID)
      .filter((t) => t.NodeID === '' && t.DesiredState === 'running' && t.Status.State === 'pending');
    if (!pending.length) return;
    const constraints = (service.Spec.TaskTemplate.Placement?.Constraints ?? []).map(parseConstraint);
    const maxPerNode = service.Spec.TaskTemplate.Placement?.MaxReplicas ?? 0;
    const nodes = this.store.nodes();
    const hostPorts = (service.Endpoint.Ports ?? []).filter((p) => p.PublishMode === 'host').map((p) => `${p.PublishedPort}/${p.Protocol}`);
    let writes = Math.max(budget.left, 1);
    const choices = this.#scheduler.place({ serviceId: service.ID, constraints, maxPerNode, hostPorts }, Math.min(pending.length, writes), nodes, this.store.tasks());
    // The scheduler only fills nodes up: once a task finds no node, none after it would find one either.
    const full = choices.includes(undefined);
    const reason = hostPorts.length ? `host-mode port already in use on ${nodes.length} nodes`
      : constraints.length ? `scheduling constraints not satisfied on ${nodes.length} nodes` : `${nodes.length} nodes not available for new tasks`;
    const unplaced = `no suitable node (${reason})`;
    for (const [i, task] of pending.entries()) {
      const nodeId = choices[i];
      // A task that still finds no node is not written again: every node would look at it for nothing.
      if (!nodeId && full && task.Status.Err === unplaced) continue;
      if (writes === 0) {
        this.#queue.add({ kind: 'service', id: service.ID });
        return;
      }
      writes--;
      budget.left--;
      this.store.updateTask(task.ID, (t) => {
        if (nodeId) {
          t.NodeID = nodeId;
          t.Status = { ...t.Status, State: 'assigned', Message: 'scheduler assigned task to node', Timestamp: nowIso() };
          delete t.Status.Err;
        } else {
          t.Status = { ...t.Status, Err: unplaced };
        }
      });
    }
  }

  // ---- task status from agents ----------------------------------------------------------------

  reportTaskStatus(taskId: string, report: TaskStatusReport): void {
    const task = this.store.task(taskId);
    if (!task || isTerminal(task.Status.State)) return;
    const updated = this.store.updateTask(taskId, (t) => {
      t.Status = { ...t.Status, State: report.State, Message: report.Message, Timestamp: nowIso(), ...(report.Err ? { Err: report.Err } : {}) };
      if (report.ExitCode !== undefined || report.PID !== undefined) {
        t.Status.ContainerStatus = {
          ContainerID: t.Hostname ?? '',
          PID: report.PID ?? t.Status.ContainerStatus?.PID ?? 0,
          ExitCode: report.ExitCode ?? 0,
        };
      }
      if (report.Endpoint) t.Endpoint = report.Endpoint;
      if (report.Health) t.Status.Health = report.Health;
    })!;
    if (isTerminal(updated.Status.State)) this.#taskEnded(updated);
    else this.#reconcileSoon(updated.ServiceID);
  }

  /** Task reports come in bursts, a few per task: one reconcile on the next turn serves them all. */
  #reconcileSoon(serviceId: string): void {
    this.#queue.add({ kind: 'service', id: serviceId });
    this.#queue.runSoon();
  }

  /**
   * After a task ends: free its address, forget it if it was removed, else apply the restart policy. A task
   * the policy does not restart keeps its desired state, and so its slot: the service shows 0/1, as Swarm's does.
   */
  #taskEnded(task: Task): void {
    this.#tasks.stopped(task);
    const service = this.store.service(task.ServiceID);
    if (!service || task.DesiredState === 'remove') {
      this.#tasks.forget(task);
      // The freed address may be what another service's task waits for.
      this.#reconcileSoon(task.ServiceID);
      return;
    }
    if (task.DesiredState === 'running' && this.#restarts.taskEnded(service, task)) {
      this.store.updateTask(task.ID, (t) => { t.DesiredState = 'shutdown'; });
    }
    trimHistory(this.#tasks, task, historyLimit(service, this.#swarmSpec));
    this.#reconcileSoon(service.ID);
  }

  // ---- the swarm object -----------------------------------------------------------------------

  get swarmSpec(): SwarmSpec {
    return structuredClone(this.#swarmSpec);
  }

  clusterInfo(): Record<string, unknown> {
    return clusterInfoOf(this.exportSwarm());
  }

  joinTokens(): { Worker: string; Manager: string } {
    return joinTokensOf(this.exportSwarm());
  }

  /** `docker swarm update`: the whole spec replaced (checked first), and the join tokens asked for rotated. */
  updateSwarm(version: number, input: unknown, rotate: { worker: boolean; manager: boolean }): void {
    const spec = normalizeSwarmSpec(input, this.#swarmSpec);
    if (version !== this.swarmVersion) throw outOfSequence();
    const periodChanged = spec.Dispatcher.HeartbeatPeriod !== this.#swarmSpec.Dispatcher.HeartbeatPeriod;
    this.#swarmSpec = spec;
    if (rotate.worker) this.tokens.rotate('worker');
    if (rotate.manager) this.tokens.rotate('manager');
    this.swarmVersion = this.store.nextIndex();
    this.swarmUpdatedAt = nowIso();
    // The sweep runs at the new pace; each node hears the new period as it next beats.
    if (periodChanged && this.#sweep) {
      this.#sweep.cancel();
      this.#sweep = this.#setTimer(() => this.#sweepHeartbeats(), this.heartbeatPeriodMs);
    }
    for (const listener of this.#swarmListeners) listener();
  }
}

/** A service's VIP holds its address on a network under this name (tasks and containers hold theirs by ID). */
function vipHolder(serviceId: string): string {
  return `vip:${serviceId}`;
}
