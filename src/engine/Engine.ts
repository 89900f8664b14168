// One simulated node's daemon: its engine API on <address>:<apiPort> and on a Unix socket, and once it is
// in a swarm its agent (runs tasks) and mesh (routes published ports). A manager engine also serves the control plane.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { ClusterView, EtcdSwarmStore, Manager, NodeRole, PortConfig, PortProbe, StoreChange, SwarmNode, SwarmReader, SwarmSource, SwarmState, Task } from '../swarm/index.js';
import { NANOS_PER_MS, RootCA, isTerminal } from '../swarm/index.js';
import { CLUSTER_PORT, ClusterRequestError, ManagerLink, NO_LEADER, asSwarmError, isManagerCertificate, newNodeKey } from '../cluster/index.js';
import type { JoinAnswer, NodeTls } from '../cluster/index.js';
import { ManagerRole, clusterAddrOf, firstToLead } from './ManagerRole.js';
import { Mesh, MeshMetrics } from '../mesh/index.js';
import type { MeshReport, TraceSubscriber } from '../mesh/index.js';
import type { Runtime, TaskOutput } from '../runtime/index.js';
import { Agent } from './Agent.js';
import { DashboardFeed } from './DashboardFeed.js';
import { PartitionCuts } from './PartitionCuts.js';
import { MeshWatch } from './MeshWatch.js';
import { TaskRoutes } from './TaskRoutes.js';
import { Volumes } from './Volumes.js';
import { NodeNetworks } from './NodeNetworks.js';
import type { HostServices } from './HostServices.js';
import { ClusterStateMetrics } from './ClusterStateMetrics.js';
import { MetricsServer } from './MetricsServer.js';
import { EngineSocket } from './EngineSocket.js';
import { EventLog } from './EventLog.js';
import { SwarmEvents } from './SwarmEvents.js';
import { DEFAULT_REQUEST_HEAD_TIMEOUT_MS, serverTimeouts } from './httpTimeouts.js';
import { localOutputFeed, remoteOutputFeed } from './TaskOutputFeed.js';
import { engineApi, engineUpgrade, ApiError, NotTheLeader, taskOutputPath } from './api/index.js';
import { NodeContainers } from './containers/index.js';
import type { ContainerNetworking } from './ContainerNetworking.js';
import type { EngineContext, LocalNodeState, TaskOutputFeed, TaskOutputOptions } from './api/index.js';

/** How long an engine API connection may stay idle between requests (the docker CLI reuses its connection). */
const API_KEEP_ALIVE_MS = 30_000;

/** Where an engine gets a new control plane for `swarm init`, and the engines fault injection reaches. */
export interface SwarmDirectory {
  /** A new control plane, or the swarm made again from its saved state. */
  newManager(restore?: SwarmState): Manager;
  /** A manager's copy of the swarm (with etcd, its watch's), read as the control plane is. */
  newCopy(store: ClusterView, swarm: () => SwarmState['swarm'] | undefined): SwarmReader;
  /** A manager that does not lead keeps its copy of the swarm there (undefined: it is a manager no more). */
  keepCopy(copy: SwarmSource | undefined): void;
  /** The engine of the node with this hostname, for fault injection. */
  findEngine(hostname: string): Engine | undefined;
  /** Resolves once every change the control plane this node runs has made so far is kept (synced to its data directory, or in etcd). */
  durable(): Promise<void>;
  /** Where the managers keep the swarm and elect its leader (etcd, `--store`); absent: each its data directory, and agreement among them. */
  readonly store?: EtcdSwarmStore | undefined;
  /** The last manager leaves: the swarm in `store` is erased (followed no more, then deleted). */
  eraseStoredSwarm(): Promise<void>;
}

export interface EngineOptions {
  hostname: string;
  address: string;
  apiPort: number;
  /** The directory of the engine API's Unix socket, `<socketDir>/<address>.sock`. */
  socketDir: string;
  runtime: Runtime;
  directory: SwarmDirectory;
  /**
   * The host's VIPs and DNS server, which this engine serves (and its mesh feeds) while it holds them:
   * tried for from the engine's start, given up when it stops.
   */
  host?: HostServices;
  /** Where /metrics is served on the node's address (Docker's 9323); absent: not served. */
  metricsPort?: number;
  /** More registries this node serves beside its own: the process's and the DNS server's, on one node only. */
  sharedMetrics?: readonly Registry[];
  /** The daemon's labels (`dockerd --label`), which `engine.labels.*` constraints match. */
  engineLabels?: Record<string, string>;
  /** Where the node's volumes are kept (absent: in a temporary directory, removed at close). */
  volumesDir?: string;
  /** The agent's fence period on a planned stop (Swarm's 2 s when absent). */
  fencePeriodMs?: number;
  /** What the node's mesh draws at random (p2c's picks, faults' jitter and losses); absent: Math.random. */
  random?: () => number;
  /** The longest a planned stop waits for every mesh to say it fenced the task (ManagerLink's 5 s when absent). */
  fenceAckTimeoutMs?: number;
  /** The cluster port a manager serves and `swarm join` names (2377; 0 picks a free one, for tests). */
  clusterPort?: number;
  /** Whether this node can open a port a service wants to publish (the managers ask each node); absent: it can. */
  probePort?: PortProbe;
  /** Told when the node joins or is back in a swarm (its identity, to keep for a restart) and when it leaves or is removed (undefined). */
  onMembership?: (identity: NodeIdentity | undefined) => void;
  /** On a host of its own: route other nodes' task addresses to them (TaskRoutes; `node start --route-tasks`). */
  routeTasks?: boolean;
  /** How long a client of the engine API or /metrics may take to send a request head (DEFAULT_REQUEST_HEAD_TIMEOUT_MS). */
  requestHeadTimeoutMs?: number;
  log?: (line: string) => void;
}

