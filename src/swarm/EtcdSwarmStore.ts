// A swarm whose managers keep it in etcd (`--store etcd://...`): one node's way in to it. Which manager
// leads is etcd's to decide (EtcdLeadership), and the swarm is kept there by the leader alone
// (EtcdSwarmBackend), every write fenced by its leadership. A leader whose write failed or was refused
// steps down and campaigns again, so that whoever leads next (maybe itself) starts from what etcd holds,
// never from a memory that etcd does not share.
import { EtcdKeyspace } from './EtcdKeyspace.js';
import { EtcdLeadership } from './EtcdLeadership.js';
import type { Candidate, LeadershipView } from './EtcdLeadership.js';
import { EtcdSwarmBackend } from './EtcdSwarmBackend.js';
import { EtcdSwarmView } from './EtcdSwarmView.js';
import type { SwarmPersistence, SwarmSource } from './SwarmBackend.js';
import type { SwarmState } from './SwarmState.js';

export interface EtcdSwarmStoreOptions {
  /** `host:port` of each etcd member. */
  endpoints: string[];
  /** Where the swarm's keys live in etcd, e.g. `/routemesh/`. */
  prefix: string;
  /** How long a leader that stops renewing its lease (killed, or cut off from etcd) keeps the lead. */
  leaseTtlSeconds: number;
  log: (line: string) => void;
}

/** The key under the prefix that the leader holds (not a record of the swarm: the backend leaves it alone). */
const LEADER_KEY = 'leader';

export class EtcdSwarmStore {
  readonly #options: EtcdSwarmStoreOptions;
  readonly #keys: EtcdKeyspace;
  readonly #backend: EtcdSwarmBackend;
  #leadership: EtcdLeadership | undefined;
  #campaign: { candidate: Candidate; onChange: (view: LeadershipView) => void } | undefined;
  #stepping = false;
  /** Writes etcd refused so far: a flush during which one was is not a change kept. */
  #refusals = 0;
  /** This manager's copy of the swarm, kept by one watch, once asked for. */
  #copy: Promise<EtcdSwarmView> | undefined;

  constructor(options: EtcdSwarmStoreOptions) {
    this.#options = options;
    this.#keys = new EtcdKeyspace({ endpoints: options.endpoints, prefix: options.prefix });
    this.#backend = new EtcdSwarmBackend(this.#keys, {
      fence: () => this.#leadership?.fence,
      onRefused: () => {
        this.#refusals++;
        this.stepDown('etcd refused a write: another manager was elected meanwhile');
      },
      onFailed: (error) => this.stepDown(`a write to etcd failed (${error.message})`),
      log: options.log,
    });
  }

  /** Where the swarm is kept, for messages: `etcd at 127.1.0.100:2379 under /routemesh/`. */
  get where(): string {
    return `etcd at ${this.#options.endpoints.join(',')} under ${this.#options.prefix}`;
  }

  /** The prefix of the swarm's keys in etcd. */
  get prefix(): string {
    return this.#options.prefix;
  }

  /** How long a leader that stops renewing its lease keeps the lead: how long an election may take. */
  get leaseTtlMs(): number {
    return this.#options.leaseTtlSeconds * 1000;
  }

  /** The leader as etcd has it, and whether it is this node's candidate. */
  get view(): LeadershipView {
    return this.#leadership?.view ?? { leader: undefined, leading: false };
  }

  /** Which election this node won, while it leads (the leader key's create revision): undefined while it does not. */
  get term(): number | undefined {
    return this.#leadership?.fence?.createRevision;
  }

  /** The swarm kept in etcd (undefined: none is); throws an Error saying what to do when it cannot be read. */
  load(): Promise<SwarmState | undefined> {
    return this.#backend.load();
  }

  /**
   * This manager's copy of the swarm, kept by one etcd watch: opened on first use (again after an open that
   * failed), shared by every reader, closed with the store.
   */
  follow(): Promise<EtcdSwarmView> {
    this.#copy ??= EtcdSwarmView.open(this.#keys, { log: this.#options.log }).catch((error: unknown) => {
      this.#copy = undefined;
      throw error;
    });
    return this.#copy;
  }

  /** Closes the copy (this node is a manager no more: a worker never talks to etcd). */
  async stopFollowing(): Promise<void> {
    const copy = this.#copy;
    this.#copy = undefined;
    (await copy?.catch(() => undefined))?.close();
  }

  /** Campaigns for `candidate` until `resign` or `close`; `onChange` hears every change of who leads. */
  campaign(candidate: Candidate, onChange: (view: LeadershipView) => void): void {
    this.#leadership?.close();
    this.#campaign = { candidate, onChange };
    this.#start();
  }

  /** Keeps the swarm `source` holds (the leader's control plane) in etcd: all of it, then every change. */
  async persist(source: SwarmSource): Promise<SwarmPersistence> {
    try {
      const persistence = await this.#backend.persist(source);
      // The backend drops a refused write and flushes on: its changes were not kept, which an answer must not say.
      return {
        flush: async () => {
          const refusals = this.#refusals;
          await persistence.flush();
          if (this.#refusals !== refusals) throw new Error('etcd refused a write: another manager was elected meanwhile');
        },
        close: () => persistence.close(),
      };
    } catch (error) {
      this.stepDown(`the swarm could not be written to etcd (${(error as Error).message})`);
      throw error;
    }
  }

  /** Deletes the swarm from etcd (its last manager left it); fenced, so only while this node leads. */
  remove(): Promise<void> {
    return this.#backend.remove();
  }

  /** Stops campaigning and hands the lead over at once (the key deleted, the lease revoked). */
  async resign(): Promise<void> {
    const leadership = this.#leadership;
    this.#leadership = undefined;
    this.#campaign = undefined;
    await leadership?.resign().catch(() => { /* etcd away: the lease ends by itself after its TTL */ });
  }

  async close(): Promise<void> {
    await this.resign();
    await this.stopFollowing();
    await this.#keys.close();
  }

  #start(): void {
    const { candidate, onChange } = this.#campaign!;
    const leadership: EtcdLeadership = new EtcdLeadership(this.#keys, {
      key: LEADER_KEY,
      candidate,
      ttlSeconds: this.#options.leaseTtlSeconds,
      onChange: (view) => { if (this.#leadership === leadership) onChange(view); },
    });
    this.#leadership = leadership;
    leadership.start();
  }

  /**
   * The leader's memory and etcd may differ now (a write failed or was refused, or what etcd holds could
   * not be loaded): it steps down, and campaigns again half a lease later, so that whoever leads next
   * (maybe itself) starts from what etcd holds.
   */
  stepDown(why: string): void {
    const leadership = this.#leadership;
    const campaign = this.#campaign;
    if (!leadership || !campaign || this.#stepping) return;
    this.#stepping = true;
    this.#options.log(`${campaign.candidate.id}: ${why}; it steps down, and campaigns again`);
    campaign.onChange({ leader: undefined, leading: false });
    this.#leadership = undefined;
    void leadership.resign().catch(() => undefined).finally(() => {
      setTimeout(() => {
        this.#stepping = false;
        if (this.#campaign === campaign) this.#start();
      }, this.leaseTtlMs / 2).unref();
    });
  }
}
