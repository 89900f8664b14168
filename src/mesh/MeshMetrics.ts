// One node's data-plane metrics, on that node's own prom-client Registry: how many connections, flows
// and requests each task got through this node, what failed, and each pool's state. Counters are counted
// where things happen (the forwarders' events): per connection or request a counter and one or two
// histogram observations, per UDP datagram a sum; a TCP connection's bytes are added once, at its close,
// and read live while it is open. Gauges are read from the pools when scraped. Labels carry names users
// know (service, task, node hostname), never client addresses or paths, so their sets stay bounded.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { memberStateOf } from '../lb/index.js';
import type { Backend, ForwardEvents } from '../lb/index.js';

/** What a pool looks like to a scrape: the service it serves and its backends now. */
export interface PoolView {
  serviceName: string;
  backends: readonly Backend[];
}

/** A tcp connection still open, for the bytes it has carried so far. */
export interface LiveConnection {
  service: string;
  read: number;
  written: number;
}

/** A task gone from every pool of the node keeps its series this long, so the last scrapes see its final counts. */
const FORGET_AFTER_MS = 5 * 60_000;

/** Where a listener's traffic is counted: its service, port and protocol. */
export interface RouteLabels {
  service: string;
  port: string;
  protocol: string;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class MeshMetrics {
  readonly #node: string;
  #pools: () => Iterable<PoolView> = () => [];
  #live: () => Iterable<LiveConnection> = () => [];
  /** Bytes of closed connections and of datagrams, per service: plain sums, made a counter at scrape. */
  readonly #bytesDone = new Map<string, { in: number; out: number }>();
  /** Tasks gone from every pool, and when their series go too. */
  readonly #forgetting = new Map<string, NodeJS.Timeout>();
  /** The tasks in the node's pools at the last report. */
  #inPools = new Set<string>();
  readonly #connections: Counter<'node' | 'service' | 'port' | 'protocol' | 'task'>;
  readonly #requests: Counter<'node' | 'service' | 'task' | 'code'>;
  readonly #requestSeconds: Histogram<'node' | 'service'>;
  readonly #connectSeconds: Histogram<'node' | 'service'>;
  readonly #failures: Counter<'node' | 'service' | 'reason'>;
  readonly #connectFailures: Counter<'node' | 'service' | 'task'>;
  readonly #retries: Counter<'node' | 'service'>;
  readonly #ejections: Counter<'node' | 'service' | 'task'>;

  readonly #forgetAfterMs: number;

