// The data plane of one node: opens a listener on the node's address for every published port (TCP or
// UDP) and balances over that service's pool: each new connection, each request in http mode, each flow
// of datagrams. While its engine holds the host's VIPs it also listens on each service's VIP, and publishes
// the cluster's names to the DNS server, in the same step as the pools change. It follows the cluster view's
// changes: a changed task costs its own pools' members, a changed service its own routes; listeners
// outlive configuration changes, and the per-connection path is a field read and a pick().
import dgram from 'node:dgram';
import net from 'node:net';
import { CLIENT_KEEP_ALIVE_MS, HttpForwarder, TcpForwarder, UdpRelay } from '../lb/index.js';
import type { ClientConnections } from '../lb/index.js';
import type { ForwardEvents, HttpTarget } from '../lb/index.js';
import { UNPRIVILEGED_PORT_SHIFT, naturalOrder } from '../swarm/index.js';
import type { ClusterView, StoreChange } from '../swarm/index.js';
import type { BackendChange, BackendDesired } from '../lb/index.js';
import type { ScopeOf, ServiceRecord } from '../vip-dns/index.js';
import { NetworkMembership } from './NetworkMembership.js';
import { containerRecords } from './dnsRecords.js';
import { nodesUpOf, poolOrder } from './RoutingTable.js';
import type { PublishedRoute } from './RoutingTable.js';
import { MeshService } from './MeshService.js';
import { BalancedPool } from './BalancedPool.js';
import type { LiveConnection, MeshMetrics, PoolView } from './MeshMetrics.js';
import { TrafficWindow } from './TrafficWindow.js';
import { MeshFaults } from './MeshFaults.js';
import { MeshTrace } from './MeshTrace.js';
import type { TraceSubscriber } from './MeshTrace.js';
import { poolReport } from './PoolReport.js';
import type { MeshReport, PoolReport } from './PoolReport.js';

/** Where the node that holds the VIPs publishes the names: the cluster's embedded DNS server. */
export interface DnsSink {
  /** `scopeOf`: the networks a query's source (a task) is on, whose names alone it is answered. */
  setRecords(records: readonly ServiceRecord[], scopeOf?: ScopeOf): void;
}

/**
 * Whether this node's engine holds the host's VIPs (their addresses are one host's, so one engine of the
 * host listens on them), and a way to hear when that changes; returns the way to stop hearing.
 */
export interface VipHolding {
  held(): boolean;
  onChange(listener: () => void): () => void;
}

export interface MeshOptions {
  /** The node's hostname, for messages. */
  node: string;
  address: string;
  view: ClusterView;
  log?: (line: string) => void;
  /** First retry delay for a published port another program holds; doubles up to 30 s. */
  retryFirstMs?: number;
  dns?: DnsSink;
  /** Whether this node holds the host's VIPs; absent: it holds none (nor publishes names). */
  vips?: VipHolding;
  /** The node's metrics, which outlive this mesh (a node that rejoins gets a new one). */
  metrics?: MeshMetrics;
  /** What injected faults draw their chances from (jitter, loss, duplication): seeded to replay a run. */
  random?: () => number;
}

/** What a listener balances over; replaced in place so the listener never has to be reopened. */
interface Target {
  route: PublishedRoute;
  /** What the forwarders read per connection, request or datagram: the pool's parts and the route's events. */
  lane: HttpTarget;
  /** The pool's own events, which the lane's wrap when the node counts traffic. */
  poolEvents: ForwardEvents;
  /** The pool's events as metrics count them: the lane's, unless a trace wraps them too. */
  counted: ForwardEvents;
}

interface Listener {
  /** A TCP port's server, or a UDP port's socket. */
  server: net.Server | dgram.Socket;
  /** A UDP port's flows. */
  relay?: UdpRelay;
  target: Target;
  state: 'opening' | 'open' | 'failed';
  /** The route's port, or (a VIP port below 1024 without root) that port + UNPRIVILEGED_PORT_SHIFT, as tasks' ports move. */
  port: number;
  /** Failed binds in a row; a port another program holds is retried with backoff, said once. */
  failures: number;
  retry?: NodeJS.Timeout;
  /** Parses the connections of the port while its service is in http mode; made at the first. */
  http?: ClientConnections;
  /** Ends the wait for the bind in flight: a UDP socket closed while binding says neither yes nor no. */
  settle?: () => void;
}

