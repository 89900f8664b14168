// A leader's side of the cluster protocol, as swarmkit's dispatcher: it admits nodes, keeps their heartbeats,
// takes their task reports and network requests, and learns which view each node's mesh has applied, so that
// an agent stops a fenced task only once every mesh has fenced it (the watermark its sessions say). The
// sessions themselves are `SessionStreams`: its own, or with etcd the ones every manager serves.
import { NANOS_PER_MS, SwarmError, invalidArgument } from '../swarm/index.js';
import type { Manager, SwarmNode } from '../swarm/index.js';
import type { JoinAnswer, JoinRequest, NetworkAnswer, NetworkRequest, StatusReport } from './protocol.js';
import { CLUSTER_PORT } from './protocol.js';
import { SessionStreams } from './SessionStreams.js';
import { ManagerFeed } from './ManagerFeed.js';

export class Dispatcher {
  readonly #manager: Manager;
  /** The sessions this leader serves: of its own (`ManagerFeed`) or, with etcd, the manager role's. */
  readonly streams: SessionStreams;
  readonly #ownsStreams: boolean;
  /** The last seq each node's mesh said it applied, in the streams' numbering, kept across its sessions. */
  #appliedByNode = new Map<string, number>();
  readonly #stops: (() => void)[];
  /**
   * Resolves once what the manager changed so far is kept: a joined node is answered then, as swarmkit's once
   * Raft has it, so that any manager's copy (etcd) holds the node when it asks for its session.
   */
  readonly durable: () => Promise<void>;

  /**
   * `streams`: the sessions another owner serves (with etcd, every manager does); absent: its own, from the
   * manager's store. `durable`: resolves once the manager's changes so far are kept (a join is answered then).
   */
  constructor(manager: Manager, { streams, durable }: { streams?: SessionStreams; durable?: () => Promise<void> } = {}) {
    this.#manager = manager;
    this.durable = durable ?? (async () => {});
    this.#ownsStreams = !streams;
    this.streams = streams ?? new SessionStreams(new ManagerFeed(manager), () => manager.heartbeatPeriodMs);
    this.#stops = [
      this.streams.feed.onBatch(() => this.#advanceApplied()),
      this.streams.onSessionClosed(() => this.#advanceApplied()),
    ];
  }

  /** The numbering of the sessions' batches. */
  get epoch(): string {
    return this.streams.feed.epoch;
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
      managers: this.#managersFor(node.ID),
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

  /**
   * The managers a node is told at its join, the one to take its session from first. With etcd, where every
   * manager serves sessions, workers are spread over them (by node ID, so a node keeps its manager); a
   * manager's own session is the leader's, whose watermark it passes on.
   */
  #managersFor(nodeId: string): string[] {
    const managers = this.managers();
    if (this.#ownsStreams || this.#manager.store.node(nodeId)?.Spec.Role === 'manager') return managers;
    const first = [...nodeId].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) >>> 0, 0) % managers.length;
    return [...managers.slice(first), ...managers.slice(0, first)];
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

  /**
   * A node's mesh applied the view up to `seq` of `epoch` (another numbering's seq says nothing of this one's).
   * Its last word counts, lower or not: a node sent an older view (by a manager its session moved to) routes
   * by it. A node says them in order, one at a time.
   */
  applied(nodeId: string, epoch: string, seq: number): void {
    if (epoch === this.epoch) this.#appliedByNode.set(nodeId, seq);
    this.#advanceApplied();
  }

  leave(nodeId: string): void {
    this.#manager.forgetHeartbeats(nodeId);
    this.#manager.setNodeState(nodeId, 'down');
  }

  /** Ends its own sessions (what changed still sent first); shared ones go on, for the next leader to watermark. */
  close(): void {
    for (const stop of this.#stops) stop();
    if (!this.#ownsStreams) return;
    this.streams.feed.close();
    this.streams.close();
  }

  /**
   * The lowest seq every Ready node has applied, no further than the sessions' view (with etcd, a node served by
   * another manager may be ahead). A Ready node without a session is waited for too (its mesh still routes by
   * the view it had): until it comes back and says, or is Down, or the waiter's timeout.
   */
  #advanceApplied(): void {
    let lowest = this.streams.feed.seq;
    for (const node of this.#manager.store.nodes()) {
      if (node.Status.State === 'ready') lowest = Math.min(lowest, this.#appliedByNode.get(node.ID) ?? -1);
    }
    if (lowest >= 0) this.streams.applied(lowest);
  }
}
