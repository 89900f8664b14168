// The nodes' session streams a manager serves from a `ViewFeed`: the whole view first, then every batch of
// changes as the feed numbers it, the swarm object to managers, `alive` each heartbeat period, and the
// watermark of what every mesh has applied (`applied`, which the leader works out, and another manager passes
// on). A worker is sent only the secrets' and configs' data its tasks need.
import { SwarmError, realTimer } from '../swarm/index.js';
import type { Timer } from '../swarm/index.js';
import type { SessionMessage, ViewChange } from './protocol.js';
import type { FeedBatch, ViewFeed } from './ViewFeed.js';
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

export class SessionStreams {
  readonly feed: ViewFeed;
  #sessions = new Set<Session>();
  /** The highest watermark said, in the feed's numbering; -1 before any. */
  #applied = -1;
  readonly #stops: (() => void)[];
  readonly #closedListeners = new Set<() => void>();
  /** Says `alive` down every session each heartbeat period, so a node can tell a quiet manager from a frozen one. */
  #alive: Timer | undefined;
  /** Whether the feed's catch-up of this period is still on its way. */
  #checking = false;
  readonly #log: (line: string) => void;
  #closed = false;

  /** `periodMs`: the swarm's heartbeat period now (it may change with `swarm update`). */
  constructor(feed: ViewFeed, periodMs: () => number, log: (line: string) => void = () => {}) {
    this.feed = feed;
    this.#log = log;
    this.#stops = [
      feed.onBatch((batch) => this.#send(batch)),
      // A `swarm update` or a token rotation writes no store object: the managers hear of it here.
      feed.onSwarmChanged(() => { for (const session of this.#sessions) this.#sendSwarm(session); }),
    ];
    const sayAlive = (): void => {
      this.#alive = realTimer(() => {
        const line = JSON.stringify({ type: 'alive' } satisfies SessionMessage);
        for (const session of this.#sessions) session.sink.write(line);
        this.#checkFresh();
        sayAlive();
      }, Math.max(periodMs(), MIN_ALIVE_MS));
    };
    sayAlive();
  }

  /**
   * Each period, whether the feed can still catch up (a copy cut off from etcd cannot): if not, its sessions
   * end, so that their nodes take the view from a manager whose copy goes on, rather than route by a frozen one.
   */
  #checkFresh(): void {
    if (this.#checking || !this.#sessions.size) return;
    this.#checking = true;
    this.feed.sync().then(() => undefined, (error: Error) => {
      if (this.#closed) return;
      this.#log(`cluster port: this manager's copy of the swarm is not up to date (${error.message}): its ${this.#sessions.size} sessions end, their nodes go to another manager`);
      for (const session of this.#sessions) session.sink.end();
      this.#sessions.clear();
    }).finally(() => { this.#checking = false; });
  }

  /** Called each time a session ends. */
  onSessionClosed(listener: () => void): () => void {
    this.#closedListeners.add(listener);
    return () => { this.#closedListeners.delete(listener); };
  }

  /**
   * Throws not_found unless the node is a member, once the feed has caught up (a copy kept from etcd: the
   * node may come from a manager ahead of this one, and must never be handed an older view; and a node
   * admitted a moment ago is in it then). A copy that cannot catch up serves no session.
   */
  async admit(nodeId: string): Promise<void> {
    try {
      await this.feed.sync();
    } catch (error) {
      throw new SwarmError('unavailable', `this manager's copy of the swarm is not up to date (${(error as Error).message}): ask another manager`);
    }
    this.#checkMember(nodeId);
  }

  #checkMember(nodeId: string): void {
    if (!this.feed.store.node(nodeId)) throw new SwarmError('not_found', `node ${nodeId} is not a member of this swarm: join it again`);
  }

  /** Opens a node's stream with the whole view; what changes from now on follows it. */
  open(nodeId: string, sink: SessionSink): () => void {
    const store = this.feed.store;
    this.#checkMember(nodeId);
    const manager = store.node(nodeId)?.Spec.Role === 'manager';
    const session: Session = { nodeId, sink, dataSent: manager ? 'all' : neededBy(store, nodeId) };
    this.#sessions.add(session);
    const complete: SessionMessage = {
      type: 'complete', epoch: this.feed.epoch, seq: this.feed.seq, nodes: store.nodes(), services: store.services(), tasks: store.tasks(),
      networks: store.all('network'), faults: store.all('fault'), ...(manager ? { secrets: store.all('secret'), configs: store.all('config') } : workerLists(store, nodeId)),
    };
    sink.write(JSON.stringify(complete));
    this.#sendSwarm(session);
    return () => {
      if (!this.#sessions.delete(session)) return;
      for (const listener of this.#closedListeners) listener();
    };
  }

  /** Every Ready node has applied the view up to `seq` (the feed's numbering): said down every session, once. */
  applied(seq: number): void {
    if (seq <= this.#applied || this.#closed) return;
    this.#applied = seq;
    const line = JSON.stringify({ type: 'applied', epoch: this.feed.epoch, seq } satisfies SessionMessage);
    for (const session of this.#sessions) session.sink.write(line);
  }

  /** Ends every session (their nodes find another manager); the feed is its owner's to close. */
  close(): void {
    this.#closed = true;
    this.#alive?.cancel();
    for (const stop of this.#stops) stop();
    for (const session of this.#sessions) session.sink.end();
    this.#sessions.clear();
  }

  #send(batch: FeedBatch): void {
    if (this.#closed) return;
    const store = this.feed.store;
    const changes: ViewChange[] = [];
    const removed = new Set<string>();
    for (const { kind, id } of batch.changes) {
      const object = store.object(kind, id);
      if (!object) {
        changes.push({ kind, op: 'delete', id });
        if (kind === 'node') removed.add(id);
      } else {
        changes.push({ kind, op: 'put', object } as ViewChange);
      }
    }
    const message = { type: 'changes', epoch: this.feed.epoch, appliesTo: batch.appliesTo, resultsIn: batch.resultsIn, changes } satisfies SessionMessage;
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
  }

  /**
   * The batch as this session's node gets it, when not as a manager does: a worker without the secrets' and
   * configs' data its tasks do not need (a node just demoted too, from then on); a node just promoted with all of it, which it lacked.
   */
  #changesFor(session: Session, changes: ViewChange[]): ViewChange[] | undefined {
    const store = this.feed.store;
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
    if (this.feed.store.node(session.nodeId)?.Spec.Role !== 'manager') return;
    // Made (cloned and exported) only when this manager lacks it, not at every batch.
    const version = this.feed.swarmVersion();
    if (version === undefined || session.swarmSent === version) return;
    const swarm = this.feed.swarm();
    if (!swarm) return;
    session.swarmSent = swarm.version;
    session.sink.write(JSON.stringify({ type: 'swarm', swarm: swarm.info, state: swarm.state } satisfies SessionMessage));
  }
}
