// Where the sessions' cluster view comes from, numbered: a batch of changes takes the view from one number to
// the next, and `epoch` names the numbering. Two sources:
// - `ManagerFeed`, a manager's own store (without etcd): its changes batched once per turn of the event loop and
//   numbered by the manager process, whose epoch is its own;
// - `EtcdFeed`, a copy kept by one etcd watch (with `--store`): numbered by etcd's revisions, the same on every
//   manager, so that a node may take its view from any of them, and carry on with another.
import type { Store, StoreKind, SwarmState } from '../swarm/index.js';

/** The objects that changed (look them up in the store: gone is deleted), taking the view from `appliesTo` to `resultsIn`. */
export interface FeedBatch {
  appliesTo: number;
  resultsIn: number;
  changes: { kind: StoreKind; id: string }[];
}

/** The swarm object, as managers are sent it: its version, as /info shows it, and whole. */
export interface FeedSwarm {
  version: number;
  info: Record<string, unknown>;
  state: SwarmState['swarm'];
}

export interface ViewFeed {
  readonly store: Store;
  /** The numbering's name: a node never chains changes of one epoch to a view of another. */
  readonly epoch: string;
  /** The number of the view the store shows now. */
  readonly seq: number;
  onBatch(listener: (batch: FeedBatch) => void): () => void;
  /** The swarm object's version, cheap to read: what tells whether a manager has it already. */
  swarmVersion(): number | undefined;
  swarm(): FeedSwarm | undefined;
  onSwarmChanged(listener: () => void): () => void;
  /** Resolves once the store shows every change made before the call (a node just admitted is in it). */
  sync(): Promise<void>;
  close(): void;
}
