// Every balancing decision of one node's mesh, as it happens, for whoever follows it (`routemesh trace`):
// each pick with the client, the listener, the algorithm and the pool as the node saw it then, each failed
// connect (the reason for the retry that follows), each failure to place a connection, each ejection. A
// trace costs nothing while nobody follows: the mesh wraps its listeners' events only while this has a
// subscriber, so without one the forwarders see the same events as before and build no record.
import type { Backend, ForwardEvents } from '../lb/index.js';
import { memberStateOf } from '../lb/index.js';
import type { MemberState } from '../lb/index.js';
import type { BalancedPool } from './BalancedPool.js';
import type { PublishedRoute } from './RoutingTable.js';

export interface TraceMember {
  task: string;
  name: string;
  state: MemberState;
  weight: number;
  /** Connections (requests, flows) open to it from this node when the pick was made. */
  active: number;
  /** Failed connects in a row: least-conn and p2c count them as load. */
  failures: number;
}

/** What every record says of where it happened. */
interface TraceWhere {
  /** ISO 8601, to the millisecond. */
  at: string;
  node: string;
  service: string;
  /** `127.1.0.1:8080/tcp` (a published port on this node), or the VIP's `127.10.0.2:80/tcp`. */
  listener: string;
}

export type TraceRecord = TraceWhere & (
  | {
    type: 'pick'; client: string; mode: 'tcp' | 'http'; algorithm: string;
    /** 1 for a first try; a retry after a failed connect is 2, and so on. */
    attempt: number; task: string; name: string; pool: TraceMember[];
  }
  | { type: 'connect-failed'; task: string; name: string; reason: string }
  | { type: 'failed'; reason: string; detail?: string }
  | { type: 'ejected'; task: string; name: string; forMs: number; ejection: number }
  | { type: 'returned'; task: string; name: string }
);

export interface TraceSubscriber {
  /** Only this service's records (its name); absent: every service's. */
  service?: string;
  record(record: TraceRecord): void;
  /** The mesh closed (its node left the swarm or stopped): nothing more will come. */
  end(): void;
}

export class MeshTrace {
  readonly #node: string;
  readonly #address: string;
  readonly #subscribers = new Set<TraceSubscriber>();
  readonly #activeChanged: () => void;

  /** `activeChanged`: told when the first subscriber comes or the last goes (the mesh wraps its events again). */
  constructor(node: string, address: string, activeChanged: () => void) {
    this.#node = node;
    this.#address = address;
    this.#activeChanged = activeChanged;
  }

  get active(): boolean {
    return this.#subscribers.size > 0;
  }

  /** Follows the trace until the returned function is called. */
  subscribe(subscriber: TraceSubscriber): () => void {
    this.#subscribers.add(subscriber);
    if (this.#subscribers.size === 1) this.#activeChanged();
    return () => {
      if (this.#subscribers.delete(subscriber) && this.#subscribers.size === 0) this.#activeChanged();
    };
  }

  /** `inner` (the pool's events, counted by metrics) with every decision also told to the subscribers. */
  eventsFor(route: PublishedRoute, pool: BalancedPool, inner: ForwardEvents): ForwardEvents {
    const where = (): TraceWhere => ({
      at: new Date().toISOString(), node: this.#node, service: route.serviceName,
      listener: `${route.vip ?? this.#address}:${route.vip ? route.targetPort : route.publishedPort}/${route.protocol}`,
    });
    return {
      ...inner,
      picked: (backend, client, attempt) => {
        inner.picked?.(backend, client, attempt);
        const now = Date.now();
        this.#emit(route.serviceName, {
          ...where(), type: 'pick', client, mode: route.settings.mode, algorithm: route.settings.algorithm, attempt,
          task: backend.id, name: backend.label, pool: pool.pool.backends.map((member) => memberOf(member, now)),
        });
      },
      connectError: (backend, error) => {
        inner.connectError?.(backend, error);
        const reason = (error as NodeJS.ErrnoException).code ?? error.message;
        this.#emit(route.serviceName, { ...where(), type: 'connect-failed', task: backend.id, name: backend.label, reason });
      },
      failed: (reason, detail) => {
        inner.failed?.(reason, detail);
        this.#emit(route.serviceName, { ...where(), type: 'failed', reason, ...(detail ? { detail } : {}) });
      },
    };
  }

  /** A pool of `route` ejected `backend` (for `ms`). */
  ejected(route: PublishedRoute | undefined, backend: Backend, ms: number): void {
    if (!route || !this.active) return;
    this.#emit(route.serviceName, { ...this.#poolWhere(route), type: 'ejected', task: backend.id, name: backend.label, forMs: ms, ejection: backend.ejections });
  }

  /** A pool of `route` took `backend` back after its ejection. */
  returned(route: PublishedRoute | undefined, backend: Backend): void {
    if (!route || !this.active) return;
    this.#emit(route.serviceName, { ...this.#poolWhere(route), type: 'returned', task: backend.id, name: backend.label });
  }

  /** Where a pool's own events happen: its published port on this node (its VIP port shares the pool). */
  #poolWhere(route: PublishedRoute): TraceWhere {
    return { at: new Date().toISOString(), node: this.#node, service: route.serviceName, listener: `${this.#address}:${route.publishedPort}/${route.protocol}` };
  }

  /** The mesh closed: every subscriber is told, and let go. */
  close(): void {
    const subscribers = [...this.#subscribers];
    this.#subscribers.clear();
    for (const subscriber of subscribers) subscriber.end();
  }

  #emit(service: string, record: TraceRecord): void {
    for (const subscriber of this.#subscribers) if (!subscriber.service || subscriber.service === service) subscriber.record(record);
  }
}

function memberOf(backend: Backend, now: number): TraceMember {
  return {
    task: backend.id, name: backend.label, state: memberStateOf(backend, now), weight: backend.weight,
    active: backend.active, failures: backend.consecutiveFailures,
  };
}
