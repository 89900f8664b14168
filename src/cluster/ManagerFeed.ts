// A manager's own store as the sessions' feed (without etcd): its changes batched once per turn of the event
// loop and numbered by this manager process, whose epoch is its own.
import { randomBytes } from 'node:crypto';
import type { Manager, Store, StoreChange, StoreKind } from '../swarm/index.js';
import type { FeedBatch, FeedSwarm, ViewFeed } from './ViewFeed.js';

/** A manager's own store, numbered per turn by this process. */
export class ManagerFeed implements ViewFeed {
  readonly epoch = randomBytes(8).toString('hex');
  readonly #manager: Manager;
  #seq = 0;
  #pending = new Map<string, { kind: StoreKind; id: string }>();
  #flushQueued = false;
  #listeners = new Set<(batch: FeedBatch) => void>();
  #onChange = (change: StoreChange): void => {
    this.#pending.set(`${change.kind}:${change.id}`, { kind: change.kind, id: change.id });
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => this.#flush());
  };

  constructor(manager: Manager) {
    this.#manager = manager;
    manager.store.on('change', this.#onChange);
  }

  get store(): Store {
    return this.#manager.store;
  }

  get seq(): number {
    return this.#seq;
  }

  onBatch(listener: (batch: FeedBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  swarmVersion(): number {
    return this.#manager.swarmVersion;
  }

  swarm(): FeedSwarm {
    const manager = this.#manager;
    return { version: manager.swarmVersion, info: manager.clusterInfo(), state: manager.exportSwarm() };
  }

  onSwarmChanged(listener: () => void): () => void {
    return this.#manager.onSwarmChanged(listener);
  }

  async sync(): Promise<void> {
    // The manager's own store: what it made is in it already.
  }

  /** Sends what changed since the last batch now (before the sessions end). */
  #flush(): void {
    this.#flushQueued = false;
    if (!this.#pending.size) return;
    const changes = [...this.#pending.values()];
    this.#pending.clear();
    const batch = { appliesTo: this.#seq, resultsIn: ++this.#seq, changes };
    for (const listener of this.#listeners) listener(batch);
  }

  close(): void {
    this.#flush();
    this.#manager.store.off('change', this.#onChange);
    this.#listeners.clear();
  }
}