const NOT_IN_SWARM = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const WORKER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
/** How long, in heartbeat periods (at least RESUME_WAIT_MIN_MS), a restarted manager waits for every other one before a majority decides. */
const RESUME_WAIT_PERIODS = 10;
const RESUME_WAIT_MIN_MS = 5000;
const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

interface Membership {
  nodeId: string;
  /** The token it joined with: a node that restarts rejoins with its ID and this. */
  token: string;
  /** Its key and certificate, and the swarm's root: how it speaks to managers, and as one serves. */
  tls: NodeTls;
  /** The node's only way to the managers, even to the one in its own process. */
  link: ManagerLink;
  agent: Agent;
  mesh: Mesh;
  /** With `routeTasks`: the routes to other hosts' tasks. */
  routes?: TaskRoutes;
  /** Set while the node is a manager: its cluster port, and the control plane while it leads. */
  role?: ManagerRole;
  /** Which nodes an injected partition cuts off from this one's cluster port (while it is a manager). */
  cuts: PartitionCuts;
  /** Set while the node is a manager: the swarm's events, from its copy of the view. */
  swarmEvents?: SwarmEvents;
  /** Set while the node is a manager: what its dashboard shows, from its copy of the view. */
  dashboard?: DashboardFeed;
  openingRole?: Promise<void>;
  /** Its copy of the swarm is kept in its data directory (a manager that does not lead). */
  copyKept?: boolean;
}

/** What a node keeps to come back to its swarm: its ID, the managers it knew, its join token, and the swarm while it led. */
export interface NodeIdentity {
  nodeId: string;
  managers: string[];
  token: string;
  /** Its key, certificate and the swarm's root CA (absent in identities kept before mutual TLS: it joins anew). */
  tls?: NodeTls;
  swarm?: SwarmState;
}

export class Engine implements EngineContext {
  /** Its bridge networks and its containers' places on networks, granted by the leader (ContainerNetworking). */
  readonly networks: NodeNetworks;
  readonly hostname: string;
  readonly address: string;
  readonly engineLabels: Readonly<Record<string, string>>;
  /** Its containers: node-local, as dockerd's, outside every swarm; they stop when the node does. */
  readonly containers: NodeContainers;
  #apiPort: number;
  #runtime: Runtime;
  #directory: SwarmDirectory;
  #host: HostServices | undefined;
  #log: (line: string) => void;
  #fencePeriodMs: number | undefined;
  readonly #random: (() => number) | undefined;
  readonly volumes: Volumes;
  #fenceAckTimeoutMs: number | undefined;
  #onMembership: ((identity: NodeIdentity | undefined) => void) | undefined;
  #probePort: PortProbe;
  readonly #routeTasks: boolean;
  #clusterPort: number;
  /** A `swarm init`, `join` or a restart's return under way: another is refused, as the daemon refuses it. */
  #changing = false;
  /** A restarted node on its way back into its swarm (its managers may not be back yet). */
  #resuming = false;
  /** The last `swarm leave`, until the node has left (its agent, mesh and cluster port closed). */
  #leaving: Promise<void> | undefined;
  /** A restarted manager's cluster port while it is on its way back, so the other managers count it. */
  #pendingRole: ManagerRole | undefined;
  /** The swarm a restarted node that led has on disk, whose freshness its pings tell meanwhile. */
  #resumingFrom: SwarmState | undefined;
  /** When a restarted manager first tried to lead again. */
  #resumeSince: number | undefined;
  #server: http.Server;
  readonly #socket: EngineSocket;
  /** What the other managers forward to this one while it leads (over its cluster port). */
  readonly #forwardedApi: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** This node's own metrics; they outlive its memberships, as a daemon's counters outlive a rejoin. */
  readonly #metricsRegistry = new Registry();
  /** This node's events (`docker events`); like its metrics, they outlive its memberships. */
  readonly events = new EventLog();
  /** Counted only when served: with metrics off, the data plane pays nothing for them. */
  #meshMetrics: MeshMetrics | undefined;
  #metricsServer: MetricsServer | undefined;
  #membership: Membership | undefined;
  /** Set while the node is powered off by `fail()`: what `recover()` rejoins, or the control plane it serves again. */
  #failed: NodeIdentity | undefined;