const RETRY_MAX_MS = 30_000;

/** What changed since the last sync: everything (the nodes), services, or single tasks with their service. */
interface Dirty {
  all: boolean;
  services: Set<string>;
  tasks: Map<string, string>;
}

const clean = (): Dirty => ({ all: false, services: new Set(), tasks: new Map() });

export class Mesh {
  readonly node: string;
  readonly address: string;
  #view: ClusterView;
  #log: (line: string) => void;
  #retryFirstMs: number;
  #dns: DnsSink | undefined;
  #vips: VipHolding | undefined;
  #stopHearingVips: () => void = () => {};
  #metrics: MeshMetrics | undefined;
  #forwarder: TcpForwarder;
  #http: HttpForwarder;
  #listeners = new Map<string, Listener>();
  #pools = new Map<string, BalancedPool>();
  /** What each member of the pools was handed lately, for report(). */
  readonly #traffic: TrafficWindow;
  /** Each service as this node sees it, in the store's order. */
  #services = new Map<string, MeshService>();
  /** The nodes as of the last sync that read them. */
  #nodesUp: ReadonlySet<string> = new Set();
  #holdsVipsNow = false;
  #localNode: string | undefined;
  /** How many pools each task is in (by label): metrics follow a task while it is in any. */
  #inPools = new Map<string, number>();
  #dirty: Dirty = { ...clean(), all: true };
  /** A network changed: its containers' names may have. */
  #containersChanged = false;
  /** What p2c's picks and faults draw from. */
  readonly #random: () => number;
  /** The injected faults on the way to this node's pool members. */
  readonly #faults: MeshFaults;
  /** A fault was added, removed or ran out: every member's link is looked at again. */
  #faultsChanged = false;
  /** Its balancing decisions, for whoever follows them. */
  readonly #trace: MeshTrace;
  #syncQueued = false;
  #closed = false;
  #opening = new Set<Promise<void>>();
  /**
   * Client connections in flight, each with its service: close() ends them instead of waiting on them,
   * and metrics count the bytes of open connections too.
   */
  #clients = new Map<net.Socket, string>();
  /** What the node's metrics read of this mesh when scraped. */
  readonly #poolViews = (): PoolView[] => [...this.#pools.values()].map((p) => ({ serviceName: p.serviceName, backends: p.pool.backends }));
  readonly #liveConnections = (): LiveConnection[] =>
    [...this.#clients].map(([socket, service]) => ({ service, read: socket.bytesRead, written: socket.bytesWritten }));
  /** Which networks each task address is on: what network VIPs admit, and what DNS answers whom. */
  readonly membership = new NetworkMembership();
  #onChange = (change: StoreChange): void => {
    if (change.kind === 'node') this.#dirty.all = true;
    else if (change.kind === 'service') this.#dirty.services.add(change.id);
    else if (change.kind === 'task') {
      this.#dirty.tasks.set(change.id, change.serviceId!);
      this.membership.taskChanged(change.id, this.#view.task(change.id));
    } else if (change.kind === 'network') {
      this.membership.networksChanged(this.#view);
      this.#containersChanged = true;
    } else if (change.kind === 'fault') {
      this.#faultsChanged = true;
    } else return;
    this.#queueSync();
  };

  constructor(options: MeshOptions) {
    this.node = options.node;
    this.address = options.address;
    this.#view = options.view;
    this.#log = options.log ?? (() => {});
    this.#retryFirstMs = options.retryFirstMs ?? 1000;
    this.#dns = options.dns;
    this.#vips = options.vips;
    this.#metrics = options.metrics;
    this.#traffic = new TrafficWindow();
    this.#random = options.random ?? Math.random;
    this.#faults = new MeshFaults(options.address, this.#random);
    this.#trace = new MeshTrace(options.node, options.address, () => this.#retarget());
    // Tasks see connections come from the node that forwarded them, as behind Swarm's ingress.
    this.#forwarder = new TcpForwarder({ localAddress: options.address });
    this.#http = new HttpForwarder({ localAddress: options.address });
  }

  start(): void {
    this.#metrics?.read(this.#poolViews, this.#liveConnections);
    this.#traffic.start(() => [...this.#pools.values()].flatMap((p) => p.pool.backends));
    this.#view.on('change', this.#onChange);
    this.membership.reset(this.#view);
    const proxy = this.#faults.listen().catch((error: Error) => this.#log(`${this.node}: injected faults cannot shape connections: ${error.message}`));
    this.#opening.add(proxy);
    void proxy.then(() => this.#opening.delete(proxy));
    if (this.#vips) this.#stopHearingVips = this.#vips.onChange(() => this.#syncAll());
    this.#syncAll();
  }

  /** Changes arrive in bursts (one per task state); one sync per burst, in a microtask, is enough. */
  #queueSync(): void {
    if (this.#syncQueued || this.#closed) return;
    this.#syncQueued = true;
    queueMicrotask(() => {
      this.#syncQueued = false;
      if (!this.#closed) this.#syncNow();
    });
  }

  /** Reads the whole cluster again (at the start, and when the VIPs came to this node or went). */
  #syncAll(): void {
    if (this.#closed) return;
    this.#dirty.all = true;
    this.#syncNow();
  }

  #syncNow(): void {
    const dirty = this.#dirty;
    this.#dirty = clean();
    if (dirty.all) {
      const nodes = this.#view.nodes();
      this.#nodesUp = nodesUpOf(nodes);
      const held = this.#vips?.held() ?? false;
      // Names are published only by the holder: one that lets go empties its zone, which no one asks now.
      if (this.#holdsVipsNow && !held) this.#dns?.setRecords([]);
      this.#holdsVipsNow = held;
      this.#localNode = nodes.find((n) => n.Description.Hostname === this.node)?.ID;
      for (const service of this.#view.services()) dirty.services.add(service.ID);
      for (const id of this.#services.keys()) dirty.services.add(id);
    }
    const moved = { joined: new Set<string>(), left: new Set<string>() };
    let namesChanged = this.#containersChanged;
    this.#containersChanged = false;
    /** Services whose part was made again from the store: their tasks' changes are in it. */
    const rebuilt = new Set<string>();
    for (const id of dirty.services) {
      const current = this.#view.service(id);
      // A scale or an update's progress changes no route: the service's tasks say what changes.
      if (!dirty.all && current && this.#services.get(id)?.serviceChanged(current)) continue;
      rebuilt.add(id);
      this.#rebuild(id, moved);
      namesChanged = true;
    }
    const changes = new Map<string, BackendChange[]>();
    for (const [taskId, serviceId] of dirty.tasks) {
      const service = this.#services.get(serviceId);
      if (!service || rebuilt.has(serviceId)) continue;
      const before = service.namesVersion;
      const pools = service.taskChanged(taskId, this.#view.task(taskId), this.#nodesUp);
      if (!pools) {
        rebuilt.add(serviceId);
        this.#rebuild(serviceId, moved);
        namesChanged = true;
        // The rebuild read every task of the service: what its earlier tasks changed is in it already.
        for (const key of service.table.pools.keys()) changes.delete(key);
        continue;
      }
      namesChanged ||= service.namesVersion !== before;
      for (const [key, desired] of pools) {
        const list = changes.get(key);
        if (list) list.push([taskId, desired]);
        else changes.set(key, [[taskId, desired]]);
      }
    }
    for (const [key, list] of changes) {
      const pool = this.#pools.get(key)!;
      const before = list.map(([id]) => pool.pool.get(id)?.label);
      pool.update(list, poolOrder);
      list.forEach(([id, desired], i) => this.#count(before[i], desired?.label, moved));
    }
    // In the same step as the pools: a task is named in DNS exactly when it takes new connections.
    if (this.#holdsVipsNow && (namesChanged || dirty.all)) this.#dns?.setRecords(this.#records(), this.#scopeOf);
    // With no fault anywhere this is one flag read: the data path itself never looks for faults.
    if (this.#faultsChanged || this.#faults.active) this.#applyFaults();
    if (this.#metrics) {
      if (dirty.all) this.#metrics.tasksInPools(new Set(this.#inPools.keys()));
      else if (moved.joined.size || moved.left.size) this.#metrics.tasksMoved(moved.joined, moved.left);
    }
  }

  #applyFaults(): void {
    this.#faultsChanged = false;
    const backends = [...this.#pools.values()].flatMap((pool) => pool.pool.backends);
    const expired = (): void => {
      this.#faultsChanged = true;
      this.#queueSync();
    };
    // A backend on another way now: its idle http connections were made the old way.
    for (const backend of this.#faults.apply(this.#view, this.#localNode, backends, Date.now(), expired)) this.#http.retire(backend);
  }

  /**
   * A DNS query's source as a task or container on networks: the networks of the one holding the address. A
   * task on ingress alone, like any other source, gets the unscoped answers (ingress has no names of its own).
   */
  readonly #scopeOf: ScopeOf = (source) => {
    const networks = this.membership.networksOf(source);
    return networks?.size ? networks : undefined;
  };

  #records(): ServiceRecord[] {
    return [...[...this.#services.values()].map((s) => s.record()), ...containerRecords(this.#view.all('network'))];
  }

  /**
   * Makes one service's part of the node again from the store: its pools whole, its listeners, its
   * names (which the caller then takes as changed: a rebuild is a service's change).
   */
  #rebuild(serviceId: string, moved: { joined: Set<string>; left: Set<string> }): void {
    const previous = this.#services.get(serviceId);
    const service = this.#view.service(serviceId);
    const next = service && new MeshService(service, this.#view.tasksOfService(serviceId), this.#nodesUp, {
      withVips: this.#holdsVipsNow, ...(this.#localNode ? { localNode: this.#localNode } : {}),
      networkName: (id: string) => this.#view.get('network', id)?.Spec.Name,
    }, previous?.ports);
    if (next) this.#services.set(serviceId, next);
    else this.#services.delete(serviceId);
    const table = next?.table ?? { routes: new Map<string, PublishedRoute>(), pools: new Map<string, BackendDesired[]>() };
    for (const [key, desired] of table.pools) {
      let pool = this.#pools.get(key);
      if (!pool) {
        pool = new BalancedPool({
          log: this.#log,
          random: this.#random,
          retire: (backend) => this.#http.retire(backend),
          ejected: (backend, ms) => {
            this.#metrics?.ejected(pool!.serviceName, backend);
            this.#trace.ejected(pool!.route, backend, ms);
          },
          returned: (backend) => this.#trace.returned(pool!.route, backend),
        });
        this.#pools.set(key, pool);
      }
      this.#setPool(pool, desired, moved);
    }
    for (const key of previous?.table.pools.keys() ?? []) {
      const pool = this.#pools.get(key);
      if (!pool || table.pools.has(key)) continue;
      this.#setPool(pool, [], moved); // its backends retire: http mode closes their idle connections
      this.#pools.delete(key);
    }

    // A published port and its VIP port share one pool: it is configured once.
    const configured = new Set<string>();
    for (const [key, route] of table.routes) {
      const pool = this.#pools.get(route.poolKey)!;
      if (!configured.has(route.poolKey)) {
        configured.add(route.poolKey);
        pool.configure(route, `${this.node}'s pool of ${route.serviceName}:${route.targetPort}`);
      }
      const listener = this.#listeners.get(key);
      const target = this.#target(route, pool, listener?.target);
      if (listener) {
        listener.target = target;
        if (listener.server instanceof net.Server) listener.server.maxConnections = maxConnectionsOf(route);
        if (listener.http) listener.http.keepAliveTimeoutMs = clientKeepAliveOf(route);
      } else if (route.protocol === 'tcp' || route.protocol === 'udp') {
        this.#open(target);
      }
    }
    for (const key of previous?.table.routes.keys() ?? []) {
      const listener = this.#listeners.get(key);
      // A port another service took over in this same sync is that service's now.
      if (!listener || table.routes.has(key) || listener.target.route.serviceId !== serviceId) continue;
      this.#listeners.delete(key);
      this.#stop(listener);
    }
  }

  /** Replaces a pool's members, counting which tasks joined or left the node's pools. */
  #setPool(pool: BalancedPool, desired: readonly BackendDesired[], moved: { joined: Set<string>; left: Set<string> }): void {
    const before = pool.pool.backends.map((b) => b.label);
    pool.set(desired);
    for (const label of before) this.#count(label, undefined, moved);
    for (const d of desired) this.#count(undefined, d.label, moved);
  }

  /** One pool membership changed from `before` to `after` (task labels; undefined: not a member). */
  #count(before: string | undefined, after: string | undefined, moved: { joined: Set<string>; left: Set<string> }): void {
    if (before === after) return;
    if (before !== undefined) {
      const count = this.#inPools.get(before)! - 1;
      if (count === 0) {
        this.#inPools.delete(before);
        moved.left.add(before);
        moved.joined.delete(before);
      } else this.#inPools.set(before, count);
    }
    if (after !== undefined) {
      const count = (this.#inPools.get(after) ?? 0) + 1;
      this.#inPools.set(after, count);
      if (count === 1) {
        moved.joined.add(after);
        moved.left.delete(after);
      }
    }
  }

  /**
   * The route with the pool's parts as of this sync, its traffic counted when the node has metrics. The
   * counting events are made again only when the route's service or pool changes (`previous` is the
   * listener's last target): every node syncs at every change in the cluster.
   */
  #target(route: PublishedRoute, pool: BalancedPool, previous: Target | undefined): Target {
    let counted = pool.events;
    if (this.#metrics) {
      counted = previous?.poolEvents === pool.events && previous.route.serviceName === route.serviceName
        ? previous.counted
        : this.#metrics.eventsFor({ service: route.serviceName, port: String(route.publishedPort), protocol: route.protocol }, pool.events);
    }
    const events = this.#trace.active ? this.#trace.eventsFor(route, pool, counted) : counted;
    const lane = { pool: pool.pool, balancer: pool.balancer, events, limits: pool.limits, serviceName: route.serviceName };
    return { route, lane, poolEvents: pool.events, counted };
  }

  /** A trace began or ended: every listener's lane is made again, with the trace's events or without. */
  #retarget(): void {
    for (const listener of this.#listeners.values()) {
      const { route } = listener.target;
      const pool = this.#pools.get(route.poolKey);
      if (pool) listener.target = this.#target(route, pool, listener.target);
    }
  }

  /** Follows this node's balancing decisions until the returned function is called. */
  trace(subscriber: TraceSubscriber): () => void {
    return this.#trace.subscribe(subscriber);
  }

  #open(target: Target): void {
    // `server` is set by #listen, at once.
    const listener = { target, state: 'opening', failures: 0, port: target.route.publishedPort } as Listener;
    this.#listeners.set(target.route.key, listener);
    this.#listen(listener);
  }

  /** The listener's target is read per connection: a re-sync may have swapped the pool since it opened. */
  #server(listener: Listener): net.Server | dgram.Socket {
    if (listener.target.route.protocol === 'udp') {
      const socket = dgram.createSocket('udp4');
      listener.relay = new UdpRelay(socket, () => listener.target.lane, { localAddress: this.address });
      return socket;
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => {
      const t = listener.target;
      // A network's VIP refuses a task that is not on its network (isolation, as separate overlays give).
      if (t.route.network && !this.membership.admits(t.route.network, socket.remoteAddress)) {
        socket.resetAndDestroy();
        return;
      }
      this.#clients.set(socket, t.route.serviceName);
      socket.once('close', () => {
        this.#clients.delete(socket);
        this.#metrics?.connectionClosed(t.route.serviceName, socket.bytesRead, socket.bytesWritten);
      });
      if (t.route.settings.mode === 'http') {
        listener.http ??= this.#httpServer(listener);
        listener.http.accept(socket);
        socket.resume();
        return;
      }
      const { pool, balancer, events, limits } = t.lane;
      this.#forwarder.forward(socket, pool, balancer, events, limits);
    });
    server.maxConnections = maxConnectionsOf(listener.target.route);
    return server;
  }

  #httpServer(listener: Listener): ClientConnections {
    const server = this.#http.server(() => listener.target.lane);
    server.keepAliveTimeoutMs = clientKeepAliveOf(listener.target.route);
    return server;
  }

  /** A new server for the listener (a failed one cannot listen again), bound to its port. */
  #listen(listener: Listener): void {
    listener.server = this.#server(listener);
    this.#bind(listener);
  }

  #bind(listener: Listener): void {
    const { route } = listener.target;
    const { server } = listener;
    const what = `${route.vip ? 'VIP port' : 'published port'} ${route.key} on ${route.vip ?? this.address}`;
    const opened = new Promise<void>((resolve) => {
      listener.settle = resolve;
      const failedToOpen = (error: NodeJS.ErrnoException): void => {
        listener.state = 'failed';
        // A UDP socket keeps its handle after a failed bind (a server does not): each retry makes a new one.
        if (server instanceof dgram.Socket) server.close();
        const current = !this.#closed && this.#listeners.get(route.key) === listener;
        // Without root a VIP port below 1024 moves up, as tasks' ports do: the VIP is ours alone.
        if (error.code === 'EACCES' && route.vip && listener.port < 1024 && current) {
          listener.port += UNPRIVILEGED_PORT_SHIFT;
          this.#listen(listener);
          resolve();
          return;
        }
        // Only root binds ports below 1024: retrying will not change that, so it is said and left closed.
        const hopeless = error.code === 'EACCES';
        if (listener.failures++ === 0) {
          this.#log(`${this.node}: cannot open ${what} for service ${route.serviceName}: ` +
            (hopeless ? 'ports below 1024 need root (or CAP_NET_BIND_SERVICE); it stays closed' : `${error.code ?? error.message}; retrying until it can`));
        }
        if (!hopeless && current) {
          const delay = Math.min(this.#retryFirstMs * 2 ** (listener.failures - 1), RETRY_MAX_MS);
          listener.retry = setTimeout(() => {
            this.#listen(listener);
          }, delay);
        }
        resolve();
      };
      server.once('error', failedToOpen);
      server.once('listening', () => {
        // From now on an error (say, accept failing when out of file descriptors) is logged, never rebound:
        // this server still holds the port.
        server.off('error', failedToOpen);
        server.on('error', (error) => this.#log(`${this.node}: ${what}: ${error.message}`));
        if (listener.failures > 0) this.#log(`${this.node}: ${what} is open now`);
        if (listener.port !== route.publishedPort) {
          this.#log(`${this.node}: VIP port ${route.publishedPort} of service ${route.serviceName} listens on ${route.vip}:${listener.port}: ports below 1024 need root`);
        }
        listener.state = 'open';
        listener.failures = 0;
        resolve();
      });
    });
    this.#opening.add(opened);
    void opened.then(() => this.#opening.delete(opened));
    const host = route.vip ?? this.address;
    if (server instanceof net.Server) server.listen({ host, port: listener.port, backlog: 1024 });
    else server.bind({ address: host, port: listener.port });
  }

  /** Each published port's listener: open, opening or failed (with failed binds in a row). */
  listenerStates(): Map<string, { state: Listener['state']; failures: number; port: number; flows?: number }> {
    return new Map([...this.#listeners].map(([key, l]) => [key, {
      state: l.state, failures: l.failures, port: l.port, ...(l.relay ? { flows: l.relay.flowCount } : {}),
    }]));
  }

  /** Each pool as this node sees it now: its members' states, and what each was handed lately. */
  report(): MeshReport {
    const now = Date.now();
    const pools = [...this.#pools.values()].flatMap((pool): PoolReport[] => {
      const report = poolReport(pool, this.#traffic, now);
      return report ? [report] : [];
    }).sort((a, b) => naturalOrder(a.service, b.service) || a.targetPort - b.targetPort || a.protocol.localeCompare(b.protocol));
    return { node: this.node, at: new Date(now).toISOString(), windowSeconds: this.#traffic.windowMs / 1000, pools };
  }

  /** Resolves when every listener asked for so far is open (or has failed and said so). */
  async settled(): Promise<void> {
    while (this.#opening.size) await Promise.all(this.#opening);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#trace.close();
    this.#traffic.stop();
    this.#view.off('change', this.#onChange);
    this.#stopHearingVips();
    // The names are this mesh's view: an engine with no mesh (it left the swarm) publishes none.
    if (this.#holdsVipsNow) this.#dns?.setRecords([]);
    const closing = [...this.#listeners.values()].map((l) => this.#stop(l));
    this.#listeners.clear();
    for (const socket of this.#clients.keys()) socket.destroy();
    this.#http.close();
    await Promise.all([...closing, this.#faults.close()]);
    this.#metrics?.stopReading(this.#poolViews);
  }

  /** Closes a listener's port (and ends its UDP flows); resolves once it is closed. */
  #stop(listener: Listener): Promise<void> {
    clearTimeout(listener.retry);
    listener.settle?.();
    listener.relay?.close();
    // Its idle http clients are closed now; a busy one is let go with its next answer.
    listener.http?.close();
    return new Promise<void>((resolve) => {
      try {
        listener.server.close(() => resolve());
      } catch {
        resolve(); // a UDP socket whose bind failed is closed already
      }
    });
  }
}

function maxConnectionsOf(route: PublishedRoute): number {
  return route.settings.maxConnections || Infinity;
}

/** In http mode the idle timeout is how long a client's connection may wait between requests. */
function clientKeepAliveOf(route: PublishedRoute): number {
  return route.settings.idleTimeoutMs || CLIENT_KEEP_ALIVE_MS;
}
