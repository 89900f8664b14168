// A swarm kept in etcd (the counterpart of SwarmDataDir), through an EtcdKeyspace. One key per record, so a
// change writes only what changed. Under the keyspace's prefix:
//   state                  {"format":1,"index":N}: SwarmState's format and the store's index, written with every change
//   swarm                  SwarmState.swarm (IDs, spec, CA with its key, token secrets)
//   <kind>/<ID>            one store object, as the Store holds it: node/, service/, task/, network/, secret/, config/
// Any other key under the prefix (the leader key) is not this backend's: it neither reads nor deletes it.
// Writes are fenced when a fence is given: a deposed leader's are refused, said through `onRefused`.
import type { EtcdKeyspace, Fence, KeyspaceWrite } from './EtcdKeyspace.js';
import type { SwarmBackend, SwarmPersistence, SwarmSource } from './SwarmBackend.js';
import { ChangeGroups, SWARM_RECORD, recordOf } from './ChangeGroups.js';
import type { StoreKind } from './Store.js';
import { SWARM_STATE_FORMAT, checkSwarmState } from './SwarmState.js';
import type { SwarmState } from './SwarmState.js';

export interface EtcdSwarmBackendOptions {
  /**
   * What each write is fenced with (EtcdLeadership's `fence`). When given, a write is made only while it
   * returns a fence that etcd still holds; otherwise it is refused.
   */
  fence?: () => Fence | undefined;
  /** Called with the keys of writes that were refused (this manager no longer leads); they are dropped. */
  onRefused?: (keys: string[]) => void;
  /** Called once when a write failed (etcd did not answer): the changes from then on are not followed. */
  onFailed?: (error: Error) => void;
  /** Where a failed write is said (stderr). */
  log?: (line: string) => void;
}

/** The header record: the format and the store's index. */
export const STATE_KEY = 'state';
const KINDS: readonly StoreKind[] = ['node', 'service', 'task', 'network', 'secret', 'config', 'fault'];
// etcd refuses a transaction of more operations than its --max-txn-ops, 128 by default.
const MAX_TXN_OPS = 128;

type StateLists = Pick<SwarmState, 'nodes' | 'services' | 'tasks' | 'networks' | 'secrets' | 'configs' | 'faults'>;
const listOf = (kind: StoreKind) => `${kind}s` as keyof StateLists;

/** Whether `key` (under the prefix) is one of the swarm's records: `state`, `swarm` or `<kind>/<ID>`. */
export function isRecordKey(key: string): boolean {
  if (key === STATE_KEY || key === SWARM_RECORD) return true;
  const slash = key.indexOf('/');
  return slash > 0 && slash < key.length - 1 && KINDS.includes(key.slice(0, slash) as StoreKind);
}

export class EtcdSwarmBackend implements SwarmBackend {
  readonly #keys: EtcdKeyspace;
  readonly #options: EtcdSwarmBackendOptions;
  readonly #log: (line: string) => void;

  constructor(keys: EtcdKeyspace, options: EtcdSwarmBackendOptions = {}) {
    this.#keys = keys;
    this.#options = options;
    this.#log = options.log ?? ((line) => console.error(line));
  }

