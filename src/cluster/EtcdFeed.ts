// A manager's copy of the swarm kept by one etcd watch (`EtcdSwarmView`) as the sessions' feed, numbered by
// etcd's revisions: the same numbers on every manager, so a node may take its view from any of them.
import type { EtcdSwarmView, Store } from '../swarm/index.js';
import { clusterInfoOf } from '../swarm/index.js';
import type { FeedBatch, FeedSwarm, ViewFeed } from './ViewFeed.js';

/** A copy of the swarm kept by one etcd watch, numbered by etcd's revisions (every manager's numbers are the same). */
export class EtcdFeed implements ViewFeed {
  readonly #view: EtcdSwarmView;
  /** The revision of the last batch: revisions since that changed no record (the leader key) show the same swarm. */
  #seq: number;
  readonly #listeners = new Set<(batch: FeedBatch) => void>();
  readonly #stops: (() => void)[] = [];

  constructor(view: EtcdSwarmView) {
    this.#view = view;
    this.#seq = view.revision;
    // Chained to the last batch, so that a node does not take a revision that changed nothing for one it missed.
    this.#stops.push(view.onBatch(({ resultsIn, changes }) => {
      const batch = { appliesTo: this.#seq, resultsIn, changes };
      this.#seq = resultsIn;
      for (const listener of this.#listeners) listener(batch);
    }));
  }

  get store(): Store {
    return this.#view.store;
  }

  /** etcd's revisions of this swarm: a swarm made anew under the same prefix numbers on, but is another swarm. */
  get epoch(): string {
    return `etcd:${this.#view.swarm?.id ?? ''}`;
  }

  get seq(): number {
    return this.#seq;
  }

  onBatch(listener: (batch: FeedBatch) => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  swarmVersion(): number | undefined {
    const state = this.#view.swarm;
    return state && (state.version ?? 0);
  }

  swarm(): FeedSwarm | undefined {
    const state = this.#view.swarm;
    return state && { version: state.version ?? 0, info: clusterInfoOf(state), state };
  }

  onSwarmChanged(listener: () => void): () => void {
    const stop = this.#view.onSwarm(listener);
    this.#stops.push(stop);
    return stop;
  }

  sync(): Promise<void> {
    return this.#view.sync();
  }

  /** Stops listening; the view is its owner's to close. */
  close(): void {
    for (const stop of this.#stops.splice(0)) stop();
    this.#listeners.clear();
  }
}
