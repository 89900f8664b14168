// A manager's data directory (`--data-dir`): where its swarm outlives the process. `load` reads the swarm
// back (snapshot, then the journal after it); `persist` writes a fresh snapshot and journals every change
// from then on. A crash mid-write loses at most the last write, said so; any other damage is refused with
// what to do, never loaded as a half-state.
import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SwarmBackend, SwarmSource } from './SwarmBackend.js';
import { checkSwarmState } from './SwarmState.js';
import type { SwarmState } from './SwarmState.js';
import { readFrames } from './recordFrames.js';
import { DIRECTORY_MODE, JOURNAL_FILE, SNAPSHOT_FILE, replay, writeSnapshot } from './swarmFiles.js';
import type { JournalGroup, JournalHeader, SnapshotRecord } from './swarmFiles.js';
import { SwarmJournal } from './SwarmJournal.js';
import type { JournalLimits } from './SwarmJournal.js';
import { newObjectId } from './ids.js';

export interface SwarmDataDirOptions extends JournalLimits {
  /** Where a dropped torn write or a left-over journal is said (stderr). */
  log?: (line: string) => void;
}

export class SwarmDataDir implements SwarmBackend {
  readonly dir: string;
  readonly #options: SwarmDataDirOptions;
  readonly #log: (line: string) => void;

  constructor(dir: string, options: SwarmDataDirOptions = {}) {
    this.dir = dir;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
  }

  /** The swarm stored here, or undefined when none is; throws an Error saying what to do if it is damaged. */
  async load(): Promise<SwarmState | undefined> {
    const snapshotBytes = await this.#read(SNAPSHOT_FILE);
    const journalBytes = await this.#read(JOURNAL_FILE);
    if (!snapshotBytes) {
      if (journalBytes) throw this.#damaged(JOURNAL_FILE, 'there is a journal but no snapshot for it to follow');
      return undefined;
    }
    const snapshot = this.#records(SNAPSHOT_FILE, snapshotBytes, false)[0] as SnapshotRecord | undefined;
    let state: SwarmState;
    try {
      state = checkSwarmState(snapshot?.state);
    } catch (error) {
      throw this.#damaged(SNAPSHOT_FILE, (error as Error).message);
    }
    if (!journalBytes) return state;
    const [header, ...groups] = this.#records(JOURNAL_FILE, journalBytes, true) as [JournalHeader | undefined, ...JournalGroup[]];
    if (header?.snapshot !== snapshot!.snapshot) {
      // The crash came after a new snapshot was in place and before its journal was: the old journal's
      // changes are all in that snapshot.
      this.#log(`swarm data: ${join(this.dir, JOURNAL_FILE)} is left from before the last snapshot (a restart while one was written): ` +
        'its changes are in the snapshot, so it is not replayed');
      return state;
    }
    if (groups.some((group) => !Number.isSafeInteger(group?.index) || !Array.isArray(group.changes))) {
      throw this.#damaged(JOURNAL_FILE, 'a record is not a group of changes');
    }
    return replay(state, groups);
  }

  /**
   * Writes the manager's swarm as a new snapshot (the directory made owner-only), then journals every
   * change from then on. `close()` writes what is left; `flush()` waits until every change so far is synced.
   */
  async persist(manager: SwarmSource): Promise<SwarmJournal> {
    await mkdir(this.dir, { recursive: true, mode: DIRECTORY_MODE });
    await chmod(this.dir, DIRECTORY_MODE);
    // Subscribed before the snapshot is taken, so no change falls between the two (a change in both is harmless).
    const journal = new SwarmJournal(manager, this.dir, this.#log, this.#options);
    try {
      journal.start(await writeSnapshot(this.dir, newObjectId(), manager.exportState()));
    } catch (error) {
      await journal.close();
      throw error;
    }
    return journal;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  async #read(name: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.dir, name));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** The file's records, parsed; a torn last write is dropped (and said) only where `tornOk`. */
  #records(name: string, bytes: Buffer, tornOk: boolean): unknown[] {
    let frames;
    try {
      frames = readFrames(bytes);
    } catch (error) {
      throw this.#damaged(name, `it holds ${(error as Error).message}`);
    }
    if (frames.tornBytes) {
      if (!tornOk) throw this.#damaged(name, `its last ${frames.tornBytes} bytes are not a whole record that passes its CRC-32 check`);
      this.#log(`swarm data: ${join(this.dir, name)} ends with ${frames.tornBytes} bytes of a record cut off mid-write ` +
        '(the process stopped while writing it): dropped them; the changes of that last write are lost');
    }
    return frames.payloads.map((payload, i) => {
      try {
        return JSON.parse(payload.toString('utf8')) as unknown;
      } catch {
        throw this.#damaged(name, `its record ${i + 1} is not JSON`);
      }
    });
  }

  #damaged(name: string, what: string): Error {
    return new Error(`the swarm's data in ${join(this.dir, name)} is damaged: ${what}. routemesh will not start a half-restored ` +
      `swarm: restore a copy of ${this.dir}, or start over (loses the swarm) with routemesh up --fresh, which removes every node's data ` +
      `(for routemesh node start, remove ${dirname(this.dir)})`);
  }
}
