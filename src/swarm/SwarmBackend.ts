// Where a manager keeps its swarm so that it outlives the process: the seam between the control plane and
// its storage. `SwarmDataDir` (a snapshot and a journal in a directory) is the one there is; a distributed
// store (etcd) is the next. A manager's writes stay synchronous in its `Store`; a backend follows them.
import type { Manager } from './Manager.js';
import type { SwarmState } from './SwarmState.js';

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
  /** Keeps the manager's swarm from now on: all of it first, then every change. */
  persist(manager: Manager): Promise<SwarmPersistence>;
  /** Forgets the swarm kept here (the node left it). */
  remove(): Promise<void>;
}
