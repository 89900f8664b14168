// Passive outlier detection (Envoy's consecutive-failure kind): a backend that fails to connect N times
// in a row is ejected from its pool for a while, longer each time it happens again, and comes back by
// itself. Never more than a set share of a pool is out at once: past that, a failing pool is a failing
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

  success(backend: Backend): void {
    backend.consecutiveFailures = 0;
  }

  /** Counts a failure of `backend`; ejects it from `pool` when that makes N in a row. Says whether it did. */
  failure(pool: Pool, backend: Backend): boolean {
    const { consecutiveFailures, baseEjectionMs, maxEjectionMs, maxEjectedPercent } = this.#options;
    backend.consecutiveFailures++;
    const now = this.#now();
    if (consecutiveFailures === 0 || backend.consecutiveFailures < consecutiveFailures || backend.ejectedUntil > now) return false;
    if ((pool.ejectedCount + 1) * 100 > pool.backends.length * maxEjectedPercent) return false;
    backend.ejections++;
    backend.consecutiveFailures = 0;
    const ms = Math.min(baseEjectionMs * backend.ejections, maxEjectionMs);
    pool.eject(backend, now + ms);
    this.#options.onEject?.(backend, ms);
    return true;
  }
}
