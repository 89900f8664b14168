// A manager's side of the cluster protocol, as swarmkit's dispatcher: it admits nodes, keeps their
// heartbeats, takes their task reports, and streams each one the cluster view: the whole of it first,
// then every change, batched once per turn of the event loop and numbered so that a node that missed
// one knows it and asks again. It also learns which view each node's mesh has applied, so an agent
// stops a fenced task only once every mesh has fenced it.
import { randomBytes } from 'node:crypto';
import { NANOS_PER_MS, SwarmError, invalidArgument, realTimer } from '../swarm/index.js';
import type { Manager, StoreChange, StoreKind, SwarmNode, Timer } from '../swarm/index.js';
import type { JoinAnswer, JoinRequest, NetworkAnswer, NetworkRequest, SessionMessage, StatusReport, ViewChange } from './protocol.js';
import { CLUSTER_PORT } from './protocol.js';
import { allData, neededBy, workerChanges, workerLists } from './secretsForNode.js';

/** Where a session's messages go: a stream the server holds open. */
export interface SessionSink {
  /** Writes one line; false once the reader is too far behind (the sink then ends itself). */
  write(line: string): boolean;
  end(): void;
}

/** However short the heartbeat period, `alive` goes no more often than this. */
const MIN_ALIVE_MS = 250;

interface Session {
  nodeId: string;
  sink: SessionSink;
  /** The swarm object's version this node was last sent, when it is a manager. */
  swarmSent?: number;
  /** `kind:id` of the secrets and configs whose data it was sent; `all` once it has them all (a manager). */
  dataSent: Set<string> | 'all';
}

