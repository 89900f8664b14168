// What a manager node runs beside its agent and mesh: its cluster port (every manager listens, as Swarm's
// do), the control plane while it leads, and the taking of the lead when the leader is gone. Who leads is
// decided one of two ways:
// - with the swarm in etcd (`--store`), by etcd: every manager campaigns, the one elected makes the control
//   plane from what etcd holds, and one deposed (its lease lost, or a write refused) steps down at once;
//   every manager keeps its own copy of the swarm by one etcd watch, and serves the nodes' sessions from it
//   whether it leads or not (the leader works out the watermark of what every mesh applied; the others pass
//   on the one their own session hears);
// - without, by agreement among the managers that still answer, if they are more than half of them: the
//   one with the freshest copy (then the first by hostname) makes the swarm again from its copy of the
//   view and of the swarm object. Without a quorum nobody leads, and the swarm answers "does not have a
//   leader". This is agreement without a vote, fine on one host where every manager sees the same others.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NANOS_PER_MS, naturalOrder } from '../swarm/index.js';
import type { ClusterView, EtcdSwarmStore, EtcdSwarmView, LeadershipView, Manager, SwarmNode, SwarmReader, SwarmState } from '../swarm/index.js';
import { CLUSTER_PORT, ClusterPortServer, Dispatcher, EtcdFeed, ManagerLink, NO_LEADER, SessionStreams } from '../cluster/index.js';
import type { NodeTls } from '../cluster/index.js';
import { ApiError } from './api/index.js';

export interface ManagerRoleOptions {
  hostname: string;
  address: string;
  clusterPort: number;
  /** This engine's API, which the other managers forward to while this one leads. */
  engineApi: (req: IncomingMessage, res: ServerResponse) => void;
  /** A new control plane, or the swarm made again from a copy. */
  newManager: (restore?: SwarmState) => Manager;
  /** Resolves once every change the control plane has made so far is kept (its data directory, or etcd). */
  durable: () => Promise<void>;
  /** The swarm read from this manager's copy (etcd). */
  newCopy: (store: ClusterView, swarm: () => SwarmState['swarm'] | undefined) => SwarmReader;
  /** Where the swarm is kept and its leader elected (etcd); absent: the managers agree among themselves. */
  store?: EtcdSwarmStore;
  log: (line: string) => void;
}

interface Following {
  view: EtcdSwarmView;
  streams: SessionStreams;
}

/** How a campaign stands: this manager leads, another does, or etcd has said neither yet. */
export type Standing = 'leading' | 'following' | 'undecided';

export class ManagerRole {
  readonly #options: ManagerRoleOptions;
  readonly #server: ClusterPortServer;
  #control: { manager: Manager; dispatcher: Dispatcher } | undefined;
  /** With etcd: this manager's copy of the swarm and the sessions it serves from it, once the watch is open. */
  #following: Promise<Following> | undefined;
  #followed: Following | undefined;
  #electing = false;
  /** With etcd: makes the control plane each time this manager is elected. */
  #takeLead: (() => Promise<Manager>) | undefined;
  #taking = false;
  #standingWaiters = new Set<() => void>();
  #closed = false;
  /** This manager node's key and certificate, once it has them (it serves TLS with them, and pings with them). */
  #tls: NodeTls | undefined;

