// One simulated node's daemon: its engine API on <address>:<apiPort> and on a Unix socket, and once it is
// in a swarm its agent (runs tasks) and mesh (routes published ports). A manager engine also serves the control plane.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { Manager, SwarmError, invalidArgument, realTimer } from '../swarm/index.js';
import type { NodeRole, StoreChange, Timer } from '../swarm/index.js';
import { Mesh, MeshMetrics } from '../mesh/index.js';
import type { Runtime, TaskOutput } from '../runtime/index.js';
import { Agent } from './Agent.js';
import type { HostServices } from './HostServices.js';
import { ClusterStateMetrics } from './ClusterStateMetrics.js';
import { MetricsServer } from './MetricsServer.js';
import { EngineSocket } from './EngineSocket.js';
import { DEFAULT_REQUEST_HEAD_TIMEOUT_MS, serverTimeouts } from './httpTimeouts.js';
import { engineApi, ApiError } from './api/index.js';
import type { EngineContext, SwarmState } from './api/index.js';

export const CLUSTER_PORT = 2377;

/** How long an engine API connection may stay idle between requests (the docker CLI reuses its connection). */
const API_KEEP_ALIVE_MS = 30_000;

/** How an engine finds a swarm to join, or gets a new control plane for `swarm init`. */
export interface SwarmDirectory {
  managerAt(clusterAddr: string): Manager | undefined;
  newManager(): Manager;
  /** The engine of the node with this hostname, for fault injection. */
  engine(hostname: string): Engine | undefined;
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
  /** The agent's fence period on a planned stop (Swarm's 2 s when absent). */
  fencePeriodMs?: number;
  /** How long a client of the engine API or /metrics may take to send a request head (DEFAULT_REQUEST_HEAD_TIMEOUT_MS). */
  requestHeadTimeoutMs?: number;
  log?: (line: string) => void;
}

const NOT_IN_SWARM = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const WORKER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
const NO_LEADER = "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";
const ALREADY_IN_SWARM = 'This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.';

interface Membership {
  manager: Manager;
  nodeId: string;
  agent: Agent;
  mesh: Mesh;
  /** The next heartbeat, armed by each beat: the long timer, since a period past 2^31-1 ms (~24.8 days) would make setInterval beat every 1 ms. */
  heartbeat: Timer;
  onRemoved: (change: StoreChange) => void;
}

export class Engine implements EngineContext {
  readonly hostname: string;
  readonly address: string;
  readonly engineLabels: Readonly<Record<string, string>>;
  #apiPort: number;
  #runtime: Runtime;
  #directory: SwarmDirectory;
  #host: HostServices | undefined;
  #log: (line: string) => void;
  #fencePeriodMs: number | undefined;
  #server: http.Server;
  readonly #socket: EngineSocket;
  /** This node's own metrics; they outlive its memberships, as a daemon's counters outlive a rejoin. */
  readonly #metricsRegistry = new Registry();
  /** Counted only when served: with metrics off, the data plane pays nothing for them. */
  #meshMetrics: MeshMetrics | undefined;
  #metricsServer: MetricsServer | undefined;
  #membership: Membership | undefined;
  /** Set while the node is powered off by `fail()`: what `recover()` rejoins. */
  #failed: { manager: Manager; nodeId: string } | undefined;

