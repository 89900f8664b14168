// The swarm's keys under one prefix in etcd, and the only place routemesh talks to etcd: a consistent
// list, etcd's revision read linearizably (`head`, for a read after a write), a watch that delivers every
// change once and in order however the connection breaks or history is compacted, writes fenced by
// leadership, and the leases and create-if-absent that leadership is won with. What the keys mean is the
// Store's business, not this file's.
import type { Etcd3, IDuplexStream, IKeyValue, IRequestOp, IWatchRequest, IWatchResponse } from 'etcd3';

/** A key under the prefix (the prefix removed) and its value, as etcd holds it. */
export interface KeyspaceEntry {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
}

/** Every key under the prefix, read at one revision. */
export interface KeyspaceSnapshot {
  revision: number;
  entries: KeyspaceEntry[];
}

/** etcd's current revision, and the prefix's keys at it: how many, and the newest change among them. */
export interface KeyspaceHead {
  revision: number;
  keyCount: number;
  /** The highest mod revision of a key under the prefix (0 when there is none): a delete leaves no trace here. */
  newestModRevision: number;
}

/** A watch's deliveries: a change, or (after history the watch needed was compacted) the whole keyspace again. */
export type KeyspaceEvent =
  | ({ type: 'put' } & KeyspaceEntry)
  | { type: 'delete'; key: string; modRevision: number }
  | { type: 'reset'; snapshot: KeyspaceSnapshot };

export type KeyspaceWrite = { type: 'put'; key: string; value: string } | { type: 'delete'; key: string };

/** The key whose creation made its writer leader: while it keeps that create revision, the writer leads. */
export interface Fence {
  key: string;
  createRevision: number;
}

/** An etcd lease's id (a 64-bit number, as etcd3 hands it over). */
export type LeaseId = string;

/** What `createIfAbsent` found: the key as it now is, and whether this call created it. */
export interface CreateOutcome {
  created: boolean;
  holder: KeyspaceEntry & { lease: LeaseId };
  /** The store's revision the outcome was read at: a watch from the next one misses nothing. */
  revision: number;
}

/** Stops a watch. */
export interface KeyspaceWatchHandle {
  close(): void;
}

export interface EtcdKeyspaceOptions {
  /** `host:port` of each etcd member. */
  endpoints: string[];
  /** Where the swarm's keys live, e.g. `/routemesh/<swarm id>/`. */
  prefix: string;
}

// A list reads this many keys a response: gRPC refuses a message over 4 MiB, which a few thousand tasks
// of ~1 kB would pass in one.
const LIST_PAGE = 500;
// A call to an etcd that answers nothing must fail (the caller decides what then), not hang a manager.
export const CALL_TIMEOUT_MS = 5_000;
// How soon a member etcd3 stopped using after failed calls is tried again.
const MEMBER_RETRY_MS = 500;
// How soon a broken watch is opened again, doubling up to the last while etcd stays away.
const REOPEN_DELAYS_MS = [50, 100, 200, 400, 800, 1_600];

export class EtcdKeyspace {
  readonly #options: EtcdKeyspaceOptions;
  readonly #prefix: Buffer;
  // Loading etcd3 (gRPC and its protobufs) costs ~250 ms and ~15 MB: only managers that use etcd pay.
  #client: Promise<Etcd3> | undefined;
  readonly #watches = new Set<KeyspaceWatch>();
  #closed = false;

  constructor(options: EtcdKeyspaceOptions) {
    this.#options = options;
    this.#prefix = Buffer.from(options.prefix);
  }

  /** Where the swarm's keys live (for messages that tell an operator where to look). */
  get prefix(): string {
    return this.#options.prefix;
  }

  /** Every key under the prefix, all read at the same revision (a paged read pins the first page's). */
  async list(): Promise<KeyspaceSnapshot> {
    const client = await this.#connect();
    const end = prefixEnd(this.#prefix);
    const entries: KeyspaceEntry[] = [];
    let revision = 0;
    let from = this.#prefix;
    for (;;) {
      const page = await client.kv.range({ key: from, range_end: end, limit: LIST_PAGE, revision });
      if (revision === 0) revision = Number(page.header.revision);
      for (const kv of page.kvs) entries.push(this.#entry(kv));
      if (!page.more) return { revision, entries };
      from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /**
   * etcd's current revision, read linearizably (a read after any committed write sees it), with the prefix's
   * key count and newest mod revision at that revision: one range, sorted by mod revision, of one key
   * (etcd reads the whole prefix to sort it, on its side: one key comes back).
   */
  async head(): Promise<KeyspaceHead> {
    const client = await this.#connect();
    const answer = await client.kv.range({
      key: this.#prefix, range_end: prefixEnd(this.#prefix), sort_order: 'Descend', sort_target: 'Mod', limit: 1, keys_only: true,
    });
    return { revision: Number(answer.header.revision), keyCount: Number(answer.count), newestModRevision: Number(answer.kvs[0]?.mod_revision ?? 0) };
  }

  /**
   * Delivers every put and delete under the prefix from `fromRevision` on, in revision order, each once,
   * until `close()`. When the history it needs was compacted away, it hands `handler` a 'reset' with the
   * whole keyspace instead, and goes on after it. `handler` is called synchronously and must not throw.
   */
  watch(fromRevision: number, handler: (event: KeyspaceEvent) => void): KeyspaceWatchHandle {
    return this.#watch({
      openStream: (startRevision) => this.#openStream(startRevision, this.#prefix, prefixEnd(this.#prefix)),
      event: (type, kv) => this.#event(type, kv),
      list: () => this.list(),
    }, fromRevision, handler);
  }

  /** As `watch`, for the one key `name`: a 'reset' holds that key alone, or nothing when it is absent. */
  watchKey(name: string, fromRevision: number, handler: (event: KeyspaceEvent) => void): KeyspaceWatchHandle {
    return this.#watch({
      openStream: (startRevision) => this.#openStream(startRevision, this.#key(name)),
      event: (type, kv) => this.#event(type, kv),
      list: () => this.#get(name),
    }, fromRevision, handler);
  }

