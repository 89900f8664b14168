// Passive outlier detection (Envoy's consecutive-failure kind): a backend that fails N times in a row
// (a failed connect; in http mode a 5xx answer too) is ejected from its pool for a while, longer each
// time it happens again, and comes back by itself. Never more than a set share of a pool is out at once: past that, a failing pool is a failing
// service, and ejecting more would only pile the load onto what is left.
import type { Backend } from './Backend.js';
import type { Pool } from './Pool.js';

export interface OutlierDetectorOptions {
  /** Failures in a row that eject; 0 turns detection off. */
  consecutiveFailures: number;
  /** The first ejection lasts this long, the k-th k times as long ... */
  baseEjectionMs: number;
  /** ... but never longer than this. */
  maxEjectionMs: number;
  maxEjectedPercent: number;
  /** The pool's clock (milliseconds). */
  now?: () => number;
  onEject?: (backend: Backend, ms: number) => void;
}

export class OutlierDetector {
  readonly #options: OutlierDetectorOptions;
  readonly #now: () => number;

  constructor(options: OutlierDetectorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * A connect that worked (tcp), or an answer below 500 (http). After a healthy stretch as long as the longest ejection, a backend ejected
   * before earns back one step, so an ejection a day ago does not make the next one the longest (Envoy's
   * multiplier decreases the same way).
   */
  success(backend: Backend): void {
    backend.consecutiveFailures = 0;
    if (backend.ejections === 0 || backend.returnedAt === 0) return;
    const now = this.#now();
    if (now - backend.returnedAt >= this.#options.maxEjectionMs) {
      backend.ejections--;
      backend.returnedAt = now;
    }
  }

  /**
   * Counts a failure of `backend`; ejects it from `pool` when that makes N in a row. Says whether it did.
   * Failures of connects begun before an ejection, or of a backend that has left the pool, count for nothing.
   */
  failure(pool: Pool, backend: Backend): boolean {
    const { consecutiveFailures, baseEjectionMs, maxEjectionMs, maxEjectedPercent } = this.#options;
    const now = this.#now();
    if (consecutiveFailures === 0 || backend.ejectedUntil > now || pool.get(backend.id) !== backend) return false;
    if (++backend.consecutiveFailures < consecutiveFailures) return false;
    // The share is of the backends serving: during an update the fenced ones must not make room.
    const serving = pool.backends.filter((b) => b.state === 'up');
    const ejected = serving.filter((b) => b.ejectedUntil > now).length;
    if ((ejected + 1) * 100 > serving.length * maxEjectedPercent) return false;
    backend.ejections++;
    backend.consecutiveFailures = 0;
    const ms = Math.min(baseEjectionMs * backend.ejections, maxEjectionMs);
    pool.eject(backend, now + ms);
    this.#options.onEject?.(backend, ms);
    return true;
  }
}