  /** The swarm kept in etcd, or undefined when none is; throws an Error saying what to do if a record is damaged. */
  async load(): Promise<SwarmState | undefined> {
    const records = (await this.#keys.list()).entries.filter((entry) => isRecordKey(entry.key));
    if (!records.length) return undefined;
    const lists: Required<StateLists> = { nodes: [], services: [], tasks: [], networks: [], secrets: [], configs: [], faults: [] };
    let header: { format?: unknown; index?: unknown } | undefined;
    let swarm: SwarmState['swarm'] | undefined;
    for (const { key, value } of records) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        throw this.#damaged(key, 'it is not JSON');
      }
      if (key === STATE_KEY) header = parsed as typeof header;
      else if (key === SWARM_RECORD) swarm = parsed as SwarmState['swarm'];
      else {
        const { kind, id } = recordOf(key) as { kind: StoreKind; id: string };
        if ((parsed as { ID?: unknown } | null)?.ID !== id) throw this.#damaged(key, `it is not an object with the ID ${id}`);
        (lists[listOf(kind)] as unknown[]).push(parsed);
      }
    }
    if (!header || !swarm) {
      throw this.#damaged(header ? SWARM_RECORD : STATE_KEY, `it is missing, while ${records.length} other records of the swarm are there`);
    }
    try {
      return checkSwarmState({ format: header.format, swarm, index: header.index, ...lists });
    } catch (error) {
      throw this.#damaged(`${STATE_KEY} or ${SWARM_RECORD}`, (error as Error).message);
    }
  }

  /** Writes the whole swarm (replacing what etcd held), then every change of `source` from then on. */
  async persist(source: SwarmSource): Promise<SwarmPersistence> {
    // Subscribed before the state is exported, so no change falls between the two (a change in both is harmless).
    const follower = new ChangeGroups(source, (keys) => this.#writeChanges(source, keys), (error) => {
      if (this.#options.onFailed) return this.#options.onFailed(error);
      this.#log(`swarm data: writing to etcd failed, and changes from now on will be lost at a restart ` +
        `(${error.message}): see that etcd answers, then restart routemesh`);
    });
    try {
      await this.#writeWhole(source.exportState());
    } catch (error) {
      await follower.close();
      throw error;
    }
    follower.start();
    return follower;
  }

  /** Deletes every record of the swarm (fenced like any write); throws when etcd refused it. */
  async remove(): Promise<void> {
    const records = (await this.#keys.list()).entries.filter((entry) => isRecordKey(entry.key));
    const applied = await this.#write(records.map(({ key }) => ({ type: 'delete', key })));
    if (!applied) throw new Error('etcd refused to remove the swarm: this manager no longer leads it');
  }

  async #writeWhole(state: SwarmState): Promise<void> {
    const puts: KeyspaceWrite[] = [{ type: 'put', key: SWARM_RECORD, value: JSON.stringify(state.swarm) }];
    for (const kind of KINDS) {
      for (const object of state[listOf(kind)] ?? []) puts.push({ type: 'put', key: `${kind}/${object.ID}`, value: JSON.stringify(object) });
    }
    const kept = new Set(puts.map((write) => write.key));
    const stale = (await this.#keys.list()).entries
      .filter((entry) => isRecordKey(entry.key) && entry.key !== STATE_KEY && !kept.has(entry.key))
      .map(({ key }): KeyspaceWrite => ({ type: 'delete', key }));
    // The header last: a first write cut off before it is refused at load (header missing), not half-loaded.
    // A replacing write cut off midway is not caught: old and new records stay side by side under the old
    // header (a swarm of more than 128 records cannot be replaced in one transaction).
    await this.#write([...puts, ...stale, stateWrite(state.index)]);
  }

  /**
   * Writes `writes` in transactions of at most etcd's limit, each fenced; at the first refused one, the
   * rest are not tried and all their keys go to `onRefused`. Resolves with whether every write was made.
   */
  async #write(writes: KeyspaceWrite[]): Promise<boolean> {
    for (let at = 0; at < writes.length; at += MAX_TXN_OPS) {
      const fence = this.#options.fence?.();
      const applied = this.#options.fence && !fence ? false : (await this.#keys.writeIf(fence, writes.slice(at, at + MAX_TXN_OPS))).applied;
      if (!applied) {
        this.#options.onRefused?.(writes.slice(at).map((write) => write.key));
        return false;
      }
    }
    return true;
  }

  /** A group of changes (ChangeGroups), each record as it is now or its deletion, with the header; a refused write is `onRefused`'s. */
  async #writeChanges(source: SwarmSource, keys: string[]): Promise<void> {
    const writes = keys.map((key): KeyspaceWrite => {
      const changed = recordOf(key);
      if (changed === SWARM_RECORD) return { type: 'put', key, value: JSON.stringify(source.exportSwarm()) };
      const object = source.store.object(changed.kind, changed.id);
      return object ? { type: 'put', key, value: JSON.stringify(object) } : { type: 'delete', key };
    });
    await this.#write([...writes, stateWrite(source.store.index)]);
  }

  #damaged(key: string, what: string): Error {
    return new Error(`the swarm's record ${key} in etcd (under the prefix ${this.#keys.prefix}) is damaged: ${what}. routemesh will ` +
      'not start a half-restored swarm: restore etcd from a copy (etcdctl snapshot restore), or start over (loses the swarm) ' +
      `by deleting every key under ${this.#keys.prefix}`);
  }
}

const stateWrite = (index: number): KeyspaceWrite =>
  ({ type: 'put', key: STATE_KEY, value: JSON.stringify({ format: SWARM_STATE_FORMAT, index }) });
