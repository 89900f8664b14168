// Which manager leads, decided in etcd: a candidate holds the leader key with a lease it keeps alive, and
// leads while the key it created is there. The key's create revision is the fence that EtcdKeyspace.writeIf
// checks, so a leader that was deposed (its lease ended, or it resigned) can never write again.
import type { EtcdKeyspace, Fence, KeyspaceEvent, KeyspaceWatchHandle, LeaseId } from './EtcdKeyspace.js';

/** A manager that may lead: who it is and where the others reach it. */
export interface Candidate {
  id: string;
  address: string;
}

/** The leader as this candidate knows it now, and whether that is itself. */
export interface LeadershipView {
  leader: Candidate | undefined;
  leading: boolean;
}

export interface EtcdLeadershipOptions {
  /** The leader key, under the keyspace's prefix. */
  key: string;
  candidate: Candidate;
  /** How long a leader that stops renewing its lease (killed, or cut off from etcd) keeps the key. */
  ttlSeconds: number;
  /** Called on every change of the view, synchronously; must not throw. */
  onChange(view: LeadershipView): void;
}

// How soon a campaign that etcd did not answer is tried again, doubling up to the last while etcd stays away.
const RETRY_DELAYS_MS = [50, 100, 200, 400, 800];

export class EtcdLeadership {
  readonly #keys: EtcdKeyspace;
  readonly #options: EtcdLeadershipOptions;
  #view: LeadershipView = { leader: undefined, leading: false };
  #fence: Fence | undefined;
  #lease: LeaseKeeper | undefined;
  #watch: KeyspaceWatchHandle | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  // Each campaign is a round: what an earlier round's calls answer late is dropped.
  #round = 0;
  #stopped = false;

  constructor(keys: EtcdKeyspace, options: EtcdLeadershipOptions) {
    this.#keys = keys;
    this.#options = options;
  }

  get view(): LeadershipView {
    return this.#view;
  }

  /** What a write must be fenced with while this candidate leads; undefined when it does not. */
  get fence(): Fence | undefined {
    return this.#fence;
  }

  /** Campaigns until `resign()` or `close()`: leads when the key is free, follows (and watches it) when not. */
  start(): void {
    this.#campaign();
  }

  /**
   * Stops campaigning, deletes the leader key if it is still this candidate's (fenced) and revokes its lease,
   * so that another candidate takes over at once instead of after the TTL.
   */
  async resign(): Promise<void> {
    const fence = this.#fence;
    const lease = this.#lease;
    this.#stop();
    this.#change({ leader: undefined, leading: false });
    if (fence) await this.#keys.writeIf(fence, [{ type: 'delete', key: fence.key }]);
    if (lease) await this.#keys.revokeLease(lease.id);
  }

  /** Stops everything without resigning, as a killed manager would: its key lives until its lease ends. */
  close(): void {
    this.#stop();
  }

