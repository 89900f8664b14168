// Writes every durable change of a manager to its data directory as it happens: each group of changes
// (ChangeGroups: one turn of the event loop) as one journal record with one fdatasync, and a new snapshot
// once the journal has grown past a limit.
import type { FileHandle } from 'node:fs/promises';
import type { SwarmSource } from './SwarmBackend.js';
import { ChangeGroups, SWARM_RECORD, recordOf } from './ChangeGroups.js';
import { newObjectId } from './ids.js';
import { record, writeSnapshot } from './swarmFiles.js';
import type { JournalChange } from './swarmFiles.js';

export interface JournalLimits {
  /** A new snapshot once the journal holds more bytes than this (4 MiB)... */
  compactBytes?: number;
  /** ...or more changes than this (10,000). */
  compactChanges?: number;
}

export class SwarmJournal {
  readonly #manager: SwarmSource;
  readonly #dir: string;
  readonly #compactBytes: number;
  readonly #compactChanges: number;
  readonly #groups: ChangeGroups;
  /** Unset until `start`: changes made meanwhile wait. */
  #file: FileHandle | undefined;
  #bytes = 0;
  #changes = 0;

  /** Listens from now on; use `SwarmDataDir.persist`, which writes the first snapshot and then starts it. */
  constructor(manager: SwarmSource, dir: string, log: (line: string) => void, limits: JournalLimits = {}) {
    this.#manager = manager;
    this.#dir = dir;
    this.#compactBytes = limits.compactBytes ?? 4 * 1024 * 1024;
    this.#compactChanges = limits.compactChanges ?? 10_000;
    this.#groups = new ChangeGroups(manager, (keys) => this.#writeGroup(keys), (error) => log(
      `swarm data: writing ${dir} failed, and changes from now on will be lost at a restart ` +
      `(${error.message}): free space or fix its permissions, then restart routemesh with the same --data-dir`));
  }

  /** Starts writing to `journal` (opened for appending after the snapshot its header names). */
  start(journal: FileHandle): void {
    this.#file = journal;
    this.#groups.start();
  }

  /** Resolves once every change so far is on disk (synced); rejects if the journal could not be written. */
  flush(): Promise<void> {
    return this.#groups.flush();
  }

  /** Writes what is left and stops listening. */
  async close(): Promise<void> {
    try {
      await this.#groups.close();
    } finally {
      await this.#file?.close();
    }
  }

  /** One journal record with one fdatasync for a group of changes. */
  async #writeGroup(keys: string[]): Promise<void> {
    const changes = keys.map((key) => this.#change(key));
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
    const changed = recordOf(key);
    if (changed === SWARM_RECORD) return { swarm: this.#manager.exportSwarm() };
    const object = this.#manager.store.object(changed.kind, changed.id);
    if (!object) return { delete: changed.kind, id: changed.id };
    return { put: changed.kind, object } as JournalChange;
  }
}
