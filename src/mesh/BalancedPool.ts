// One service port's pool on one node, with what balances it: the algorithm the service's labels ask
// for, passive outlier detection, and the forwarding limits. Reconfigured in place when the labels
// change, so listeners and the counters of their backends carry on.
import {
  LeastConnections, OutlierDetector, Pool, PowerOfTwoChoices, RoundRobin, SourceHash, WeightedRoundRobin,
} from '../lb/index.js';
import type { Backend, BackendChange, BackendDesired, BackendOrder, Balancer, ForwardEvents, ForwardLimits } from '../lb/index.js';
import { inRanges } from '../swarm/index.js';
import type { Algorithm } from '../swarm/index.js';
import type { PublishedRoute } from './RoutingTable.js';

function balancerFor(algorithm: Algorithm, random: () => number): Balancer {
  switch (algorithm) {
    case 'round-robin': return new RoundRobin();
    case 'weighted': return new WeightedRoundRobin();
    case 'least-conn': return new LeastConnections();
    case 'p2c': return new PowerOfTwoChoices(random);
    case 'source-hash': return new SourceHash();
  }
}

export interface BalancedPoolOptions {
  log: (line: string) => void;
  /** Told of each backend that left or takes no new connections (http mode closes its idle connections). */
  retire?: (backend: Backend) => void;
  /** Told of each backend back in the pool after its ejection (a trace tells it). */
  returned?: (backend: Backend) => void;
  /** What p2c draws from (Math.random when absent; seeded to replay a run). */
  random?: () => number;
  /** Told of each ejection, and for how long (metrics count them, a trace tells them). */
  ejected?: (backend: Backend, ms: number) => void;
}

export class BalancedPool {
  readonly pool: Pool;
  /** The route it was last configured for (a published port and its VIP port share one pool, and agree). */
  route: PublishedRoute | undefined;
  balancer: Balancer;
  limits: ForwardLimits = {};
  readonly events: ForwardEvents;
  #algorithm: Algorithm | undefined;
  #outlier: OutlierDetector | undefined;
  /** Names the pool in log lines: node, service and port. */
  #description = 'a pool';
  #refusals = 0;
  readonly #log: (line: string) => void;

  readonly #retire: (backend: Backend) => void;

  readonly #ejected: (backend: Backend, ms: number) => void;

  readonly #random: () => number;

  constructor(options: BalancedPoolOptions) {
    const { log } = options;
    this.#log = log;
    this.#retire = options.retire ?? (() => {});
    this.#ejected = options.ejected ?? (() => {});
    this.#random = options.random ?? Math.random;
    this.pool = new Pool({
      onReturn: (backend) => {
        log(`${this.#where(backend)} is back in the pool after its ejection`);
        options.returned?.(backend);
      },
    });
    this.balancer = new RoundRobin();
    this.events = {
      connected: (backend) => this.#outlier?.success(backend),
      connectError: (backend) => { this.#outlier?.failure(this.pool, backend); },
      answered: (backend, status) => {
        if (status >= 500) this.#outlier?.failure(this.pool, backend);
        else this.#outlier?.success(backend);
      },
      // The first refusal is said; a client trying again and again must not fill the log.
      failed: (reason, detail) => {
        if (reason === 'refused' && this.#refusals++ === 0) this.#log(`${this.#description} refused ${detail}; further refusals are not logged`);
      },
    };
  }

  get serviceName(): string {
    return this.route?.serviceName ?? '';
  }

  #where(backend: Backend): string {
    return `${backend.label} (${backend.host}:${backend.port}) in ${this.#description}`;
  }

  /** New membership; backends gone, replaced or fenced are retired. */
  set(desired: readonly BackendDesired[]): void {
    const before = this.pool.backends;
    this.pool.set(desired);
    for (const backend of before) if (this.pool.get(backend.id) !== backend || backend.state !== 'up') this.#retire(backend);
  }

  /** Changes single backends (see Pool.update); each one gone, replaced or fenced is retired. */
  update(changes: readonly BackendChange[], order: BackendOrder): void {
    const before = changes.map(([id]) => this.pool.get(id));
    this.pool.update(changes, order);
    for (const backend of before) if (backend && (this.pool.get(backend.id) !== backend || backend.state !== 'up')) this.#retire(backend);
  }

  configure(route: PublishedRoute, description: string): void {
    const { settings } = route;
    this.route = route;
    this.#description = description;
    if (settings.algorithm !== this.#algorithm) {
      this.#algorithm = settings.algorithm;
      this.balancer = balancerFor(settings.algorithm, this.#random);
    }
    // The detector keeps no state of its own (it is on the backends): a new one per sync loses nothing.
    const { consecutiveFailures } = settings.outlier;
    this.#outlier = new OutlierDetector({
      ...settings.outlier,
      onEject: (backend, ms) => {
        this.#ejected(backend, ms);
        this.#log(`${this.#where(backend)} is ejected for ${ms / 1000}s after ${consecutiveFailures} failures in a row (failed connects, or 5xx answers in http mode) (ejection ${backend.ejections})`);
      },
    });
    const trusted = settings.trustedProxies;
    this.limits = {
      maxAttempts: settings.retries + 1,
      connectTimeoutMs: settings.connectTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      responseTimeoutMs: settings.responseTimeoutMs,
      headerTimeoutMs: settings.headerTimeoutMs,
      maxConnections: settings.maxConnections,
      proxyProtocol: settings.proxyProtocol,
      ...(trusted.length ? { trustsProxy: (address: string) => inRanges(address, trusted) } : {}),
    };
  }
}