  constructor(options: EngineOptions) {
    this.hostname = options.hostname;
    this.address = options.address;
    this.engineLabels = { ...options.engineLabels };
    this.#apiPort = options.apiPort;
    this.#runtime = options.runtime;
    this.#directory = options.directory;
    this.#host = options.host;
    this.#log = options.log ?? (() => {});
    this.#fencePeriodMs = options.fencePeriodMs;
    const requestHeadMs = options.requestHeadTimeoutMs ?? DEFAULT_REQUEST_HEAD_TIMEOUT_MS;
    const timeouts = serverTimeouts(requestHeadMs, API_KEEP_ALIVE_MS);
    this.#server = http.createServer(timeouts, engineApi(this, 'tcp'));
    this.#socket = new EngineSocket(engineApi(this, 'unix'), options.socketDir, this.address, timeouts);
    if (options.metricsPort !== undefined) {
      this.#meshMetrics = new MeshMetrics(this.#metricsRegistry, this.hostname);
      new ClusterStateMetrics(this.#metricsRegistry, () => (this.#role() === 'manager' ? this.#membership?.manager.store : undefined));
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
    return `${this.address}:${CLUSTER_PORT}`;
  }

  get mesh(): Mesh | undefined {
    return this.#membership?.mesh;
  }

  async listen(): Promise<void> {
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

  swarmState(): SwarmState {
    if (!this.#membership) return 'inactive';
    return this.#role() === 'manager' ? 'active/manager' : 'active/worker';
  }

  #role(): NodeRole | undefined {
    const m = this.#membership;
    return m ? m.manager.store.node(m.nodeId)?.Spec.Role : undefined;
  }

  nodeId(): string | undefined {
    return this.#membership?.nodeId;
  }

  requireManager(): Manager {
    if (!this.#membership) throw new ApiError(503, NOT_IN_SWARM);
    if (this.#role() !== 'manager') throw new ApiError(503, WORKER);
    // Without a quorum the managers can neither read nor change the cluster; the data plane keeps serving.
    if (!this.#membership.manager.hasQuorum()) throw new ApiError(500, NO_LEADER);
    return this.#membership.manager;
  }

  remoteManagers(): { NodeID: string; Addr: string }[] {
    const m = this.#membership;
    if (!m) return [];
    return m.manager.store.nodes()
      .filter((n) => n.ManagerStatus)
      .map((n) => ({ NodeID: n.ID, Addr: n.ManagerStatus!.Addr }));
  }

  init(forceNewCluster = false): string {
    const m = this.#membership;
    if (m && forceNewCluster && this.#role() === 'manager') {
      m.manager.forceNewCluster(m.nodeId);
      return m.nodeId;
    }
    if (m) throw new ApiError(503, ALREADY_IN_SWARM);
    const manager = this.#directory.newManager();
    return this.#attach(manager, 'manager');
  }

  join(request: { remoteAddr: string; token: string }): void {
    if (this.#membership) throw new ApiError(503, ALREADY_IN_SWARM);
    const addr = request.remoteAddr.includes(':') ? request.remoteAddr : `${request.remoteAddr}:${CLUSTER_PORT}`;
    const manager = this.#directory.managerAt(addr);
    if (!manager) {
      throw new ApiError(500, `could not reach a manager at ${addr}: give the address of a manager node, like 127.1.0.1:${CLUSTER_PORT}`);
    }
    const role = manager.tokens.roleOf(request.token);
    if (role === 'malformed') throw new SwarmError('invalid_argument', 'invalid join token');
    if (role === 'invalid') throw invalidArgument('A valid join token is necessary to join this cluster');
    this.#attach(manager, role);
  }

  leave(force: boolean): void {
    const m = this.#membership;
    if (!m) throw new ApiError(503, 'This node is not part of a swarm');
    if (this.#role() === 'manager' && !force) {
      const managers = m.manager.store.nodes().filter((n) => n.Spec.Role === 'manager' && n.Status.State === 'ready');
      throw new ApiError(503, managers.length <= 1
        ? 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.'
        : 'You are attempting to leave the swarm on a node that is participating as a manager. Removing this node leaves ' +
          `${managers.length - 1} managers out of ${managers.length}. Without a Raft quorum your swarm will be inaccessible. ` +
          'The only way to restore a swarm that has lost consensus is to reinitialize it with `--force-new-cluster`. Use `--force` to suppress this message.');
    }
    this.#membership = undefined;
    m.manager.forgetHeartbeats(m.nodeId);
    m.manager.setNodeState(m.nodeId, 'down');
    void this.#detach(m);
  }

  // ---- fault injection ------------------------------------------------------------------------

  /**
   * The node stops as if powered off: its tasks die at once, its listeners and engine API close, and its
   * heartbeats stop, so the managers mark it Down after the heartbeat timeout and replace its tasks.
   * A refusal is thrown at once; the power-off waits for `answered` (see injectFault).
   */
  fail(answered: Promise<void> = Promise.resolve()): Promise<void> {
    const m = this.#membership;
    if (!m) throw new ApiError(400, `${this.hostname} is not running in a swarm: nothing to fail`);
    return answered.then(async () => {
      if (this.#membership !== m) return; // left, or failed, meanwhile
      this.#membership = undefined;
      this.#failed = { manager: m.manager, nodeId: m.nodeId };
      await this.#shutDown(m);
    });
  }

  /** Powered on again: the engine API opens, the node rejoins with its ID, and comes back Ready and empty. */
  async recover(): Promise<void> {
    const failed = this.#failed;
    if (!failed) throw new ApiError(400, `${this.hostname} has not failed: nothing to recover`);
    this.#failed = undefined;
    await this.listen();
    if (failed.manager.store.node(failed.nodeId)) this.#run(failed.manager, failed.nodeId);
  }

  injectFault(hostname: string, action: 'fail' | 'recover', answered: Promise<void>): Promise<void> {
    const engine = this.#directory.engine(hostname);
    if (!engine) throw new ApiError(404, `node ${hostname} not found: give the hostname of a node of this cluster, like node2`);
    if (action === 'recover') return engine.recover();
    // Powered off, this engine would cut the connection it answers on: it answers first.
    return engine === this ? engine.fail(answered) : engine.fail();
  }

  taskOutput(taskId: string): TaskOutput | undefined {
    return this.#runtime.outputOf(taskId);
  }

  hasImage(image: string): boolean {
    return this.#runtime.hasImage(image);
  }

  // ---- membership -----------------------------------------------------------------------------

  #attach(manager: Manager, role: NodeRole): string {
    const node = manager.addNode({ hostname: this.hostname, addr: this.address, role, engineLabels: { ...this.engineLabels } });
    this.#run(manager, node.ID);
    return node.ID;
  }

  /** Starts this node's agent, mesh and heartbeats as a member of the swarm `manager` runs. */
  #run(manager: Manager, nodeId: string): void {
    const view = manager.store;
    const agent = new Agent({
      nodeId,
      link: { view, reportTaskStatus: (id, report) => manager.reportTaskStatus(id, report) },
      runtime: this.#runtime,
      log: this.#log,
      ...(this.#fencePeriodMs !== undefined ? { fencePeriodMs: this.#fencePeriodMs } : {}),
    });
    const mesh = new Mesh({
      node: this.hostname, address: this.address, view, log: this.#log,
      ...(this.#host ? { dns: this.#host, vips: this.#host } : {}),
      ...(this.#meshMetrics ? { metrics: this.#meshMetrics } : {}),
    });
    const membership: Membership = { manager, nodeId, agent, mesh, heartbeat: { cancel: () => {} }, onRemoved: () => {} };
    const beat = (): void => {
      manager.heartbeat(nodeId);
      membership.heartbeat = realTimer(beat, manager.heartbeatPeriodMs);
    };
    beat();
    // `node rm --force` removes this node from the swarm: it leaves, as a real engine is told to.
    membership.onRemoved = (change: StoreChange) => {
      if (change.kind !== 'node' || change.op !== 'delete' || change.id !== nodeId || this.#membership !== membership) return;
      this.#membership = undefined;
      void this.#detach(membership);
    };
    view.on('change', membership.onRemoved);
    this.#membership = membership;
    mesh.start();
    agent.start();
  }

  async #detach(m: Membership): Promise<void> {
    m.heartbeat.cancel();
    m.manager.store.off('change', m.onRemoved);
    await Promise.all([m.agent.stop(), m.mesh.close()]);
  }

  async close(): Promise<void> {
    const m = this.#membership;
    this.#membership = undefined;
    await this.#shutDown(m);
  }

  /**
   * Powered off or closed: the engine API (both ways in) and metrics stop, and the node's agent and mesh
   * with them; then the host's services, once the mesh's VIP listeners are closed, for another to take.
   */
  async #shutDown(m: Membership | undefined): Promise<void> {
    this.#server.closeAllConnections();
    await Promise.all([
      new Promise<void>((resolve) => this.#server.close(() => resolve())),
      this.#socket.close(),
      this.#metricsServer?.close(),
      m ? this.#detach(m) : Promise.resolve(),
    ]);
    await this.#host?.close();
  }
}