  constructor(registry: Registry, node: string, options: { forgetAfterMs?: number } = {}) {
    this.#node = node;
    this.#forgetAfterMs = options.forgetAfterMs ?? FORGET_AFTER_MS;
    const registers = [registry];
    this.#connections = new Counter({
      name: 'routemesh_connections_total', registers,
      help: 'Connections (tcp) and flows (udp) this node handed to a task, by the published or VIP port they came in on. http mode counts requests instead (routemesh_http_requests_total).',
      labelNames: ['node', 'service', 'port', 'protocol', 'task'],
    });
    this.#requests = new Counter({
      name: 'routemesh_http_requests_total', registers,
      help: 'http mode: requests answered through this node, by the task that got them and the status class (the mesh\'s own 502 and 504 included).',
      labelNames: ['node', 'service', 'task', 'code'],
    });
    this.#requestSeconds = new Histogram({
      name: 'routemesh_http_request_duration_seconds', registers, buckets: LATENCY_BUCKETS,
      help: 'http mode: from a request\'s head read to its answer\'s end, whoever answered.',
      labelNames: ['node', 'service'],
    });
    this.#connectSeconds = new Histogram({
      name: 'routemesh_upstream_connect_duration_seconds', registers, buckets: LATENCY_BUCKETS,
      help: 'How long new connections from this node to tasks took to open.',
      labelNames: ['node', 'service'],
    });
    new Counter({
      name: 'routemesh_bytes_total', registers,
      help: 'Bytes through this node: in from clients, out to them (open tcp connections included, as far as they have come).',
      labelNames: ['node', 'service', 'direction'],
      collect: this.#collectBytes(),
    });
    this.#failures = new Counter({
      name: 'routemesh_balancing_failures_total', registers,
      help: 'Clients this node could not serve: no_backend (no task in the pool), connect_failed (no task could be reached), refused (a PROXY header not believed, or an http-mode request refused at the node).',
      labelNames: ['node', 'service', 'reason'],
    });
    this.#connectFailures = new Counter({
      name: 'routemesh_connect_failures_total', registers,
      help: 'Connects from this node to a task that failed (refused or timed out).',
      labelNames: ['node', 'service', 'task'],
    });
    this.#retries = new Counter({
      name: 'routemesh_retries_total', registers,
      help: 'Tries on another task after a failed connect.',
      labelNames: ['node', 'service'],
    });
    this.#ejections = new Counter({
      name: 'routemesh_ejections_total', registers,
      help: 'Times this node ejected a task from its pool (outlier detection).',
      labelNames: ['node', 'service', 'task'],
    });
    // Gauges are read off the pools at scrape time: always exact, and free between scrapes.
    new Gauge({
      name: 'routemesh_active_connections', registers,
      help: 'Connections (tcp), flows (udp) and requests (http mode) open from this node to each task now.',
      labelNames: ['node', 'service', 'task'],
      collect: this.#collectActive(),
    });
    new Gauge({
      name: 'routemesh_pool_members', registers,
      help: 'Tasks in this node\'s pools by state: serving, draining (stopping, open connections finish), unhealthy, ejected. 1 per task and pool.',
      labelNames: ['node', 'service', 'task', 'state'],
      collect: this.#collectMembers(),
    });
  }

  /** What a scrape reads: the node's mesh while it runs (a node that rejoins has a new one). */
  read(pools: () => Iterable<PoolView>, live: () => Iterable<LiveConnection>): void {
    this.#pools = pools;
    this.#live = live;
  }

  /** The mesh that read `pools` has closed; a newer one may read already, and is left alone. */
  stopReading(pools: () => Iterable<PoolView>): void {
    if (this.#pools !== pools) return;
    this.#pools = () => [];
    this.#live = () => [];
  }

  /**
   * The tasks now in the node's pools. A task no longer among them has its series removed after a while:
   * tasks come and go with every update, and a node that kept them all would grow without end. The
   * metrics outlive the node's mesh, so a task the last mesh held is forgotten even after a rejoin.
   */
  tasksInPools(tasks: ReadonlySet<string>): void {
    this.tasksMoved(tasks, [...this.#inPools].filter((task) => !tasks.has(task)));
  }

  /** What one sync changed: tasks that joined the node's pools, and tasks that left the last of them. */
  tasksMoved(joined: Iterable<string>, left: Iterable<string>): void {
    for (const task of joined) {
      this.#inPools.add(task);
      clearTimeout(this.#forgetting.get(task));
      this.#forgetting.delete(task);
    }
    for (const task of left) {
      if (!this.#inPools.delete(task) || this.#forgetting.has(task)) continue;
      this.#forgetting.set(task, setTimeout(() => {
        this.#forgetting.delete(task);
        void this.#forget(task);
      }, this.#forgetAfterMs).unref());
    }
  }

  async #forget(task: string): Promise<void> {
    for (const metric of [this.#connections, this.#requests, this.#connectFailures, this.#ejections] as Counter<string>[]) {
      for (const { labels } of (await metric.get()).values) {
        if (labels.task === task) metric.remove(labels as Record<string, string>);
      }
    }
  }

  /** The counters for one listener's traffic, around the pool's own events (outlier detection, logs). */
  eventsFor(route: RouteLabels, inner: ForwardEvents): ForwardEvents {
    const node = this.#node;
    const { service } = route;
    return {
      ...inner,
      connected: (backend, attempts) => {
        inner.connected?.(backend, attempts);
        // For UDP this is the task's first answer: its flow was counted when it opened.
        if (route.protocol === 'tcp') this.#connections.inc({ node, ...route, task: backend.label });
      },
      flowOpened: (backend) => {
        inner.flowOpened?.(backend);
        this.#connections.inc({ node, ...route, task: backend.label });
      },
      connectError: (backend, error) => {
        inner.connectError?.(backend, error);
        this.#connectFailures.inc({ node, service, task: backend.label });
      },
      failed: (reason, detail) => {
        inner.failed?.(reason, detail);
        this.#failures.inc({ node, service, reason });
      },
      retried: () => this.#retries.inc({ node, service }),
      upstreamConnected: (_backend, seconds) => this.#connectSeconds.observe({ node, service }, seconds),
      answered: (backend, status) => {
        inner.answered?.(backend, status);
        this.#requests.inc({ node, service, task: backend.label, code: `${Math.floor(status / 100)}xx` });
      },
      finished: (seconds) => this.#requestSeconds.observe({ node, service }, seconds),
      transferred: (direction, bytes) => this.#addBytes(service, direction === 'in' ? bytes : 0, direction === 'out' ? bytes : 0),
    };
  }

  /** A tcp connection of `service` closed after `read` bytes in and `written` out. */
  connectionClosed(service: string, read: number, written: number): void {
    this.#addBytes(service, read, written);
  }

  #addBytes(service: string, read: number, written: number): void {
    let sums = this.#bytesDone.get(service);
    if (!sums) this.#bytesDone.set(service, (sums = { in: 0, out: 0 }));
    sums.in += read;
    sums.out += written;
  }

  #collectBytes(): (this: Counter<'node' | 'service' | 'direction'>) => void {
    const metrics = this;
    return function collect() {
      const sums = new Map([...metrics.#bytesDone].map(([service, s]) => [service, { ...s }]));
      for (const { service, read, written } of metrics.#live()) {
        const s = sums.get(service) ?? { in: 0, out: 0 };
        s.in += read;
        s.out += written;
        sums.set(service, s);
      }
      this.reset();
      for (const [service, s] of sums) {
        this.inc({ node: metrics.#node, service, direction: 'in' }, s.in);
        this.inc({ node: metrics.#node, service, direction: 'out' }, s.out);
      }
    };
  }

  ejected(service: string, backend: Backend): void {
    this.#ejections.inc({ node: this.#node, service, task: backend.label });
  }

  #collectActive(): (this: Gauge<'node' | 'service' | 'task'>) => void {
    const metrics = this;
    return function collect() {
      this.reset();
      const sums = new Map<string, { service: string; task: string; active: number }>();
      for (const { serviceName, backends } of metrics.#pools()) {
        for (const backend of backends) {
          const key = `${serviceName}\n${backend.label}`;
          const sum = sums.get(key) ?? { service: serviceName, task: backend.label, active: 0 };
          sum.active += backend.active;
          sums.set(key, sum);
        }
      }
      for (const { service, task, active } of sums.values()) this.set({ node: metrics.#node, service, task }, active);
    };
  }

  #collectMembers(): (this: Gauge<'node' | 'service' | 'task' | 'state'>) => void {
    const metrics = this;
    return function collect() {
      this.reset();
      const now = Date.now();
      for (const { serviceName, backends } of metrics.#pools()) {
        for (const backend of backends) {
          this.set({ node: metrics.#node, service: serviceName, task: backend.label, state: memberStateOf(backend, now) }, 1);
        }
      }
    };
  }
}
