// Where a manager keeps its swarm so that it outlives the process: the seam between the control plane and
// its storage. `SwarmDataDir` (a snapshot and a journal in a directory) is the one there is; a distributed
// store (etcd) is the next. A manager's writes stay synchronous in its `Store`; a backend follows them.
// Every manager keeps one: the leader its swarm, the others their copy.
import type { Store } from './Store.js';
import type { SwarmState } from './SwarmState.js';

/**
 * What a backend follows: a manager's swarm, or a manager's copy of it (another manager leads, and its
 * link keeps the copy), so that after a power loss the freshest of them can lead again.
 */
export interface SwarmSource {
  readonly store: Store;
  exportState(): SwarmState;
  /** The swarm object alone: what a change to it writes. */
  exportSwarm(): SwarmState['swarm'];
  /** Calls `listener` after each change to the swarm object itself; returns how to stop. */
  onSwarmChanged(listener: () => void): () => void;
}

/** A backend following one manager's writes. */
export interface SwarmPersistence {
  /** Resolves once every change so far is durable. */
  flush(): Promise<void>;
  /** Writes what is left, and follows no more. */
  close(): Promise<void>;
}

export interface SwarmBackend {
  /** The swarm kept here, or undefined when none is; throws an Error saying what to do if it cannot be read whole. */
  load(): Promise<SwarmState | undefined>;
  /** Keeps the swarm from now on: all of it first, then every change. */
  persist(source: SwarmSource): Promise<SwarmPersistence>;
  /** Forgets the swarm kept here (the node left it). */
  remove(): Promise<void>;
}