  /** `leader`: where the leader is, as this node's view has it; `copyIndex`: how fresh this node's copy of the swarm is. */
  constructor(options: ManagerRoleOptions, follower: { leader: () => string | undefined; copyIndex: () => number }) {
    this.#options = options;
    this.#server = new ClusterPortServer({
      // The node's own answer (with etcd: etcd's word, or the leader its view names until its campaign has heard);
      // before it is a member again (a restart), etcd's word alone.
      engineApi: options.engineApi, leader: () => follower.leader() ?? this.leaderAddress(), log: options.log,
      index: () => this.#control?.manager.store.index ?? follower.copyIndex(),
    });
  }

  /** The control plane, while this manager leads. */
  get manager(): Manager | undefined {
    return this.#control?.manager;
  }

  async listen(): Promise<void> {
    const { address, clusterPort } = this.#options;
    await this.#server.listen(address, clusterPort).catch((error: Error) => {
      throw new ApiError(500, `cannot listen on the cluster port ${address}:${clusterPort}: ${error.message}`);
    });
  }

  /** The node's key and certificate: the cluster port serves TLS with them from now on. */
  setTls(tls: NodeTls): void {
    this.#tls = tls;
    this.#server.setTls(tls);
  }

  /** Leads with `manager`; with etcd, the sessions served from this manager's copy are the dispatcher's (`streams`). */
  lead(manager: Manager, streams?: SessionStreams): void {
    const dispatcher = new Dispatcher(manager, { ...(streams ? { streams } : {}), durable: this.#options.durable });
    this.#control = { manager, dispatcher };
    this.#server.lead(dispatcher);
    this.#standingChanged();
  }

  /** Whether etcd decides who leads (`--store`), rather than the managers' own agreement. */
  get elected(): boolean {
    return this.#options.store !== undefined;
  }

  /** With etcd: the leader's cluster address, as etcd has it, unless this manager leads. */
  leaderAddress(): string | undefined {
    const view = this.#options.store?.view;
    return view && !view.leading ? view.leader?.address : undefined;
  }

  /**
   * With the swarm in etcd: campaigns until closed. Each time etcd elects this manager, `takeLead` makes its
   * control plane (from what etcd holds, or a new swarm at `swarm init`); each time it is deposed, it steps down.
   */
  campaign(takeLead: () => Promise<Manager>): void {
    const { store, hostname, address, clusterPort } = this.#options;
    this.#takeLead = takeLead;
    if (!this.#following) {
      this.#following = this.#follow(store!);
      this.#following.catch(() => { /* the role closed before its copy opened */ });
    }
    store!.campaign({ id: hostname, address: `${address}:${clusterPort}` }, (view) => this.#leadershipChanged(view));
  }

  /** Opens this manager's copy (trying again while etcd cannot be reached) and serves sessions from it. */
  async #follow(store: EtcdSwarmStore): Promise<Following> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      if (this.#closed) throw new Error('the manager role closed');
      try {
        const view = await store.follow();
        const periodMs = (): number => (view.swarm?.spec.Dispatcher.HeartbeatPeriod ?? 0) / NANOS_PER_MS;
        const streams = new SessionStreams(new EtcdFeed(view), periodMs, this.#options.log);
        if (this.#closed) {
          streams.close();
          streams.feed.close();
          throw new Error('the manager role closed');
        }
        if (!this.#control) this.#server.follow(streams);
        this.#followed = { view, streams };
        return this.#followed;
      } catch (error) {
        if (this.#closed) throw error;
        this.#options.log(`${this.#options.hostname}: cannot follow the swarm in ${store.where} yet (${(error as Error).message}); trying again`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /**
   * The swarm as this manager reads it without leading (etcd): its copy, once it holds everything etcd had
   * when asked (a read after a write the leader answered sees it). Swarm's no-leader answer when etcd cannot say.
   */
  async copy(): Promise<SwarmReader | undefined> {
    // Still opening (or etcd away at the start): the leader answers, as before there was a copy.
    if (!this.#followed) return undefined;
    const { view } = this.#followed;
    try {
      await view.sync();
    } catch {
      throw new ApiError(500, NO_LEADER);
    }
    return this.#options.newCopy(view.store, () => view.swarm);
  }

  /** The watermark this manager's own session heard from the leader, passed on to the sessions it serves (etcd). */
  relayApplied(epoch: string, seq: number): void {
    const streams = this.#followed?.streams;
    if (!this.#control && streams?.feed.epoch === epoch) streams.applied(seq);
  }

  /** Whether it campaigns (etcd). */
  get campaigning(): boolean {
    return this.#takeLead !== undefined;
  }

  /** Resolves once this manager leads, another is known to, or `timeoutMs` passed without either. */
  async standing(timeoutMs: number): Promise<Standing> {
    const now = (): Standing | undefined => (this.#control ? 'leading' : this.leaderAddress() ? 'following' : undefined);
    if (now()) return now()!;
    let waiter: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      waiter = () => { if (now()) resolve(); };
      this.#standingWaiters.add(waiter);
      timer = setTimeout(resolve, timeoutMs);
    });
    this.#standingWaiters.delete(waiter!);
    clearTimeout(timer);
    return now() ?? 'undecided';
  }

  #standingChanged(): void {
    for (const waiter of [...this.#standingWaiters]) waiter();
  }

  #leadershipChanged(view: LeadershipView): void {
    if (view.leading && !this.#control) void this.#takeLeadNow();
    else if (!view.leading && this.#control) this.#stepDown();
    this.#standingChanged();
  }

  async #takeLeadNow(): Promise<void> {
    if (this.#taking || this.#closed) return;
    this.#taking = true;
    const store = this.#options.store!;
    const term = store.term;
    try {
      const manager = await this.#takeLead!();
      const { streams } = await this.#following!;
      // Deposed meanwhile, maybe elected again: what it read may predate what another leader wrote since.
      if (this.#closed || this.#control || store.term !== term) {
        manager.close();
        return;
      }
      this.lead(manager, streams);
      this.#options.log(`${this.#options.hostname}: elected leader (${store.where}); it leads the swarm`);
    } catch (error) {
      store.stepDown(`elected leader, but it cannot lead: ${(error as Error).message}`);
    } finally {
      this.#taking = false;
      // Elected again while it made the control plane of an earlier term: one made anew, from what etcd holds now.
      if (store.view.leading && !this.#control) void this.#takeLeadNow();
    }
  }

  /** Deposed: the control plane ends, its sessions close, and the nodes find the leader etcd elected. */
  #stepDown(): void {
    const control = this.#control!;
    this.#control = undefined;
    // With etcd its sessions go on, from its copy; the nodes send the rest to the leader etcd elected.
    this.#server.follow(this.#followed?.streams);
    control.dispatcher.close();
    control.manager.close();
    this.#options.log(`${this.#options.hostname}: no longer the leader (another was elected, or etcd cannot be reached); it follows`);
  }

  /**
   * The leader has been gone for three heartbeat periods (the link says so): if no manager says it leads,
   * and more than half of them answer, the first of those by hostname leads. Resolves once decided.
   */
  async takeOverIfLeaderless(link: ManagerLink): Promise<void> {
    const copy = link.swarmCopy();
    const tls = this.#tls;
    if (this.#options.store || this.#control || this.#electing || !copy || !tls) return;
    this.#electing = true;
    try {
      const view = link.view;
      const managers = view.nodes().filter((n) => n.Spec.Role === 'manager');
      const me = managers.find((n) => n.ID === link.nodeId);
      if (!me) return;
      // A leader that left named its successor in its last changes (it had a quorum then): no need to ask.
      const handedOver = me.ManagerStatus?.Leader === true;
      const others = handedOver ? [] : await Promise.all(managers.filter((n) => n !== me).map(async (node) => ({ node, pong: await ManagerLink.ping(clusterAddrOf(node), this.#options.address, tls) })));
      if (others.some((o) => o.pong?.leader)) return; // another leads: the link finds it
      const reachable = [{ node: me, index: view.index }, ...others.flatMap((o) => (o.pong ? [{ node: o.node, index: o.pong.index }] : []))];
      if (!handedOver && reachable.length * 2 <= managers.length) {
        this.#options.log(`${this.#options.hostname}: the leader is gone and only ${reachable.length} of ${managers.length} managers answer: the swarm has no leader until more are back`);
        return;
      }
      if (firstToLead(reachable) !== me || this.#control) return;
      const manager = this.#options.newManager(copy);
      // They missed the heartbeats that mark a node Down, as the leader did: Down now, their tasks replaced.
      for (const { node, pong } of others) if (!pong) manager.setNodeState(node.ID, 'down');
      manager.runsOn(me.ID);
      this.lead(manager);
      this.#options.log(`${this.#options.hostname}: the leader was lost; this manager leads the swarm now`);
    } finally {
      this.#electing = false;
    }
  }

  /** Stops leading and serving; with etcd, hands the lead over at once rather than after the lease's TTL. */
  /** Closes the cluster port to nodes an injected partition cuts this one off from (their addresses). */
  cutOff(addresses: ReadonlySet<string>): void {
    this.#server.cutOff(addresses);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const control = this.#control;
    this.#control = undefined;
    control?.dispatcher.close();
    this.#followed?.streams.close();
    this.#followed?.streams.feed.close();
    if (this.#following) await this.#options.store!.stopFollowing();
    await this.#server.close();
    control?.manager.close();
    if (this.#takeLead) await this.#options.store!.resign();
    this.#standingChanged();
  }
}

/** Of managers that may lead, the one whose copy of the swarm is freshest, then the first by hostname: every manager picks the same. */
export function firstToLead(candidates: readonly { node: SwarmNode; index: number }[]): SwarmNode {
  return [...candidates].sort((a, b) => b.index - a.index || naturalOrder(a.node.Description.Hostname, b.node.Description.Hostname))[0]!.node;
}

export function clusterAddrOf(node: SwarmNode): string {
  return node.ManagerStatus?.Addr ?? `${node.Status.Addr}:${CLUSTER_PORT}`;
}
