// A manager's durable changes as a backend follows them (SwarmJournal on disk, EtcdSwarmBackend in etcd):
// the changes of one turn of the event loop as one group (group commit; changes that come while a group
// is being written go in the next), each named by its record's key and read as it is when written. A
// group that cannot be written stops the following: a backend missing a change would load a half-state.
import type { SwarmSource, SwarmPersistence } from './SwarmBackend.js';
import type { StoreChange, StoreKind } from './Store.js';

/** The key of the swarm object itself; every other key is `<kind>/<ID>` (recordOf reads it back). */
export const SWARM_RECORD = 'swarm';

/** A changed record's key read back: the swarm object, or a store object by kind and ID. */
export function recordOf(key: string): { kind: StoreKind; id: string } | typeof SWARM_RECORD {
  if (key === SWARM_RECORD) return SWARM_RECORD;
  const slash = key.indexOf('/');
  return { kind: key.slice(0, slash) as StoreKind, id: key.slice(slash + 1) };
}

export class ChangeGroups implements SwarmPersistence {
  readonly #writeGroup: (keys: string[]) => Promise<void>;
  readonly #failedWith: (error: Error) => void;
  /** Keys changed since the last group; unset until `start`, changes meanwhile wait. */
  #dirty = new Set<string>();
  #started = false;
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #failed: Error | undefined;
  readonly #stop: () => void;

  /** Listens from now on; `writeGroup` writes the records of the keys it is given; `failedWith` says a failure once. */
  constructor(source: SwarmSource, writeGroup: (keys: string[]) => Promise<void>, failedWith: (error: Error) => void) {
    this.#writeGroup = writeGroup;
    this.#failedWith = failedWith;
    const onChange = (change: StoreChange) => this.#changed(`${change.kind}/${change.id}`);
    source.store.on('change', onChange);
    const stopSwarm = source.onSwarmChanged(() => this.#changed(SWARM_RECORD));
    this.#stop = () => {
      source.store.off('change', onChange);
      stopSwarm();
    };
  }

  /** Starts writing groups (the backend has written the whole swarm). */
  start(): void {
    this.#started = true;
    this.#schedule();
  }

  /** Resolves once every change so far is written; rejects if a group could not be. */
  async flush(): Promise<void> {
    while (this.#started && (this.#writing || (this.#dirty.size && !this.#failed))) {
      await (this.#writing ?? this.#write());
    }
    if (this.#failed) throw this.#failed;
  }

  /** Writes what is left and stops listening. */
  async close(): Promise<void> {
    this.#stop();
    await this.flush();
  }

  #changed(key: string): void {
    this.#dirty.add(key);
    this.#schedule();
  }

  /** The next group is written on the next turn: every change of this one goes in it. */
  #schedule(): void {
    if (!this.#started || this.#scheduled || this.#writing || this.#failed || !this.#dirty.size) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#writing && this.#dirty.size) void this.#write();
    });
  }

  /** Writes one group of everything dirty now; when it is done, the next group if more came meanwhile. */
  #write(): Promise<void> {
    const keys = [...this.#dirty];
    this.#dirty.clear();
    const writing = this.#writeGroup(keys).catch((error: unknown) => {
      this.#failed = error as Error;
      this.#stop();
      this.#failedWith(error as Error);
    }).finally(() => {
      this.#writing = undefined;
      this.#schedule();
    });
    this.#writing = writing;
    return writing;
  }
}