  /** Creates `name` bound to `lease` if it is absent, in one transaction; otherwise reads who holds it. */
  async createIfAbsent(name: string, value: string, lease: LeaseId): Promise<CreateOutcome> {
    const client = await this.#connect();
    const key = this.#key(name);
    const answer = await client.kv.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key, value: Buffer.from(value), lease } }, { request_range: { key } }],
      failure: [{ request_range: { key } }],
    });
    const kv = answer.responses[answer.responses.length - 1]!.response_range.kvs[0]!;
    return { created: answer.succeeded, holder: { ...this.#entry(kv), lease: String(kv.lease) }, revision: Number(answer.header.revision) };
  }

  /** A new lease of `ttlSeconds`, which ends unless `keepLeaseAlive` renews it in time. */
  async grantLease(ttlSeconds: number): Promise<LeaseId> {
    const client = await this.#connect();
    return (await client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 })).ID;
  }

  /**
   * Renews `lease` once; resolves with the seconds it now has (0 when it had already ended), or rejects
   * when etcd does not answer within `timeoutMs` (a keep-alive is a stream, which gets no call deadline).
   */
  async keepLeaseAlive(lease: LeaseId, timeoutMs: number): Promise<number> {
    const client = await this.#connect();
    const opening = client.leaseClient.leaseKeepAlive();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<number>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`etcd did not renew lease ${lease} within ${timeoutMs} ms`)), timeoutMs);
        opening.then((stream) => {
          stream.on('data', (answer) => resolve(Number(answer.TTL)));
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('the keep-alive stream ended')));
          stream.write({ ID: lease });
        }, reject);
      });
    } finally {
      clearTimeout(timer);
      // Canceling makes gRPC emit an error, which the listener above takes (and a settled promise ignores).
      void opening.then((stream) => stream.cancel(), () => undefined);
    }
  }

  /** Ends `lease` now, deleting the keys bound to it. */
  async revokeLease(lease: LeaseId): Promise<void> {
    const client = await this.#connect();
    await client.leaseClient.leaseRevoke({ ID: lease });
  }

  /**
   * Applies `writes` in one transaction if `fence` (when given) still holds: a deposed leader's fence key
   * was deleted or made again by another, so its create revision no longer matches and nothing is written.
   * `revision` is the store's revision after the transaction (the writes' mod revision when applied).
   */
  async writeIf(fence: Fence | undefined, writes: KeyspaceWrite[]): Promise<{ applied: boolean; revision: number }> {
    const client = await this.#connect();
    const compare = fence ? [{ key: this.#key(fence.key), target: 'Create' as const, result: 'Equal' as const, create_revision: fence.createRevision }] : [];
    const success = writes.map((write): IRequestOp => write.type === 'put'
      ? { request_put: { key: this.#key(write.key), value: Buffer.from(write.value) } }
      : { request_delete_range: { key: this.#key(write.key) } });
    const answer = await client.kv.txn({ compare, success });
    return { applied: answer.succeeded, revision: Number(answer.header.revision) };
  }

  /** Ends every watch and the connection to etcd. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const watch of this.#watches) watch.close();
    this.#watches.clear();
    if (this.#client) (await this.#client).close();
  }

  #watch(source: WatchSource, fromRevision: number, handler: (event: KeyspaceEvent) => void): KeyspaceWatchHandle {
    if (this.#closed) throw new Error('the etcd keyspace is closed');
    const watch = new KeyspaceWatch(source, fromRevision, handler);
    this.#watches.add(watch);
    watch.open();
    return { close: () => { watch.close(); this.#watches.delete(watch); } };
  }

  async #get(name: string): Promise<KeyspaceSnapshot> {
    const client = await this.#connect();
    const answer = await client.kv.range({ key: this.#key(name) });
    return { revision: Number(answer.header.revision), entries: answer.kvs.map((kv) => this.#entry(kv)) };
  }

  async #openStream(startRevision: number, key: Buffer, rangeEnd?: Buffer): Promise<WatchStream> {
    const client = await this.#connect();
    const stream = await client.watchClient.watch();
    stream.write({ create_request: { key, ...(rangeEnd ? { range_end: rangeEnd } : {}), start_revision: startRevision } });
    return stream;
  }

  #event(type: 'Put' | 'Delete', kv: IKeyValue): KeyspaceEvent {
    return type === 'Put' ? { type: 'put', ...this.#entry(kv) } : { type: 'delete', key: this.#name(kv.key), modRevision: Number(kv.mod_revision) };
  }

  #connect(): Promise<Etcd3> {
    this.#client ??= Promise.all([import('etcd3'), import('cockatiel')]).then(([{ Etcd3, isRecoverableError }, { circuitBreaker, handleWhen, ConsecutiveBreaker }]) => new Etcd3({
      hosts: this.#options.endpoints.map((endpoint) => `http://${endpoint}`),
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
      // etcd3's default keeps a member that failed three calls in a row unused for 5 s, so a quorum back
      // was not used for that long. The callers here try again by themselves (campaigns, watches): a
      // member is tried again after half a second.
      faultHandling: {
        host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: MEMBER_RETRY_MS, breaker: new ConsecutiveBreaker(3) }),
      },
    }));
    return this.#client;
  }

  #entry(kv: IKeyValue): KeyspaceEntry {
    return { key: this.#name(kv.key), value: kv.value.toString(), createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision) };
  }

  #key(name: string): Buffer {
    return Buffer.concat([this.#prefix, Buffer.from(name)]);
  }

  #name(key: Buffer): string {
    return key.subarray(this.#prefix.length).toString();
  }
}

/** What a watch needs of its keyspace. */
interface WatchSource {
  /** A new watch stream on the whole prefix from `startRevision`. */
  openStream(startRevision: number): Promise<WatchStream>;
  event(type: 'Put' | 'Delete', kv: IKeyValue): KeyspaceEvent;
  list(): Promise<KeyspaceSnapshot>;
}

type WatchStream = IDuplexStream<IWatchRequest, IWatchResponse>;

/**
 * One watch: its own gRPC stream, opened again by this class (not by etcd3, which resumes from the last
 * response's header revision: during a catch-up etcd stamps each batch of 1,000 revisions with the store's
 * current revision, so that skips everything not yet sent). It resumes from `#next`, the revision after the
 * last event delivered; etcd never splits one revision's events across responses, so none is half-delivered.
 */
class KeyspaceWatch {
  readonly #source: WatchSource;
  readonly #handler: (event: KeyspaceEvent) => void;
  #next: number;
  #stream: WatchStream | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;

  constructor(source: WatchSource, fromRevision: number, handler: (event: KeyspaceEvent) => void) {
    this.#source = source;
    this.#next = fromRevision;
    this.#handler = handler;
  }

  open(): void {
    this.#source.openStream(this.#next).then((stream) => {
      stream.on('data', (answer) => this.#receive(stream, answer));
      stream.on('error', () => this.#broken(stream));
      stream.on('end', () => this.#broken(stream));
      // Closed while it opened: canceling makes gRPC emit an error, which the listeners above ignore.
      if (this.#closed) stream.cancel();
      else this.#stream = stream;
    }, () => this.#reopenLater(() => this.open()));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#reopenTimer);
    if (this.#stream) this.#drop(this.#stream);
  }

  #receive(stream: WatchStream, answer: IWatchResponse): void {
    if (stream !== this.#stream) return;
    // Canceled: the revision asked for was compacted (compact_revision says since when), or etcd dropped the
    // watch. Either way the changes in between are gone: start again from the whole keyspace.
    if (answer.canceled) {
      this.#drop(stream);
      this.#relist();
      return;
    }
    this.#failures = 0;
    for (const { type, kv } of answer.events) {
      this.#next = Number(kv.mod_revision) + 1;
      this.#handler(this.#source.event(type, kv));
    }
  }

  #broken(stream: WatchStream): void {
    if (stream !== this.#stream) return;
    this.#drop(stream);
    this.#reopenLater(() => this.open());
  }

  #relist(): void {
    this.#source.list().then((snapshot) => {
      if (this.#closed) return;
      this.#next = snapshot.revision + 1;
      this.#handler({ type: 'reset', snapshot });
      this.open();
    }, () => this.#reopenLater(() => this.#relist()));
  }

  #drop(stream: WatchStream): void {
    this.#stream = undefined;
    // Ended first: etcd3 counts the error of a cancelled stream still open for writing as a failure of its
    // member (and resets its connections), so three watches closed at once opened its breaker.
    stream.end();
    stream.cancel();
  }

  #reopenLater(action: () => void): void {
    if (this.#closed) return;
    const delay = REOPEN_DELAYS_MS[Math.min(this.#failures++, REOPEN_DELAYS_MS.length - 1)]!;
    this.#reopenTimer = setTimeout(action, delay);
  }
}

/** The first key after every key that starts with `prefix` (etcd's range end for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
