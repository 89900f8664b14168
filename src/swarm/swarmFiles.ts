// The files of a swarm's data directory and what their records hold. `snapshot`: one record, the whole
// SwarmState, replaced atomically (temp file, fsync, rename, directory fsync). `journal`: a header naming the
// snapshot it follows, then one record per group of changes, each change the object as it is after it (or
// its deletion), so replaying a group twice changes nothing. Owner-only: the CA's key is in them.
import { open, rename } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Service, SwarmNode, Task } from './model.js';
import type { PlainKind, PlainObjects, StoreKind } from './Store.js';
import { PLAIN_KINDS } from './Store.js';
import type { SwarmState } from './SwarmState.js';
import { frame } from './recordFrames.js';

export const SNAPSHOT_FILE = 'snapshot';
export const JOURNAL_FILE = 'journal';
export const FILE_MODE = 0o600;
export const DIRECTORY_MODE = 0o700;

export interface SnapshotRecord {
  /** A new ID for each snapshot: the journal names the one it follows. */
  snapshot: string;
  state: SwarmState;
}

export interface JournalHeader {
  journal: 1;
  snapshot: string;
}

export type JournalChange =
  | { put: 'node'; object: SwarmNode }
  | { put: 'service'; object: Service }
  | { put: 'task'; object: Task }
  | { [K in PlainKind]: { put: K; object: PlainObjects[K] } }[PlainKind]
  | { delete: StoreKind; id: string }
  | { swarm: SwarmState['swarm'] };

/** The changes of one turn of the event loop, written (and synced) together. */
export interface JournalGroup {
  /** The store's index after them. */
  index: number;
  changes: JournalChange[];
}

export function record(value: SnapshotRecord | JournalHeader | JournalGroup): Buffer {
  return frame(Buffer.from(JSON.stringify(value)));
}

/** Replaces `name` in `dir` with `bytes` so that a crash at any point leaves either the old file or the new one. */
export async function replaceFile(dir: string, name: string, bytes: Buffer): Promise<void> {
  const temp = join(dir, `${name}.tmp`);
  const file = await open(temp, 'w', FILE_MODE);
  try {
    await file.writeFile(bytes);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, join(dir, name));
  await syncDirectory(dir);
}

/** Makes a rename in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `state` as the snapshot and starts an empty journal after it; returns the journal, open for appending. */
export async function writeSnapshot(dir: string, id: string, state: SwarmState): Promise<FileHandle> {
  await replaceFile(dir, SNAPSHOT_FILE, record({ snapshot: id, state }));
  // A crash here leaves the old journal, which names the old snapshot: a load leaves it out.
  await replaceFile(dir, JOURNAL_FILE, record({ journal: 1, snapshot: id }));
  return open(join(dir, JOURNAL_FILE), 'a', FILE_MODE);
}

/** The state a snapshot's state and the journal's groups after it make, in order. */
export function replay(snapshot: SwarmState, groups: readonly JournalGroup[]): SwarmState {
  const byId = <T extends { ID: string }>(objects: T[]) => new Map(objects.map((object) => [object.ID, object]));
  const nodes = byId(snapshot.nodes);
  const services = byId(snapshot.services);
  const tasks = byId(snapshot.tasks);
  const plain = Object.fromEntries(PLAIN_KINDS.map((kind) => [kind, byId<{ ID: string }>(snapshot[`${kind}s`] ?? [])])) as Record<PlainKind, Map<string, { ID: string }>>;
  const maps: Record<StoreKind, Map<string, unknown>> = { node: nodes, service: services, task: tasks, ...plain };
  let { swarm, index } = snapshot;
  for (const group of groups) {
    for (const change of group.changes) {
      if ('swarm' in change) swarm = change.swarm;
      else if ('delete' in change) maps[change.delete].delete(change.id);
      else maps[change.put].set(change.object.ID, change.object);
    }
    index = group.index;
  }
  const lists = Object.fromEntries(PLAIN_KINDS.map((kind) => [`${kind}s`, [...plain[kind].values()]]));
  return { ...snapshot, swarm, index, nodes: [...nodes.values()], services: [...services.values()], tasks: [...tasks.values()], ...lists };
}