  constructor(options: EngineOptions) {
    this.hostname = options.hostname;
    this.address = options.address;
    this.engineLabels = { ...options.engineLabels };
    this.#apiPort = options.apiPort;
    this.#runtime = options.runtime;
    this.#directory = options.directory;
    this.#host = options.host;
    this.#log = options.log ?? (() => {});
    this.networks = new NodeNetworks(() => this.#membership?.link, this.events);
    this.#fencePeriodMs = options.fencePeriodMs;
    this.#random = options.random;
    this.volumes = new Volumes({ ...(options.volumesDir ? { dir: options.volumesDir } : {}), events: this.events });
    this.#fenceAckTimeoutMs = options.fenceAckTimeoutMs;
    this.#onMembership = options.onMembership;
    this.#probePort = options.probePort ?? (async () => {});
    this.#clusterPort = options.clusterPort ?? CLUSTER_PORT;
    this.#routeTasks = options.routeTasks ?? false;
    const requestHeadMs = options.requestHeadTimeoutMs ?? DEFAULT_REQUEST_HEAD_TIMEOUT_MS;
    const timeouts = serverTimeouts(requestHeadMs, API_KEEP_ALIVE_MS);
    this.containers = new NodeContainers({
      runtime: options.runtime, hostname: this.hostname, address: this.address,
      tasks: () => {
        const m = this.#membership;
        return { tasks: m ? m.link.view.tasksOfNode(m.nodeId) : [], service: (id) => m?.link.view.service(id) };
      },
      networking: this.networks,
      events: this.events,
      volumes: () => this.#volumeUsage(),
    });
    this.#server = http.createServer(timeouts, engineApi(this, 'tcp'));
    this.#server.on('upgrade', engineUpgrade(this, 'tcp'));
    this.#forwardedApi = engineApi(this, 'tcp');
    this.#socket = new EngineSocket(engineApi(this, 'unix'), options.socketDir, this.address, timeouts, engineUpgrade(this, 'unix'));
    if (options.metricsPort !== undefined) {
      this.#meshMetrics = new MeshMetrics(this.#metricsRegistry, this.hostname);
      new ClusterStateMetrics(this.#metricsRegistry, () => this.#membership?.role?.manager?.store);
      const registries = [this.#metricsRegistry, ...(options.sharedMetrics ?? [])];
      this.#metricsServer = new MetricsServer(this.address, options.metricsPort, () => registries, requestHeadMs);
    }
  }

  /** Where this node serves its metrics, once listening; undefined when it does not. */
  get metricsUrl(): string | undefined {
    return this.#metricsServer?.listening ? this.#metricsServer.url : undefined;
  }

  get apiUrl(): string {
    return `http://${this.address}:${this.#apiPort}`;
  }

  /** The engine API's Unix socket, `unix:///...`. */
  get socketUrl(): string {
    return this.#socket.url;
  }

  get clusterAddr(): string {
    return `${this.address}:${this.#clusterPort}`;
  }

  get mesh(): Mesh | undefined {
    return this.#membership?.mesh;
  }

  async listen(): Promise<void> {
    this.containers.reopen();
    // First, before anything waits: of the engines of one process starting together, the first holds the host's services.
    await this.#host?.start();
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.address, port: this.#apiPort }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#apiPort = (this.#server.address() as AddressInfo).port;
    await this.#socket.listen();
    // Metrics are for watching, not for serving: a port another program holds is said, and the node runs on.
    await this.#metricsServer?.listen().catch((error: Error) => {
      this.#log(`${this.hostname}: cannot serve metrics on ${this.#metricsServer!.url} (${error.message}); the node runs without them`);
    });
  }

  // ---- EngineContext --------------------------------------------------------------------------

  swarmState(): LocalNodeState {
    if (!this.#membership) return this.#resuming ? 'pending' : 'inactive';
    return this.#role() === 'manager' ? 'active/manager' : 'active/worker';
  }

  #role(): NodeRole | undefined {
    const m = this.#membership;
    return m ? m.link.view.node(m.nodeId)?.Spec.Role : undefined;
  }

  nodeId(): string | undefined {
    return this.#membership?.nodeId;
  }

  requireManager(): Manager {
    const m = this.#membership;
    if (!m) throw new ApiError(503, NOT_IN_SWARM);
    if (this.#role() !== 'manager') throw new ApiError(503, WORKER);
    // A manager that does not lead asks the leader; one whose control plane lost its quorum can neither
    // read nor change the cluster. The data plane keeps serving.
    const manager = m.role?.manager;
    if (!manager) {
      const leader = this.#leaderOf(m);
      if (leader) throw new NotTheLeader(leader, this.address, m.tls);
      throw new ApiError(500, NO_LEADER);
    }
    if (!manager.hasQuorum()) throw new ApiError(500, NO_LEADER);
    return manager;
  }

  async reader(): Promise<SwarmReader> {
    // A manager that follows a swarm kept in etcd reads its own copy, once caught up, rather than ask the leader.
    const role = this.#membership?.role;
    if (role && !role.manager && this.#role() === 'manager') {
      const copy = await role.copy();
      if (copy) return copy;
    }
    return this.requireManager();
  }

  /** The leader's cluster address as this node's view has it, unless it is this node. */
  #leaderOf(m: Membership): string | undefined {
    const leader = m.link.view.nodes().find((n) => n.ManagerStatus?.Leader && n.Status.State === 'ready' && n.ID !== m.nodeId);
    // etcd's word first; until its campaign has heard it (a manager just joined), the leader whose session it
    // follows (one that stepped down since answers that the swarm has no leader, never forwards again).
    if (m.role?.elected) return m.role.leaderAddress() ?? (leader && clusterAddrOf(leader));
    return leader && clusterAddrOf(leader);
  }

  nodeView(): { view: ClusterView; nodeId: string } | undefined {
    const m = this.#membership;
    return m && { view: m.link.view, nodeId: m.nodeId };
  }

  managerView(): { nodes: readonly SwarmNode[]; cluster: Record<string, unknown> | undefined } {
    const m = this.#membership;
    if (m && !m.role?.manager && this.#role() === 'manager') return { nodes: m.link.view.nodes(), cluster: m.link.swarm };
    const manager = this.requireManager();
    return { nodes: manager.store.nodes(), cluster: manager.clusterInfo() };
  }

  meshReport(): MeshReport | undefined {
    return this.mesh?.report();
  }

  meshTrace(subscriber: TraceSubscriber): (() => void) | undefined {
    return this.mesh?.trace(subscriber);
  }

  dashboard(): DashboardFeed | undefined {
    return this.#membership?.dashboard;
  }

  remoteManagers(): { NodeID: string; Addr: string }[] {
    const m = this.#membership;
    if (!m) return [];
    return m.link.view.nodes()
      .filter((n) => n.ManagerStatus)
      .map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
  }

  async init(forceNewCluster = false): Promise<string> {
    const m = this.#membership;
    if (m && forceNewCluster && this.#role() === 'manager') {
      await this.#forceNewCluster(m);
      return m.nodeId;
    }
    if (m || this.#resuming || this.#changing) throw new ApiError(503, ALREADY_IN_SWARM);
    this.#changing = true;
    try {
      // A swarm just left may still be closing its cluster port.
      await this.#leaving;
      // The port first: a control plane is made only once it can be served.
      const role = await this.#openRole();
      if (this.#directory.store) return await this.#initInStore(role, this.#directory.store);
      const manager = this.#directory.newManager();
      role.lead(manager);
      const node = manager.addNode({ hostname: this.hostname, addr: this.address, role: 'manager', engineLabels: { ...this.engineLabels } });
      manager.runsOn(node.ID);
      await this.#run(node.ID, [this.clusterAddr], manager.heartbeatPeriodMs, manager.tokens.token('manager'), ownTls(manager, node.ID), role);
      return node.ID;
    } finally {
      this.#changing = false;
    }
  }

  /**
   * `swarm init` with the swarm kept in etcd: refused when etcd holds one already; else this manager
   * campaigns, and once elected makes the new swarm (and, elected again later, leads what etcd holds).
   */
  async #initInStore(role: ManagerRole, store: EtcdSwarmStore): Promise<string> {
    const refuse = async (error: ApiError): Promise<never> => {
      await role.close();
      throw error;
    };
    const kept = await store.load().catch((error: Error) => refuse(new ApiError(500, `cannot read the swarm in ${store.where}: ${error.message}`)));
    if (kept) {
      return refuse(new ApiError(400, `${store.where} holds a swarm already (ID ${kept.swarm.id}, ${kept.nodes.length} nodes): ` +
        'join it (docker swarm join --token ... <a manager>:2377), or keep this one elsewhere (--store etcd://<host:port>/<another prefix>/), ' +
        `or delete that one (etcdctl del --prefix ${store.prefix})`));
    }
    let nodeId: string | undefined;
    role.campaign(async () => {
      if (nodeId) return this.#leadFromStore(store, nodeId);
      const manager = this.#directory.newManager();
      nodeId = manager.addNode({ hostname: this.hostname, addr: this.address, role: 'manager', engineLabels: { ...this.engineLabels } }).ID;
      manager.runsOn(nodeId);
      return manager;
    });
    const standing = await role.standing(store.leaseTtlMs * 3);
    if (standing !== 'leading') {
      return refuse(new ApiError(500, standing === 'following'
        ? `another manager (${role.leaderAddress()}) leads a swarm in ${store.where}: join it instead`
        : `${store.where} did not elect this manager within ${store.leaseTtlMs * 3 / 1000} s: is etcd up and does it have a quorum?`));
    }
    // The new swarm in etcd before this node asks for its session: every manager serves it from what etcd holds.
    await this.#directory.durable().catch((error: Error) => refuse(new ApiError(500, error.message)));
    const manager = role.manager!;
    await this.#run(nodeId!, [this.clusterAddr], manager.heartbeatPeriodMs, manager.tokens.token('manager'), ownTls(manager, nodeId!), role);
    return nodeId!;
  }

  /** Elected by etcd: the swarm made again from what etcd holds, led by this node. */
  async #leadFromStore(store: EtcdSwarmStore, nodeId: string): Promise<Manager> {
    const kept = await store.load();
    if (!kept) throw new Error(`${store.where} holds no swarm (deleted?): nothing to lead; start a swarm again with docker swarm init`);
    // Demoted while it was away (its data directory still names it a manager): a worker never leads.
    if (kept.nodes.find((n) => n.ID === nodeId)?.Spec.Role !== 'manager') throw new Error('this node is a worker of the swarm in etcd now');
    // Deposed while it read: a manager made now would only have its writes refused.
    if (!store.view.leading) throw new Error('another manager was elected while it read the swarm');
    const manager = this.#directory.newManager(kept);
    manager.runsOn(nodeId);
    return manager;
  }

  /**
   * `swarm init --force-new-cluster` on a manager: it becomes the only manager of the same swarm, made
   * from its copy when it did not lead (the leader is gone, or there is no quorum).
   */
  async #forceNewCluster(m: Membership): Promise<void> {
    const role = m.role!;
    const store = this.#directory.store;
    if (store && !role.manager) {
      // The managers that led are gone: this one is elected once their leases end.
      const standing = await role.standing(store.leaseTtlMs * 3);
      if (standing !== 'leading') {
        throw new ApiError(500, standing === 'following'
          ? `the manager at ${role.leaderAddress()} leads this swarm (elected in ${store.where}): run --force-new-cluster there, or stop it first`
          : `${store.where} did not elect this manager within ${store.leaseTtlMs * 3 / 1000} s: is etcd up and does it have a quorum?`);
      }
    }
    if (!role.manager) {
      const copy = m.link.swarmCopy();
      if (!copy) throw new ApiError(500, 'this manager has no copy of the swarm yet: try again in a moment');
      const manager = this.#directory.newManager(copy);
      manager.runsOn(m.nodeId);
      role.lead(manager);
    }
    role.manager!.forceNewCluster(m.nodeId);
  }

  /** Opens this node's cluster port, as every manager's is: the protocol served only once it leads. */
  async #openRole(): Promise<ManagerRole> {
    const leader = (): string | undefined => (this.#membership ? this.#leaderOf(this.#membership) : undefined);
    const role = new ManagerRole({
      hostname: this.hostname, address: this.address, clusterPort: this.#clusterPort, engineApi: this.#forwardedApi,
      newManager: (restore) => this.#directory.newManager(restore), newCopy: (store, swarm) => this.#directory.newCopy(store, swarm),
      durable: () => this.#directory.durable(), log: this.#log,
      ...(this.#directory.store ? { store: this.#directory.store } : {}),
    }, { leader, copyIndex: () => this.#membership?.link.view.index ?? this.#resumingFrom?.index ?? 0 });
    await role.listen();
    return role;
  }

  async join(request: { remoteAddr: string; token: string }): Promise<void> {
    if (this.#membership || this.#changing || this.#resuming) throw new ApiError(503, ALREADY_IN_SWARM);
    const addr = request.remoteAddr.includes(':') ? request.remoteAddr : `${request.remoteAddr}:${CLUSTER_PORT}`;
    this.#changing = true;
    try {
      await this.#leaving;
      const { answer, tls } = await ManagerLink.join(addr, {
        token: request.token, hostname: this.hostname, addr: this.address, engineLabels: { ...this.engineLabels },
      }).catch((error: ClusterRequestError) => {
        if (error.code === 'unreachable') {
          throw new ApiError(500, `could not reach a manager at ${addr} (${error.message}): give the address of a manager node, like 127.1.0.1:${CLUSTER_PORT}`);
        }
        throw asSwarmError(error);
      });
      await this.#run(answer.nodeId, [addr, ...answer.managers.filter((a) => a !== addr)], answer.heartbeatPeriodMs, request.token, tls);
    } finally {
      this.#changing = false;
    }
  }

  async leave(force: boolean): Promise<void> {
    const m = this.#membership;
    if (!m && this.#resuming) {
      await this.#forgetSwarm();
      return;
    }
    if (!m) throw new ApiError(503, 'This node is not part of a swarm');
    if (this.#role() === 'manager' && !force) {
      const managers = m.link.view.nodes().filter((n) => n.Spec.Role === 'manager' && n.Status.State === 'ready');
      throw new ApiError(503, managers.length <= 1
        ? 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.'
        : 'You are attempting to leave the swarm on a node that is participating as a manager. Removing this node leaves ' +
          `${managers.length - 1} managers out of ${managers.length}. Without a Raft quorum your swarm will be inaccessible. ` +
          'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.');
    }
    const store = this.#directory.store;
    // The leader's own store: its link's view may not have the latest change (a demotion just made) yet.
    const leading = m.role?.manager;
    if (store && leading && leading.store.nodes().filter((n) => n.Spec.Role === 'manager').length <= 1) {
      // "Removing the last manager erases all current state of the swarm": in etcd too.
      await this.#directory.eraseStoredSwarm().catch((error: Error) => this.#log(`${this.hostname}: the swarm could not be removed from ${store.where} (${error.message}); delete its keys there before a new swarm init`));
    }
    this.#membership = undefined;
    this.#onMembership?.(undefined);
    // A leader hands over: its last changes (itself Down, another Leader) reach the others as its cluster port closes.
    const leaving = m.link.leave().finally(() => this.#detach(m, true)).catch(this.#logFailure);
    this.#leaving = leaving;
    if (m.role?.manager) await leaving;
  }

  /** On its way back, it stops trying and forgets the swarm it was in: it left, or was removed while away. */
  async #forgetSwarm(): Promise<void> {
    this.#resuming = false;
    this.#resumingFrom = undefined;
    this.#resumeSince = undefined;
    await this.#pendingRole?.close();
    this.#pendingRole = undefined;
    this.#onMembership?.(undefined);
  }

  // ---- fault injection ------------------------------------------------------------------------

  /**
   * The node stops as if powered off: its tasks die at once, its listeners, engine API and cluster port
   * close, and its heartbeats stop, so the managers mark it Down after the heartbeat timeout and replace
   * its tasks. A refusal is thrown at once; the power-off waits for `answered` (see injectFault).
   */
  fail(answered: Promise<void> = Promise.resolve()): Promise<void> {
    const m = this.#membership;
    if (!m) throw new ApiError(400, `${this.hostname} is not running in a swarm: nothing to fail`);
    return answered.then(async () => {
      if (this.#membership !== m) return; // left, or failed, meanwhile
      this.#membership = undefined;
      // A leader powered off keeps its swarm, as its data directory would.
      this.#failed = { ...this.#identityOf(m), ...(m.role?.manager ? { swarm: structuredClone(m.role.manager.exportState()) } : {}) };
      await this.#shutDown(m);
    });
  }

  /** Powered on again: the engine API opens, and the node is back in its swarm as a restarted daemon is. */
  async recover(): Promise<void> {
    const failed = this.#failed;
    if (!failed) throw new ApiError(400, `${this.hostname} has not failed: nothing to recover`);
    this.#failed = undefined;
    await this.listen();
    await this.resume(failed);
  }

  /** What a node keeps to come back to its swarm after a restart (the swarm itself is its backend's to keep). */
  #identityOf(m: Membership): NodeIdentity {
    return { nodeId: m.nodeId, managers: [...m.link.managers], token: m.token, tls: m.tls };
  }

  /**
   * Back in the swarm after a restart: a node that led makes its swarm again, unless another manager leads
   * now; any other rejoins with its ID, through the managers it knew. Its tasks died with it: its agent
   * reports them failed, and the orchestrators replace them, as Swarm's do after a daemon restart.
   */
  async resume(identity: NodeIdentity): Promise<void> {
    if (this.#membership || this.#changing) throw new ApiError(503, ALREADY_IN_SWARM);
    // Until it is back (or it is closed), a `swarm join` would make a second node of it: refused as pending.
    this.#resuming = true;
    this.#changing = true;
    this.#resumingFrom = identity.swarm;
    try {
      const known = [...new Set([...identity.managers, ...(identity.swarm?.nodes.filter((n) => n.Spec.Role === 'manager').map(clusterAddrOf) ?? [])])];
      const others = known.filter((addr) => addr !== this.clusterAddr);
      // A manager answers pings while it waits (after a power loss every manager waits for a majority).
      // Its own certificate, kept in its identity; a manager's made anew from the swarm's CA it keeps when that one is
      // not a manager's good for a while (kept by an older routemesh, a worker's from before a promotion, expired).
      const tls = identity.swarm && !(identity.tls && isManagerCertificate(identity.tls.cert)) ? issuedBy(identity.swarm.swarm, identity.nodeId) : identity.tls;
      if (known.includes(this.clusterAddr)) {
        this.#pendingRole ??= await this.#openRole();
        if (tls) this.#pendingRole.setTls(tls);
      }
      const store = this.#directory.store;
      if (store && this.#pendingRole) {
        // etcd decides whether it leads again: elected, it leads what etcd holds; else it rejoins the leader.
        const role = this.#pendingRole;
        if (!role.campaigning) role.campaign(() => this.#leadFromStore(store, identity.nodeId));
        if (await role.standing(store.leaseTtlMs * 3) === 'leading') {
          this.#pendingRole = undefined;
          await this.#run(identity.nodeId, [this.clusterAddr, ...others], role.manager!.heartbeatPeriodMs, identity.token, tls ?? ownTls(role.manager!, identity.nodeId), role);
          return;
        }
        const leader = role.leaderAddress();
        if (leader && !others.includes(leader)) others.unshift(leader);
      }
      if (identity.swarm && await this.#mayLeadAgain(identity.swarm, others, tls!)) {
        const role = this.#pendingRole ?? await this.#openRole();
        this.#pendingRole = undefined;
        const manager = this.#directory.newManager(identity.swarm);
        manager.runsOn(identity.nodeId);
        role.lead(manager);
        await this.#run(identity.nodeId, [this.clusterAddr, ...others], manager.heartbeatPeriodMs, identity.token, tls ?? ownTls(manager, identity.nodeId), role);
        return;
      }
      const back = await this.#rejoin(identity, others.length ? others : known).catch(async (error: Error) => {
        if (error instanceof ClusterRequestError && error.code === 'not_found') await this.#forgetSwarm();
        throw error;
      });
      const role = this.#pendingRole;
      this.#pendingRole = undefined;
      await this.#run(back.answer.nodeId, [...new Set([...back.answer.managers, ...known])], back.answer.heartbeatPeriodMs, identity.token, back.tls, role);
    } finally {
      this.#changing = false;
    }
  }

  /**
   * A node that led, restarted with its swarm, leads it again only as a manager taking over would: no other
   * manager leads, more than half of them (itself counted) answer, and no answering one has a fresher copy
   * (an equal one: the first by hostname). Else it rejoins whoever leads, or waits (thrown: tried again).
   */
  async #mayLeadAgain(swarm: SwarmState, others: readonly string[], tls: NodeTls): Promise<boolean> {
    const pongs = await Promise.all(others.map(async (addr) => ({ addr, pong: await ManagerLink.ping(addr, this.address, tls) })));
    if (pongs.some(({ pong }) => pong?.leader)) return false;
    const managers = swarm.nodes.filter((n) => n.Spec.Role === 'manager');
    const answering = pongs.filter(({ pong }) => pong);
    if ((answering.length + 1) * 2 <= Math.max(managers.length, 1)) {
      throw new ApiError(500, `only ${answering.length + 1} of its swarm's ${managers.length} managers answer and none leads: waiting for more of them`);
    }
    // After a power loss every manager comes back at its own pace: the freshest copy may be the last to
    // answer, so all are waited for a while before a mere majority decides.
    this.#resumeSince ??= Date.now();
    const waitAll = Math.max(swarm.swarm.spec.Dispatcher.HeartbeatPeriod / NANOS_PER_MS * RESUME_WAIT_PERIODS, RESUME_WAIT_MIN_MS);
    if (answering.length < others.length && Date.now() - this.#resumeSince < waitAll) {
      throw new ApiError(500, `${others.length - answering.length} of its swarm's managers do not answer yet: waiting up to ${Math.round(waitAll / 1000)} s for every copy of the swarm before the freshest of those that answer leads`);
    }
    const me = managers.find((n) => n.Status.Addr === this.address);
    const candidates = answering.flatMap(({ addr, pong }) => {
      const node = managers.find((n) => clusterAddrOf(n) === addr);
      return node ? [{ node, index: pong!.index }] : [];
    });
    if (!me || firstToLead([{ node: me, index: swarm.index }, ...candidates]) === me) return true;
    throw new ApiError(500, 'another manager has a fresher copy of the swarm: waiting for it to lead');
  }

  /** Back through the first manager that answers, as itself when it kept its certificate (else as a new node). */
  async #rejoin(identity: NodeIdentity, managers: readonly string[]): Promise<{ answer: JoinAnswer; tls: NodeTls }> {
    let last: Error | undefined;
    for (const addr of managers) {
      try {
        const request = { token: identity.token, hostname: this.hostname, addr: this.address, engineLabels: { ...this.engineLabels } };
        return await ManagerLink.join(addr, identity.tls ? { ...request, nodeId: identity.nodeId } : request, identity.tls);
      } catch (error) {
        // Removed from the swarm while away: every manager would say so.
        if (error instanceof ClusterRequestError && error.code === 'not_found') throw error;
        last = error as Error;
      }
    }
    throw new ApiError(500, `${this.hostname} could not rejoin its swarm through ${managers.join(', ')}: ${last?.message}`);
  }

  injectFault(hostname: string, action: 'fail' | 'recover', answered: Promise<void>): Promise<void> {
    const engine = this.#directory.findEngine(hostname);
    if (!engine && (hostname === this.hostname || this.#membership?.link.view.nodes().some((n) => n.Description.Hostname === hostname))) {
      // Its own process (routemesh up without --in-process, or node start): a real failure is that process's end.
      throw new ApiError(400, action === 'fail'
        ? `${hostname} runs in its own process, which fault injection cannot reach: kill that process to fail it (kill -9 ${hostname === this.hostname ? process.pid : `<pid>; ps names it "routemesh ${hostname}"`}), or use routemesh up --in-process`
        : `${hostname} runs in its own process, which fault injection cannot reach: start it again with routemesh node start (up prints the command when it dies), or use routemesh up --in-process`);
    }
    if (!engine) throw new ApiError(404, `node ${hostname} not found: give the hostname of a node of this cluster, like node2`);
    if (action === 'recover') return engine.recover();
    // Powered off, this engine would cut the connection it answers on: it answers first.
    return engine === this ? engine.fail(answered) : engine.fail();
  }

  localTaskOutput(taskId: string): TaskOutput | undefined {
    return this.#runtime.outputOf(taskId);
  }

  /** From this node's runtime (in one process, every node's), or from the engine API of the task's node: every node serves it on the same port. */
  async taskOutput(task: Task, options: TaskOutputOptions): Promise<TaskOutputFeed | undefined> {
    const local = this.#runtime.outputOf(task.ID);
    if (local) return localOutputFeed(local, options);
    const node = this.#membership?.link.view.node(task.NodeID);
    // The nodes of this process share its runtime: what it does not have, they do not either.
    if (!node || node.Status.Addr === this.address || this.#directory.findEngine(node.Description.Hostname)) return undefined;
    const name = node.Description.Hostname;
    if (node.Status.State === 'down' || node.Status.State === 'disconnected') {
      throw new Error(`node ${name} is not available (${node.Status.State}): start its process again (routemesh node start) to read the logs of its tasks`);
    }
    return remoteOutputFeed(`http://${node.Status.Addr}:${this.#apiPort}`, taskOutputPath(task.ID, options), this.address, name, options);
  }

  probePort(port: PortConfig): Promise<void> {
    return this.#probePort(port);
  }

  /** `docker system df`'s volumes: each with its size on disk and how many of this node's tasks use it. */
  async #volumeUsage(): Promise<Record<string, unknown>[]> {
    const volumes = await this.volumes.list();
    return Promise.all(volumes.map(async (volume) => ({
      ...volume, UsageData: { Size: await this.volumes.size(volume), RefCount: this.volumeUsers(volume.Name).length },
    })));
  }

  volumeUsers(name: string): string[] {
    const m = this.#membership;
    if (!m) return [];
    return m.link.view.tasksOfNode(m.nodeId)
      .filter((t) => !isTerminal(t.Status.State) && (t.Spec.ContainerSpec.Mounts ?? []).some((mount) => mount.Type?.toLowerCase() === 'volume' && mount.Source === name))
      .map((t) => t.Status.ContainerStatus?.ContainerID || t.Hostname || t.ID);
  }

  hasImage(image: string): boolean {
    return this.#runtime.hasImage(image);
  }

  durable(): Promise<void> {
    return this.#directory.durable();
  }

  // ---- membership -----------------------------------------------------------------------------

  /** Starts this node's link to the managers, then its agent and mesh on the view the link keeps. */
  async #run(nodeId: string, managers: string[], heartbeatPeriodMs: number, token: string, tls: NodeTls, role?: ManagerRole): Promise<void> {
    role?.setTls(tls);
    const link = new ManagerLink({
      nodeId, address: this.address, managers, heartbeatPeriodMs, tls, log: this.#log,
      ...(this.#fenceAckTimeoutMs !== undefined ? { fenceAckTimeoutMs: this.#fenceAckTimeoutMs } : {}),
    });
    try {
      await link.start();
    } catch (error) {
      link.close();
      await role?.close();
      throw error;
    }
    const view = link.view;
    const mesh = new Mesh({
      node: this.hostname, address: this.address, view, log: this.#log,
      ...(this.#host ? { dns: this.#host, vips: this.#host } : {}),
      ...(this.#meshMetrics ? { metrics: this.#meshMetrics } : {}),
      ...(this.#random ? { random: this.#random } : {}),
    });
    const agent = new Agent({
      nodeId,
      link: { view, reportTaskStatus: (id, report) => link.reportTaskStatus(id, report), fenced: () => link.fenced() },
      runtime: this.#runtime,
      events: this.events,
      volumes: this.volumes,
      log: this.#log,
      // A task's address on a network admits what the node's mesh says that network's VIP admits.
      admits: (network, source) => mesh.membership.admits(network, source),
      ...(this.#fencePeriodMs !== undefined ? { fencePeriodMs: this.#fencePeriodMs } : {}),
    });
    const routes = this.#routeTasks ? new TaskRoutes({ view, nodeId, address: this.address, log: this.#log }) : undefined;
    const cuts = new PartitionCuts(view, nodeId, (addresses) => membership.role?.cutOff(addresses));
    const membership: Membership = { nodeId, token, tls, link, agent, mesh, cuts, ...(role ? { role } : {}), ...(routes ? { routes } : {}) };
    this.#resuming = false;
    this.#resumingFrom = undefined;
    this.#resumeSince = undefined;
    // `node rm --force` removes this node from the swarm: it leaves, as a real engine is told to.
    link.on('removed', () => {
      if (this.#membership !== membership) return;
      this.#membership = undefined;
      this.#onMembership?.(undefined);
      this.#detach(membership, true).catch(this.#logFailure);
    });
    link.on('leaderless', () => { membership.role?.takeOverIfLeaderless(link).catch(this.#logFailure); });
    link.on('applied', (epoch: string, seq: number) => membership.role?.relayApplied(epoch, seq));
    link.on('swarm', () => {
      this.#serveAsManager(membership);
      this.#keepCopy(membership);
    });
    // Renewed before it expires: its cluster port serves with it too, and a restart starts from it.
    link.on('certificate', (tls: NodeTls) => {
      if (this.#membership !== membership) return;
      membership.tls = tls;
      this.#serveAsManager(membership);
      this.#onMembership?.(this.#identityOf(membership));
    });
    link.on('managers', () => { if (this.#membership === membership) this.#onMembership?.(this.#identityOf(membership)); });
    view.on('change', (change: StoreChange) => { if (change.kind === 'node' && change.id === nodeId) this.#followRole(membership).catch(this.#logFailure); });
    this.#membership = membership;
    cuts.refresh(true);
    routes?.start();
    mesh.start();
    agent.start();
    this.#onMembership?.(this.#identityOf(membership));
    await this.#followRole(membership);
    // The swarm object may have come with the first view, before the listener above.
    this.#keepCopy(membership);
  }

  /** What goes wrong in a handler nobody awaits is said, never a crash of the node. */
  readonly #logFailure = (error: Error): void => this.#log(`${this.hostname}: ${error.stack ?? error.message}`);

  /**
   * A manager node listens on the cluster port (a promotion opens it); a demoted one that does not lead
   * closes it. A manager's events include the swarm's, from the promotion on.
   */
  async #followRole(m: Membership): Promise<void> {
    const manager = m.link.view.node(m.nodeId)?.Spec.Role === 'manager';
    if (manager && !m.swarmEvents && this.#membership === m) {
      m.swarmEvents = new SwarmEvents(m.link.view, this.events);
      const meshWatch = new MeshWatch({ view: m.link.view, apiPort: this.#apiPort, localAddress: this.address });
      m.dashboard = new DashboardFeed(m.link.view, this.#log, meshWatch);
    } else if (!manager && m.swarmEvents) {
      m.swarmEvents.close();
      delete m.swarmEvents;
      m.dashboard?.close();
      delete m.dashboard;
    }
    if (manager && !m.role && !m.openingRole) {
      m.openingRole = this.#openRole().then(
        async (role) => {
          if (this.#membership !== m) return role.close();
          m.role = role;
          m.cuts.refresh(true);
          this.#serveAsManager(m);
          const store = this.#directory.store;
          if (store) role.campaign(() => this.#leadFromStore(store, m.nodeId));
          this.#keepCopy(m);
        },
        (error: Error) => this.#log(`${this.hostname}: ${error.message}`),
      ).finally(() => { m.openingRole = undefined; });
      await m.openingRole;
    } else if (!manager && m.role && (!m.role.manager || m.role.elected)) {
      // Elected by etcd, a demoted leader hands over at once (a worker holding etcd's lead would leave the
      // managers forwarding to it forever), once its demotion is in etcd for whoever is elected next.
      const role = m.role;
      delete m.role;
      m.copyKept = false;
      this.#directory.keepCopy(undefined);
      if (role.manager) await this.#directory.durable().catch(() => undefined);
      await role.close();
    }
  }

  /**
   * A manager's cluster port shows a manager's certificate, which nodes check. A promoted node holds a
   * worker's: it makes itself one from the swarm's CA once the swarm object (sent to managers) is in.
   */
  #serveAsManager(m: Membership): void {
    const role = m.role;
    if (this.#membership !== m || !role) return;
    const swarm = m.link.swarmState;
    if (!isManagerCertificate(m.tls.cert) && swarm) {
      m.tls = issuedBy(swarm, m.nodeId);
      this.#onMembership?.(this.#identityOf(m));
    }
    role.setTls(m.tls);
  }

  /** A manager that does not lead keeps its copy of the swarm, so that after a power loss the freshest copy leads. */
  #keepCopy(m: Membership): void {
    if (this.#membership !== m || !m.role || m.role.manager || m.copyKept) return;
    const copy = m.link.copySource();
    if (!copy) return;
    m.copyKept = true;
    this.#directory.keepCopy(copy);
  }

  /** `leaving`: the node leaves its swarm (or is removed from it), not merely stops. */
  async #detach(m: Membership, leaving = false): Promise<void> {
    m.swarmEvents?.close();
    m.dashboard?.close();
    m.cuts.close();
    m.link.close();
    await m.openingRole;
    await Promise.all([m.agent.stop(leaving), m.mesh.close(), m.role?.close(), m.routes?.close()]);
  }

  async close(): Promise<void> {
    const m = this.#membership;
    this.#membership = undefined;
    this.#resuming = false;
    this.#resumingFrom = undefined;
    this.#resumeSince = undefined;
    await this.#pendingRole?.close();
    this.#pendingRole = undefined;
    await this.#shutDown(m);
    await this.volumes.close();
  }

  /**
   * Powered off or closed: the engine API (both ways in) and metrics stop, and the node's agent and mesh
   * with them; then the host's services, once the mesh's VIP listeners are closed, for another to take.
   */
  async #shutDown(m: Membership | undefined): Promise<void> {
    this.events.endFeeds();
    this.#server.closeAllConnections();
    await Promise.all([
      new Promise<void>((resolve) => this.#server.close(() => resolve())),
      this.#socket.close(),
      this.#metricsServer?.close(),
      // The containers first: each gives its network addresses back over the link, which the detach closes.
      this.containers.close().then(() => (m ? this.#detach(m) : undefined)),
    ]);
    await this.#host?.close();
  }
}

/** A manager's own key and certificate, issued by the swarm's CA it holds (a node that inits or leads anew). */
function ownTls(manager: Manager, nodeId: string): NodeTls {
  return issue(manager.rootCA, manager.swarmId, nodeId, manager.swarmSpec.CAConfig.NodeCertExpiry);
}

/** The same from the swarm object a manager holds (a promoted node, or a restarted leader whose identity predates its certificate). */
function issuedBy(swarm: SwarmState['swarm'], nodeId: string): NodeTls {
  return issue(new RootCA(undefined, swarm.rootCA), swarm.id, nodeId, swarm.spec.CAConfig.NodeCertExpiry);
}

/** For the swarm's `--cert-expiry` (nanoseconds), as the dispatcher issues every other node's. */
function issue(ca: RootCA, swarmId: string, nodeId: string, expiryNs: number): NodeTls {
  const key = newNodeKey();
  const cert = ca.issue({ nodeId, role: 'swarm-manager', swarmId, publicKeyPem: key.publicKeyPem, validityMs: expiryNs / NANOS_PER_MS });
  return { key: key.privateKeyPem, cert, ca: ca.certificatePem };
}
