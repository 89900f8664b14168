// The data plane of one node: opens a listener on the node's address for every published port (TCP or
// UDP) and balances over that service's pool: each new connection, each request in http mode, each flow
// of datagrams. On the node that holds the VIPs it
// also listens on each service's VIP, and publishes the cluster's names to the DNS server, in the same
// step as the pools change. It follows the cluster view; listeners outlive configuration changes, and
// the per-connection path is a field read and a pick().
import dgram from 'node:dgram';
import type http from 'node:http';
import net from 'node:net';
import { CLIENT_KEEP_ALIVE_MS, HttpForwarder, TcpForwarder, UdpRelay } from '../lb/index.js';
import type { ForwardEvents, HttpTarget } from '../lb/index.js';
import { naturalOrder, UNPRIVILEGED_PORT_SHIFT } from '../swarm/index.js';
import type { ClusterView, Service, SwarmNode, Task } from '../swarm/index.js';
import type { ServiceRecord } from '../vip-dns/index.js';
import { buildRoutingTable, groupByService, servicePorts, sortedPorts } from './RoutingTable.js';
import type { PublishedRoute, ServicePort } from './RoutingTable.js';
import { dnsRecords } from './dnsRecords.js';
import { BalancedPool } from './BalancedPool.js';
import type { LiveConnection, MeshMetrics, PoolView } from './MeshMetrics.js';
import type { LocalMeshes } from './LocalMeshes.js';

/** Where the node that holds the VIPs publishes the names: the cluster's embedded DNS server. */
export interface DnsSink {
  setRecords(records: readonly ServiceRecord[]): void;
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
  /** The other meshes of this process, among which one holds the VIPs; without it, every Ready node counts. */
  local?: LocalMeshes;
  /** The node's metrics, which outlive this mesh (a node that rejoins gets a new one). */
  metrics?: MeshMetrics;
}

/** What a listener balances over; replaced in place so the listener never has to be reopened. */
interface Target {
  route: PublishedRoute;
  /** What the forwarders read per connection, request or datagram: the pool's parts and the route's events. */
  lane: HttpTarget;
  /** The pool's own events, which the lane's wrap when the node counts traffic. */
  poolEvents: ForwardEvents;
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
  http?: http.Server;
  /** Ends the wait for the bind in flight: a UDP socket closed while binding says neither yes nor no. */
  settle?: () => void;
}

const RETRY_MAX_MS = 30_000;
/** A sync shorter than this runs at once, however often: small clusters follow every change as it happens. */
const COSTLY_SYNC_MS = 2;
/** A costly sync is followed by at least this many times its length without one. */
const SYNC_SPACING = 4;

export class Mesh {
  readonly node: string;
  readonly address: string;
  #view: ClusterView;
  #log: (line: string) => void;
  #retryFirstMs: number;
  #dns: DnsSink | undefined;
  #local: LocalMeshes | undefined;
  #metrics: MeshMetrics | undefined;
  #forwarder: TcpForwarder;
  #http: HttpForwarder;
  #listeners = new Map<string, Listener>();
  #pools = new Map<string, BalancedPool>();
  /** Each service's target ports as its tasks have shown them so far (see #rememberPorts). */
  #targetPorts = new Map<string, ServicePort[]>();
  /** The sync queued for the next burst of changes; settled() waits for it. */
  #queuedSync: { promise: Promise<void>; resolve: () => void } | undefined;
  /** When the last sync ended and how long it took (see #queueSync). */
  #lastSync = { endedAt: 0, tookMs: 0 };
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
  #onChange = (): void => this.#queueSync();

  constructor(options: MeshOptions) {
    this.node = options.node;
    this.address = options.address;
    this.#view = options.view;
    this.#log = options.log ?? (() => {});
    this.#retryFirstMs = options.retryFirstMs ?? 1000;
    this.#dns = options.dns;
    this.#local = options.local;
    this.#metrics = options.metrics;
    // Tasks see connections come from the node that forwarded them, as behind Swarm's ingress.
    this.#forwarder = new TcpForwarder({ localAddress: options.address });
    this.#http = new HttpForwarder({ localAddress: options.address });
  }

