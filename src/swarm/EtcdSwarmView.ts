// A manager's copy of the swarm kept in etcd (EtcdSwarmBackend's records), fed by one watch on the prefix:
// the objects exactly as etcd holds them, in a Store nobody else writes, each watch answer told as one batch.
// It only reads; the leader writes the swarm, through EtcdSwarmBackend.
import { CALL_TIMEOUT_MS } from './EtcdKeyspace.js';
import type { EtcdKeyspace, KeyspaceEntry, KeyspaceEvent, KeyspaceHead, KeyspaceSnapshot, KeyspaceWatchHandle } from './EtcdKeyspace.js';
import { STATE_KEY, isRecordKey } from './EtcdSwarmBackend.js';
import { SWARM_RECORD, recordOf } from './ChangeGroups.js';
import { Store } from './Store.js';
import type { StoreKind, StoreObject } from './Store.js';
import type { SwarmState } from './SwarmState.js';

export interface ViewBatch {
  /**
   * The revision the store was at before the batch, and the one it is at after. `appliesTo` is past the
   * previous batch's `resultsIn` when the revisions between changed no record (the leader key, writes
   * outside the prefix that a sync found the store already showing).
   */
  appliesTo: number;
  resultsIn: number;
  /** The objects that changed (put or deleted: look in the store), each once. */
  changes: { kind: StoreKind; id: string }[];
}

export interface EtcdSwarmViewOptions {
  /** Where a record that cannot be read is said (stderr). */
  log?: (line: string) => void;
}

type KeyChange = Exclude<KeyspaceEvent, { type: 'reset' }>;

interface SyncWaiter {
  head: KeyspaceHead;
  settle(error?: Error): void;
}

export class EtcdSwarmView {
  /** The objects exactly as etcd holds them (Store.mirror etc.; never written by anyone else). */
  readonly store = new Store();
  readonly #keys: EtcdKeyspace;
  readonly #log: (line: string) => void;
  /** Every key under the prefix, record or not, with its mod revision: what a re-list is compared with, and what `sync` counts. */
  readonly #modRevisions = new Map<string, number>();
  #revision: number;
  #swarm: SwarmState['swarm'] | undefined;
  /** The events of one watch answer, applied together in a microtask. */
  #pending: KeyChange[] = [];
  readonly #watch: KeyspaceWatchHandle;
  readonly #batchListeners = new Set<(batch: ViewBatch) => void>();
  readonly #swarmListeners = new Set<() => void>();
  readonly #syncs = new Set<SyncWaiter>();
  #closed = false;

  /** Lists the prefix (one consistent snapshot) into a new Store, then watches from the snapshot's revision + 1. */
  static async open(keys: EtcdKeyspace, options: EtcdSwarmViewOptions = {}): Promise<EtcdSwarmView> {
    return new EtcdSwarmView(keys, await keys.list(), options.log ?? ((line) => console.error(line)));
  }