  #campaign(): void {
    const round = ++this.#round;
    clearTimeout(this.#retryTimer);
    this.#watch?.close();
    this.#watch = undefined;
    this.#attempt(round).catch(() => {
      if (round !== this.#round || this.#stopped) return;
      const delay = RETRY_DELAYS_MS[Math.min(this.#failures++, RETRY_DELAYS_MS.length - 1)]!;
      this.#retryTimer = setTimeout(() => this.#campaign(), delay);
    });
  }

  async #attempt(round: number): Promise<void> {
    const current = () => round === this.#round && !this.#stopped;
    if (!this.#lease) {
      const lease = await LeaseKeeper.grant(this.#keys, this.#options.ttlSeconds, () => this.#leaseLost(lease));
      if (!current()) return lease.stop();
      this.#lease = lease;
    }
    const { key, candidate } = this.#options;
    const outcome = await this.#keys.createIfAbsent(key, JSON.stringify(candidate), this.#lease.id);
    if (!current()) return;
    this.#failures = 0;
    const leading = outcome.holder.lease === this.#lease.id;
    this.#fence = leading ? { key, createRevision: outcome.holder.createRevision } : undefined;
    this.#change({ leader: parseCandidate(outcome.holder.value), leading });
    this.#watch = this.#keys.watchKey(key, outcome.revision + 1, (event) => this.#keyChanged(round, event));
  }

  #keyChanged(round: number, event: KeyspaceEvent): void {
    if (round !== this.#round || this.#stopped) return;
    if (event.type === 'put') {
      this.#change({ leader: parseCandidate(event.value), leading: this.#view.leading });
      return;
    }
    // Deleted (its lease ended, or its holder resigned), or history lost: nobody is known to lead until
    // the campaign that follows says who does.
    this.#fence = undefined;
    this.#change({ leader: undefined, leading: false });
    this.#campaign();
  }

  #leaseLost(lease: LeaseKeeper): void {
    if (lease !== this.#lease || this.#stopped) return;
    this.#lease = undefined;
    if (this.#view.leading) {
      this.#fence = undefined;
      this.#change({ leader: undefined, leading: false });
    }
    this.#campaign();
  }

  #change(view: LeadershipView): void {
    const before = this.#view;
    if (before.leading === view.leading && before.leader?.id === view.leader?.id && before.leader?.address === view.leader?.address) return;
    this.#view = view;
    this.#options.onChange(view);
  }

  #stop(): void {
    this.#stopped = true;
    this.#round++;
    clearTimeout(this.#retryTimer);
    this.#watch?.close();
    this.#watch = undefined;
    this.#lease?.stop();
    this.#lease = undefined;
    this.#fence = undefined;
  }
}

/**
 * A lease renewed every third of its TTL. It counts as lost from the moment etcd may have let it end: the
 * TTL after the last renewal sent that etcd answered (etcd restarts the TTL on receipt, later than that).
 */
class LeaseKeeper {
  readonly id: LeaseId;
  readonly #keys: EtcdKeyspace;
  readonly #ttlMs: number;
  readonly #lost: () => void;
  #renewTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  static async grant(keys: EtcdKeyspace, ttlSeconds: number, lost: () => void): Promise<LeaseKeeper> {
    const askedAt = Date.now();
    const id = await keys.grantLease(ttlSeconds);
    return new LeaseKeeper(keys, id, ttlSeconds * 1000, askedAt, lost);
  }

  private constructor(keys: EtcdKeyspace, id: LeaseId, ttlMs: number, askedAt: number, lost: () => void) {
    this.#keys = keys;
    this.id = id;
    this.#ttlMs = ttlMs;
    this.#lost = lost;
    this.#expireAt(askedAt + ttlMs);
    this.#scheduleRenewal();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#expiryTimer);
  }

  #scheduleRenewal(): void {
    this.#renewTimer = setTimeout(() => this.#renew(), this.#ttlMs / 3);
  }

  #renew(): void {
    const askedAt = Date.now();
    this.#keys.keepLeaseAlive(this.id, this.#ttlMs / 3).then((ttlSeconds) => {
      if (this.#stopped) return;
      if (ttlSeconds > 0) this.#expireAt(askedAt + ttlSeconds * 1000);
      else this.#expire();
    }, () => undefined /* the expiry timer decides when that is too long */).finally(() => {
      if (!this.#stopped) this.#scheduleRenewal();
    });
  }

  #expireAt(time: number): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = setTimeout(() => this.#expire(), Math.max(0, time - Date.now()));
  }

  #expire(): void {
    if (this.#stopped) return;
    this.stop();
    this.#lost();
  }
}

function parseCandidate(value: string): Candidate | undefined {
  try {
    const { id, address } = JSON.parse(value) as Partial<Candidate>;
    return typeof id === 'string' && typeof address === 'string' ? { id, address } : undefined;
  } catch {
    return undefined;
  }
}