  start(): void {
    this.#metrics?.read(this.#poolViews, this.#liveConnections);
    this.#view.on('change', this.#onChange);
    this.#local?.add(this);
    this.sync();
  }

  /**
   * Changes arrive in bursts (one per task state); one sync per burst is enough. A sync reads the whole
   * cluster, so when syncs grow costly (thousands of tasks) they are spaced to take at most a fifth of
   * the time: the rest is left to connections, the engine API and the other nodes.
   */
  #queueSync(): void {
    if (this.#queuedSync || this.#closed) return;
    let resolve!: () => void;
    const queued = { promise: new Promise<void>((r) => { resolve = r; }), resolve: () => resolve() };
    this.#queuedSync = queued;
    const run = (): void => {
      this.#queuedSync = undefined;
      try {
        if (!this.#closed) this.sync();
      } finally {
        queued.resolve();
      }
    };
    const { endedAt, tookMs } = this.#lastSync;
    const wait = tookMs < COSTLY_SYNC_MS ? 0 : endedAt + tookMs * SYNC_SPACING - performance.now();
    if (wait <= 0) queueMicrotask(run);
    else setTimeout(run, wait);
  }

  /**
   * The VIPs and the DNS server's address are on this one machine: the first Ready node (by hostname)
   * whose mesh runs holds the VIP listeners and publishes the names.
   */
  #holdsVips(nodes: readonly SwarmNode[]): boolean {
    const candidates = nodes.filter((n) => n.Status.State === 'ready')
      .map((n) => n.Description.Hostname)
      .filter((hostname) => !this.#local || this.#local.runs(hostname))
      .sort(naturalOrder);
    return candidates[0] === this.node;
  }

  sync(): void {
    if (this.#closed) return;
    const startedAt = performance.now();
    try {
      this.#syncNow();
    } finally {
      const endedAt = performance.now();
      this.#lastSync = { endedAt, tookMs: endedAt - startedAt };
    }
  }

  #syncNow(): void {
    const [services, tasks, nodes] = [this.#view.services(), this.#view.tasks(), this.#view.nodes()];
    const holdsVips = this.#holdsVips(nodes);
    const targetPorts = this.#rememberPorts(services, tasks);
    const localNode = nodes.find((n) => n.Description.Hostname === this.node)?.ID;
    const table = buildRoutingTable(services, tasks, nodes, { withVips: holdsVips, targetPorts, ...(localNode ? { localNode } : {}) });
    // In the same step as the pools below: a task is named in DNS exactly when it takes new connections.
    if (holdsVips) this.#dns?.setRecords(dnsRecords(services, tasks, nodes, targetPorts));
    for (const [key, desired] of table.pools) {
      let pool = this.#pools.get(key);
      if (!pool) {
        pool = new BalancedPool({
          log: this.#log,
          retire: (backend) => this.#http.retire(backend),
          ejected: (backend) => this.#metrics?.ejected(pool!.serviceName, backend),
        });
        this.#pools.set(key, pool);
      }
      pool.set(desired);
    }
    for (const [key, pool] of this.#pools) {
      if (table.pools.has(key)) continue;
      pool.set([]); // its backends retire: http mode closes their idle connections
      this.#pools.delete(key);
    }
    if (this.#metrics) {
      this.#metrics.tasksInPools(new Set([...this.#pools.values()].flatMap((p) => p.pool.backends.map((b) => b.label))));
    }

    // A published port and its VIP port share one pool: it is configured once.
    const configured = new Set<string>();
    for (const [key, route] of table.routes) {
      const pool = this.#pools.get(route.poolKey)!;
      if (!configured.has(route.poolKey)) {
        configured.add(route.poolKey);
        pool.configure(route.settings, route.serviceName, `${this.node}'s pool of ${route.serviceName}:${route.targetPort}`);
      }
      const listener = this.#listeners.get(key);
      const target = this.#target(route, pool, listener?.target);
      if (listener) {
        listener.target = target;
        if (listener.server instanceof net.Server) listener.server.maxConnections = maxConnectionsOf(route);
        if (listener.http) listener.http.keepAliveTimeout = clientKeepAliveOf(route);
      } else if (route.protocol === 'tcp' || route.protocol === 'udp') {
        this.#open(target);
      }
    }
    for (const [key, listener] of this.#listeners) {
      if (!table.routes.has(key)) {
        this.#listeners.delete(key);
        this.#stop(listener);
      }
    }
  }

  /**
   * The route with the pool's parts as of this sync, its traffic counted when the node has metrics. The
   * counting events are made again only when the route's service or pool changes (`previous` is the
   * listener's last target): every node syncs at every change in the cluster.
   */
  #target(route: PublishedRoute, pool: BalancedPool, previous: Target | undefined): Target {
    let events = pool.events;
    if (this.#metrics) {
      events = previous?.poolEvents === pool.events && previous.route.serviceName === route.serviceName
        ? previous.lane.events
        : this.#metrics.eventsFor({ service: route.serviceName, port: String(route.publishedPort), protocol: route.protocol }, pool.events);
    }
    const lane = { pool: pool.pool, balancer: pool.balancer, events, limits: pool.limits, serviceName: route.serviceName };
    return { route, lane, poolEvents: pool.events };
  }

  /**
   * A service without published ports has VIP ports only as its tasks show them: remembered while the
   * service lives, its VIP port stays open (and its SRV name answers) through a scale to 0 or the
   * replacement of its only task.
   */
  #rememberPorts(services: readonly Service[], tasks: readonly Task[]): Map<string, ServicePort[]> {
    const byService = groupByService(tasks);
    const remembered = new Map<string, ServicePort[]>();
    for (const service of services) {
      const ports = new Map<string, ServicePort>();
      for (const port of [...(this.#targetPorts.get(service.ID) ?? []), ...servicePorts(service, byService.get(service.ID) ?? [])]) {
        ports.set(`${port.port}/${port.protocol}`, port);
      }
      remembered.set(service.ID, sortedPorts(ports.values()));
    }
    this.#targetPorts = remembered;
    return remembered;
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
      this.#clients.set(socket, t.route.serviceName);
      socket.once('close', () => {
        this.#clients.delete(socket);
        this.#metrics?.connectionClosed(t.route.serviceName, socket.bytesRead, socket.bytesWritten);
      });
      if (t.route.settings.mode === 'http') {
        listener.http ??= this.#httpServer(listener);
        listener.http.emit('connection', socket);
        socket.resume();
        return;
      }
      const { pool, balancer, events, limits } = t.lane;
      this.#forwarder.forward(socket, pool, balancer, events, limits);
    });
    server.maxConnections = maxConnectionsOf(listener.target.route);
    return server;
  }

  #httpServer(listener: Listener): http.Server {
    const server = this.#http.server(() => listener.target.lane);
    server.keepAliveTimeout = clientKeepAliveOf(listener.target.route);
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

  /** Resolves when every listener asked for so far is open (or has failed and said so). */
  async settled(): Promise<void> {
    for (;;) {
      // A sync spaced out after a costly one is still to come: what it opens is part of being settled.
      if (this.#queuedSync) await this.#queuedSync.promise;
      else if (this.#opening.size) await Promise.all(this.#opening);
      else return;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#view.off('change', this.#onChange);
    const closing = [...this.#listeners.values()].map((l) => this.#stop(l));
    this.#listeners.clear();
    for (const socket of this.#clients.keys()) socket.destroy();
    this.#http.close();
    await Promise.all(closing);
    this.#local?.remove(this);
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