  private constructor(keys: EtcdKeyspace, snapshot: KeyspaceSnapshot, log: (line: string) => void) {
    this.#keys = keys;
    this.#log = log;
    this.#revision = snapshot.revision;
    const state = snapshot.entries.find((entry) => entry.key === STATE_KEY);
    const index = (state && this.#read(state) as { index?: unknown } | undefined)?.index;
    // The index as the leader had it: deleted objects' versions are in it, which the objects alone may not reach.
    // (Store lets only an empty store be given an index: later state records are not followed, the objects' versions are.)
    this.store.restore(Number.isSafeInteger(index) ? index as number : 0, [], [], []);
    for (const entry of snapshot.entries) this.#apply(entry.key, entry);
    this.#watch = keys.watch(snapshot.revision + 1, (event) => this.#received(event));
  }

  /** The etcd revision the store shows: the snapshot's, then the last delivered batch's. */
  get revision(): number {
    return this.#revision;
  }

  /** The `swarm` record as etcd holds it; undefined while there is none. */
  get swarm(): SwarmState['swarm'] | undefined {
    return this.#swarm;
  }

  /**
   * Calls `listener` once per watch answer that changed a record (state, swarm or an object), and once after
   * a re-list, with the objects that changed; an answer that changed no record (the leader key) advances
   * `revision` and is not told.
   */
  onBatch(listener: (batch: ViewBatch) => void): () => void {
    this.#batchListeners.add(listener);
    return () => this.#batchListeners.delete(listener);
  }

  /** Calls `listener` when the swarm record changed (or appeared, or went). */
  onSwarm(listener: () => void): () => void {
    this.#swarmListeners.add(listener);
    return () => this.#swarmListeners.delete(listener);
  }

  /**
   * Resolves once the store holds everything etcd had committed when this was called: a read after a write
   * sees the write. Rejects when etcd does not answer within the keyspace's call timeout, or the view closes.
   */
  async sync(): Promise<void> {
    if (this.#closed) throw closedError();
    let head: KeyspaceHead;
    try {
      head = await this.#keys.head();
    } catch (error) {
      throw new Error(`etcd did not answer a read of its revision (${(error as Error).message}): the swarm under ${this.#keys.prefix} cannot be read up to date; see that etcd answers`);
    }
    if (this.#closed) throw closedError();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => waiter.settle(new Error(`etcd did not deliver the swarm's changes up to revision ${head.revision} ` +
        `within ${CALL_TIMEOUT_MS} ms (the view shows ${this.#revision}): see that etcd answers`)), CALL_TIMEOUT_MS);
      const waiter: SyncWaiter = {
        head,
        settle: (error) => {
          clearTimeout(timer);
          this.#syncs.delete(waiter);
          if (error) reject(error);
          else resolve();
        },
      };
      this.#syncs.add(waiter);
      this.#settleSyncs();
    });
  }

  /** Ends the watch; no batch is told after this, and a pending `sync` rejects. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.close();
    this.#pending = [];
    for (const waiter of this.#syncs) waiter.settle(closedError());
  }

  #received(event: KeyspaceEvent): void {
    if (event.type === 'reset') return this.#reset(event.snapshot);
    // The watch calls the handler for each event of one answer in a row: the microtask runs after the last.
    if (!this.#pending.length) queueMicrotask(() => this.#flush());
    this.#pending.push(event);
  }

  #flush(): void {
    const events = this.#pending;
    this.#pending = [];
    if (this.#closed || !events.length) return;
    const appliesTo = this.#revision;
    const changed: string[] = [];
    for (const event of events) {
      // Not past what the store showed: a sync found the store already at a later revision (#settleSyncs).
      if (event.modRevision <= appliesTo) continue;
      this.#revision = event.modRevision;
      this.#apply(event.key, event.type === 'put' ? event : undefined);
      changed.push(event.key);
    }
    this.#tell(appliesTo, changed);
  }

  /** History the watch needed was compacted: the store becomes the snapshot, told as the difference. */
  #reset(snapshot: KeyspaceSnapshot): void {
    this.#flush();
    // Not past what the store shows (a sync moved it ahead meanwhile): the store already holds a state that new.
    if (this.#closed || snapshot.revision <= this.#revision) return;
    const appliesTo = this.#revision;
    const listed = new Set(snapshot.entries.map((entry) => entry.key));
    const changed = [...this.#modRevisions.keys()].filter((key) => !listed.has(key));
    for (const key of changed) this.#apply(key, undefined);
    for (const entry of snapshot.entries) {
      if (this.#modRevisions.get(entry.key) === entry.modRevision) continue;
      this.#apply(entry.key, entry);
      changed.push(entry.key);
    }
    this.#revision = snapshot.revision;
    this.#tell(appliesTo, changed);
  }

  /** Applies one key's put (`entry`) or delete; a record that cannot be read leaves what the view had. */
  #apply(key: string, entry: KeyspaceEntry | undefined): void {
    if (entry) this.#modRevisions.set(key, entry.modRevision);
    else this.#modRevisions.delete(key);
    if (!isRecordKey(key) || key === STATE_KEY) return;
    const record = recordOf(key);
    const value = entry && this.#read(entry, record === SWARM_RECORD ? undefined : record.id);
    if (entry && !value) return;
    if (record === SWARM_RECORD) this.#swarm = value as SwarmState['swarm'] | undefined;
    else if (value) this.store.mirror(record.kind, value as StoreObject);
    else this.store.delete(record.kind, record.id);
  }

  /** The record's JSON object, or undefined, said with its key, when it is not what it should be (each value is read once). */
  #read(entry: KeyspaceEntry, id?: string): object | undefined {
    const value = parsed(entry.value) as { ID?: unknown; Version?: { Index?: unknown } } | null | undefined;
    if (typeof value === 'object' && value !== null && (id === undefined || (value.ID === id && typeof value.Version?.Index === 'number'))) return value;
    this.#log(`swarm view: the record ${entry.key} in etcd (under ${this.#keys.prefix}, revision ${entry.modRevision}) is not ` +
      `${id === undefined ? 'a JSON object' : `an object with the ID ${id} and a version`}: it is skipped, and the copy keeps what it had`);
    return undefined;
  }

  /** Tells the listeners what the keys `changed` (in etcd's order, a key maybe more than once) did to the view. */
  #tell(appliesTo: number, changed: string[]): void {
    const records = new Set(changed.filter(isRecordKey));
    if (records.size) {
      const objects = [...records].filter((key) => key !== STATE_KEY && key !== SWARM_RECORD);
      const batch: ViewBatch = { appliesTo, resultsIn: this.#revision, changes: objects.map((key) => recordOf(key) as { kind: StoreKind; id: string }) };
      for (const listener of this.#batchListeners) listener(batch);
    }
    if (records.has(SWARM_RECORD)) for (const listener of this.#swarmListeners) listener();
    this.#settleSyncs();
  }

  /**
   * Resolves the syncs the store has caught up with. The watch delivers only changes under the prefix, so
   * etcd's revision may be past the last of them (writes elsewhere), and the newest change may be a delete,
   * which a read cannot see. The store shows etcd's revision R once it holds every key at R as it is (it is
   * at or past the newest mod revision there) and no other (the same count): the changes between the
   * store's revision and R then come to nothing (a key made and deleted again), and #flush skips them.
   * (A watch progress request would say this directly, but etcd 3.4 answers one out of order with the
   * events still queued for the watch: it can say a revision whose events have not come yet.)
   */
  #settleSyncs(): void {
    for (const waiter of this.#syncs) {
      const { revision, keyCount, newestModRevision } = waiter.head;
      if (this.#revision < revision && this.#revision >= newestModRevision && this.#modRevisions.size === keyCount) this.#revision = revision;
      if (this.#revision >= revision) waiter.settle();
    }
  }
}

function parsed(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

const closedError = () => new Error('the swarm view is closed');
