// Writes every durable change of a manager to its data directory as it happens: the changes of one turn
// of the event loop as one journal record with one fdatasync (group commit; changes that come while a
// write is in flight go in the next one), and a new snapshot once the journal has grown past a limit.
import type { FileHandle } from 'node:fs/promises';
import type { SwarmSource } from './SwarmBackend.js';
import type { StoreChange, StoreKind } from './Store.js';
import { newObjectId } from './ids.js';
import { record, writeSnapshot } from './swarmFiles.js';
import type { JournalChange } from './swarmFiles.js';

export interface JournalLimits {
  /** A new snapshot once the journal holds more bytes than this (4 MiB)... */
  compactBytes?: number;
  /** ...or more changes than this (10,000). */
  compactChanges?: number;
}

const SWARM = 'swarm';

export class SwarmJournal {
  readonly #manager: SwarmSource;
  readonly #dir: string;
  readonly #log: (line: string) => void;
  readonly #compactBytes: number;
  readonly #compactChanges: number;
  /** Unset until `start`: changes made meanwhile wait, dirty. */
  #file: FileHandle | undefined;
  /** What changed since the last write: `kind:id` keys (whose object is read as it is then), or the swarm. */
  #dirty = new Set<string>();
  #bytes = 0;
  #changes = 0;
  #scheduled = false;
  #writing: Promise<void> | undefined;
  #failed: Error | undefined;
  #stop: () => void;

  /** Listens from now on; use `SwarmDataDir.persist`, which writes the first snapshot and then starts it. */
  constructor(manager: SwarmSource, dir: string, log: (line: string) => void, limits: JournalLimits = {}) {
    this.#manager = manager;
    this.#dir = dir;
    this.#log = log;
    this.#compactBytes = limits.compactBytes ?? 4 * 1024 * 1024;
    this.#compactChanges = limits.compactChanges ?? 10_000;
    const onChange = (change: StoreChange) => this.#changed(`${change.kind}:${change.id}`);
    manager.store.on('change', onChange);
    const stopSwarm = manager.onSwarmChanged(() => this.#changed(SWARM));
    this.#stop = () => {
      manager.store.off('change', onChange);
      stopSwarm();
    };
  }

  /** Starts writing to `journal` (opened for appending after the snapshot its header names). */
  start(journal: FileHandle): void {
    this.#file = journal;
    this.#schedule();
  }

  /** Resolves once every change so far is on disk (synced); rejects if the journal could not be written. */
  async flush(): Promise<void> {
    while (this.#file && (this.#writing || (this.#dirty.size && !this.#failed))) {
      await (this.#writing ?? this.#write());
    }
    if (this.#failed) throw this.#failed;
  }

  /** Writes what is left and stops listening. */
  async close(): Promise<void> {
    this.#stop();
    try {
      await this.flush();
    } finally {
      await this.#file?.close();
    }
  }

  #changed(key: string): void {
    this.#dirty.add(key);
    this.#schedule();
  }

  /** The next group is written on the next turn: every change of this one goes in it. */
  #schedule(): void {
    if (!this.#file || this.#scheduled || this.#writing || this.#failed || !this.#dirty.size) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#writing && this.#dirty.size) void this.#write();
    });
  }

  /** Writes one group of everything dirty now; when it is done, the next group if more came meanwhile. */
  #write(): Promise<void> {
    const writing = this.#writeGroup().catch((error: unknown) => {
      // A journal with a write missing would replay into a half-state: nothing more is written to it.
      this.#failed = error as Error;
      this.#stop();
      this.#log(`swarm data: writing ${this.#dir} failed, and changes from now on will be lost at a restart ` +
        `(${(error as Error).message}): free space or fix its permissions, then restart routemesh with the same --data-dir`);
    }).finally(() => {
      this.#writing = undefined;
      this.#schedule();
    });
    this.#writing = writing;
    return writing;
  }

  async #writeGroup(): Promise<void> {
    const changes = [...this.#dirty].map((key) => this.#change(key));
    this.#dirty.clear();
    const bytes = record({ index: this.#manager.store.index, changes });
    await this.#file!.write(bytes);
    await this.#file!.datasync();
    this.#bytes += bytes.length;
    this.#changes += changes.length;
    if (this.#bytes > this.#compactBytes || this.#changes > this.#compactChanges) await this.#compact();
  }

  /** A new snapshot of the whole swarm, and an empty journal after it. */
  async #compact(): Promise<void> {
    // Changes made while the snapshot is written are in it and stay dirty: the new journal gets them again.
    const journal = await writeSnapshot(this.#dir, newObjectId(), this.#manager.exportState());
    await this.#file!.close();
    this.#file = journal;
    this.#bytes = 0;
    this.#changes = 0;
  }

  #change(key: string): JournalChange {
    if (key === SWARM) return { swarm: this.#manager.exportSwarm() };
    const [kind, id] = key.split(':') as [StoreKind, string];
    const object = this.#manager.store.object(kind, id);
    if (!object) return { delete: kind, id };
    return { put: kind, object } as JournalChange;
  }
}