export class Dispatcher {
  readonly #manager: Manager;
  /** Which manager process numbered the batches: a node resyncs when it changes. */
  readonly epoch = randomBytes(8).toString('hex');
  #seq = 0;
  #pending = new Map<string, { kind: StoreKind; id: string }>();
  #flushQueued = false;
  #sessions = new Set<Session>();
  /** The lowest seq every Ready node has applied, as last broadcast; -1 before any. */
  #appliedByAll = -1;
  /** The last seq each node's mesh said it applied, in this manager process (its numbers), kept across its sessions. */
  #appliedByNode = new Map<string, number>();
  #closed = false;
  #onChange = (change: StoreChange): void => {
    this.#pending.set(`${change.kind}:${change.id}`, { kind: change.kind, id: change.id });
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => this.#flush());
  };

  #stopSwarmChanges: () => void;
  /** Says `alive` down every session each heartbeat period, so a node can tell a quiet manager from a frozen one. */
  #alive: Timer | undefined;

  constructor(manager: Manager) {
    this.#manager = manager;
    manager.store.on('change', this.#onChange);
    // A `swarm update` or a token rotation writes no store object: the managers hear of it here.
    this.#stopSwarmChanges = manager.onSwarmChanged(() => { for (const session of this.#sessions) this.#sendSwarm(session); });
    this.#sayAlive();
  }

  #sayAlive(): void {
    this.#alive = realTimer(() => {
      const line = JSON.stringify({ type: 'alive' } satisfies SessionMessage);
      for (const session of this.#sessions) session.sink.write(line);
      this.#sayAlive();
    }, Math.max(this.#manager.heartbeatPeriodMs, MIN_ALIVE_MS));
  }

  /**
   * Admits a node with a valid token, or (`nodeId`, proven by the certificate it connected with, `peer`) a
   * member that restarted, whatever token it kept. Either way it gets a certificate for its new key.
   */
  join(request: JoinRequest, peer: string | undefined): JoinAnswer {
    const manager = this.#manager;
    const known = request.nodeId === undefined ? undefined : this.#rejoining(request.nodeId, peer);
    // A member proves itself with its certificate, as swarmkit's nodes do: a token rotated since it joined is no matter.
    const node = known ?? manager.addNode({
      hostname: request.hostname, addr: request.addr, role: this.#roleOf(request.token), ...(request.engineLabels ? { engineLabels: request.engineLabels } : {}),
    });
    if (known) manager.heartbeat(known.ID);
    return {
      nodeId: node.ID,
      role: manager.store.node(node.ID)!.Spec.Role,
      swarmId: manager.swarmId,
      managers: this.managers(),
      heartbeatPeriodMs: manager.heartbeatPeriodMs,
      ...this.#certificate(node.ID, request.publicKey),
    };
  }

  #roleOf(token: string): 'worker' | 'manager' {
    const role = this.#manager.tokens.roleOf(token);
    if (role === 'malformed') throw new SwarmError('invalid_argument', 'invalid join token');
    if (role === 'invalid') throw invalidArgument('A valid join token is necessary to join this cluster');
    return role;
  }

  /**
   * The member a restarted node says it is, once its certificate proves it. A removed node is told so, never
   * made a new node behind its back: its certificate is revoked, and it comes back only by a `swarm join`.
   */
  #rejoining(nodeId: string, peer: string | undefined): SwarmNode {
    if (nodeId !== peer) throw new SwarmError('permission_denied', `rejoining as node ${nodeId} needs that node's certificate`);
    const node = this.#manager.store.node(nodeId);
    if (!node) throw new SwarmError('not_found', `node ${nodeId} was removed from this swarm: it may join again only with docker swarm join`);
    return node;
  }

  /** A certificate for a member's new key, naming its role now: what its TLS shows from then on. */
  #certificate(nodeId: string, publicKey: string): { certificate: string; rootCA: string } {
    const manager = this.#manager;
    const role = manager.store.node(nodeId)!.Spec.Role === 'manager' ? 'swarm-manager' : 'swarm-worker';
    let certificate: string;
    try {
      const validityMs = manager.swarmSpec.CAConfig.NodeCertExpiry / NANOS_PER_MS;
      certificate = manager.rootCA.issue({ nodeId, role, swarmId: manager.swarmId, publicKeyPem: publicKey, validityMs });
    } catch (error) {
      throw new SwarmError('invalid_argument', `no certificate for that key: ${(error as Error).message}`);
    }
    return { certificate, rootCA: manager.rootCA.certificatePem };
  }

  /** Whether the node is a manager of this swarm now (it may forward engine API requests). */
  isManager(nodeId: string): boolean {
    return this.#manager.store.node(nodeId)?.Spec.Role === 'manager';
  }

  /** The managers' cluster addresses, the leader first. */
  managers(): string[] {
    return this.#manager.store.nodes()
      .filter((n) => n.Spec.Role === 'manager')
      .sort((a, b) => Number(b.ManagerStatus?.Leader ?? false) - Number(a.ManagerStatus?.Leader ?? false))
      .map((n) => n.ManagerStatus?.Addr ?? `${n.Status.Addr}:${CLUSTER_PORT}`);
  }

  /**
   * A node's network request (see NetworkRequest): what it asks of the control plane, for one of its own. The
   * swarm's networks are the managers' (through the engine API), and another node's bridges and containers its own.
   */
  networks(request: NetworkRequest): NetworkAnswer {
    const { nodeId } = request;
    this.checkMember(nodeId);
    const networks = this.#manager.networks;
    switch (request.op) {
      case 'create': {
        const driver = (request.request as { Driver?: unknown } | null)?.Driver;
        if (driver !== undefined && driver !== '' && driver !== 'bridge') throw new SwarmError('permission_denied', `a node asks only for bridge networks of its own, not a ${String(driver)} network`);
        return { network: networks.create(request.request, nodeId) };
      }
      case 'remove': {
        const network = networks.resolve(request.ref, nodeId);
        if (network.Spec.Scope !== 'local' || network.NodeID !== nodeId) throw new SwarmError('permission_denied', `network ${network.Spec.Name} is not node ${nodeId}'s bridge network to remove`);
        networks.remove(network.ID, nodeId);
        return {};
      }
      case 'attach':
        this.#checkContainerOf(nodeId, request.containerId);
        return networks.attachContainer(nodeId, request);
      case 'detach':
        this.#checkContainerOf(nodeId, request.containerId);
        networks.detachContainer(request.containerId);
        return {};
    }
  }

  /** A container already on a network is the node's that put it there. */
  #checkContainerOf(nodeId: string, containerId: string): void {
    const owner = this.#manager.store.all('network').map((n) => n.Containers?.[containerId]?.NodeID).find((id) => id !== undefined);
    if (owner !== undefined && owner !== nodeId) throw new SwarmError('permission_denied', `container ${containerId} is node ${owner}'s, not node ${nodeId}'s`);
  }

  /** Throws not_found unless the node is a member of the swarm. */
  checkMember(nodeId: string): void {
    if (!this.#manager.store.node(nodeId)) throw new SwarmError('not_found', `node ${nodeId} is not a member of this swarm: join it again`);
  }

  /** Opens a node's stream with the whole view; what changes from now on follows it. */
  openSession(nodeId: string, sink: SessionSink): () => void {
    const store = this.#manager.store;
    this.checkMember(nodeId);
    const manager = store.node(nodeId)?.Spec.Role === 'manager';
    const session: Session = { nodeId, sink, dataSent: manager ? 'all' : neededBy(store, nodeId) };
    this.#sessions.add(session);
    const complete: SessionMessage = {
      type: 'complete', epoch: this.epoch, seq: this.#seq, nodes: store.nodes(), services: store.services(), tasks: store.tasks(),
      networks: store.all('network'), ...(manager ? { secrets: store.all('secret'), configs: store.all('config') } : workerLists(store, nodeId)),
    };
    sink.write(JSON.stringify(complete));
    this.#sendSwarm(session);
    return () => {
      this.#sessions.delete(session);
      this.#advanceApplied();
    };
  }

  heartbeat(nodeId: string): { periodMs: number } {
    this.checkMember(nodeId);
    this.#manager.heartbeat(nodeId);
    return { periodMs: this.#manager.heartbeatPeriodMs };
  }

  /** A node's reports of its own tasks, in the order it made them; one that fails is logged by the caller, the rest go on. */
  reportStatus(nodeId: string, reports: readonly StatusReport[]): Error[] {
    const errors: Error[] = [];
    for (const { taskId, report } of reports) {
      try {
        const task = this.#manager.store.task(taskId);
        if (task && task.NodeID !== nodeId) throw new SwarmError('permission_denied', `task ${taskId} is not node ${nodeId}'s to report`);
        this.#manager.reportTaskStatus(taskId, report);
      } catch (error) {
        errors.push(error as Error);
      }
    }
    return errors;
  }

  applied(nodeId: string, seq: number): void {
    if (seq <= this.#seq && seq > (this.#appliedByNode.get(nodeId) ?? -1)) this.#appliedByNode.set(nodeId, seq);
    this.#advanceApplied();
  }

  leave(nodeId: string): void {
    this.#manager.forgetHeartbeats(nodeId);
    this.#manager.setNodeState(nodeId, 'down');
  }

  /** Sends what changed still, then ends every session. */
  close(): void {
    this.#flush();
    this.#closed = true;
    this.#alive?.cancel();
    this.#manager.store.off('change', this.#onChange);
    this.#stopSwarmChanges();
    for (const session of this.#sessions) session.sink.end();
    this.#sessions.clear();
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed || !this.#pending.size) return;
    const store = this.#manager.store;
    const changes: ViewChange[] = [];
    const removed = new Set<string>();
    for (const { kind, id } of this.#pending.values()) {
      const object = store.object(kind, id);
      if (!object) {
        changes.push({ kind, op: 'delete', id });
        if (kind === 'node') removed.add(id);
      } else {
        changes.push({ kind, op: 'put', object } as ViewChange);
      }
    }
    this.#pending.clear();
    const appliesTo = this.#seq;
    this.#seq += 1;
    const message = { type: 'changes', epoch: this.epoch, appliesTo, resultsIn: this.#seq, changes } satisfies SessionMessage;
    const line = JSON.stringify(message);
    for (const session of this.#sessions) {
      const own = this.#changesFor(session, changes);
      if (!session.sink.write(own ? JSON.stringify({ ...message, changes: own }) : line)) {
        this.#sessions.delete(session);
        continue;
      }
      this.#sendSwarm(session);
      if (removed.has(session.nodeId)) {
        session.sink.write(JSON.stringify({ type: 'removed' } satisfies SessionMessage));
        session.sink.end();
        this.#sessions.delete(session);
      }
    }
    this.#advanceApplied();
  }

  /**
   * The batch as this session's node gets it, when not as a manager does: a worker without the secrets' and
   * configs' data its tasks do not need (a node just demoted too, from then on); a node just promoted with all of it, which it lacked.
   */
  #changesFor(session: Session, changes: ViewChange[]): ViewChange[] | undefined {
    const store = this.#manager.store;
    const manager = store.node(session.nodeId)?.Spec.Role === 'manager';
    if (session.dataSent === 'all') {
      if (manager) return undefined;
      // Demoted: from now on a worker's share (what it was sent as a manager it keeps, as a demoted swarmkit node does).
      session.dataSent = neededBy(store, session.nodeId);
    }
    if (manager) {
      session.dataSent = 'all';
      return [...allData(store), ...changes];
    }
    return workerChanges(store, session.nodeId, changes, session.dataSent);
  }

  /** A manager's copy of the swarm object, sent when it is new to it (a promotion, a `swarm update`). */
  #sendSwarm(session: Session): void {
    const manager = this.#manager;
    if (manager.store.node(session.nodeId)?.Spec.Role !== 'manager' || session.swarmSent === manager.swarmVersion) return;
    session.swarmSent = manager.swarmVersion;
    session.sink.write(JSON.stringify({ type: 'swarm', swarm: manager.clusterInfo(), state: manager.exportSwarm() } satisfies SessionMessage));
  }

  /**
   * The lowest seq every Ready node has applied. A Ready node without a session is waited for too (its mesh
   * still routes by the view it had): until it comes back and says, or is Down, or the waiter's timeout.
   */
  #advanceApplied(): void {
    const store = this.#manager.store;
    let lowest = this.#seq;
    for (const node of store.nodes()) {
      if (node.Status.State === 'ready') lowest = Math.min(lowest, this.#appliedByNode.get(node.ID) ?? -1);
    }
    if (lowest <= this.#appliedByAll) return;
    this.#appliedByAll = lowest;
    const line = JSON.stringify({ type: 'applied', epoch: this.epoch, seq: lowest } satisfies SessionMessage);
    for (const session of this.#sessions) session.sink.write(line);
  }
}
