// The backends of one service as one node sees them. Membership changes swap the list; Backend
// objects are kept across changes so their counters, open connections and ejections survive a re-sync.
import { Backend } from './Backend.js';

export interface BackendDesired {
  id: string;
  host: string;
  port: number;
  state: Backend['state'];
  label?: string;
  weight?: number;
  /** Fenced because its health check fails, not because it is stopping (metrics tell the two apart). */
  unhealthy?: boolean;
}

export interface PoolOptions {
  /** The clock ejections are measured on (milliseconds); injectable for tests. */
  now?: () => number;
  /** An ejected backend came back by itself: its ejection ended. */
  onReturn?: (backend: Backend) => void;
}

export class Pool {
  #backends = new Map<string, Backend>();
  #available: Backend[] = [];
  /** When the next ejected backend comes back; Infinity while none is ejected, so picks read no clock. */
  #nextReturn = Infinity;
  readonly #now: () => number;
  readonly #onReturn: ((backend: Backend) => void) | undefined;

  constructor(options: PoolOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#onReturn = options.onReturn;
  }

  get backends(): Backend[] {
    return [...this.#backends.values()];
  }

  /** Backends that take new connections: up, and not ejected. Precomputed, so a pick reads one array. */
  get available(): Backend[] {
    if (this.#nextReturn !== Infinity && this.#nextReturn <= this.#now()) this.#recompute();
    return this.#available;
  }

  get(id: string): Backend | undefined {
    return this.#backends.get(id);
  }

  /** Replaces membership; backends not listed leave the pool (their open connections are not touched). */
  set(desired: readonly BackendDesired[]): void {
    const next = new Map<string, Backend>();
    for (const d of desired) {
      let backend = this.#backends.get(d.id);
      if (!backend || backend.host !== d.host || backend.port !== d.port) {
        backend = new Backend(d.id, d.host, d.port, d.label);
      }
      backend.state = d.state;
      backend.weight = d.weight ?? 1;
      backend.unhealthy = d.unhealthy ?? false;
      next.set(d.id, backend);
    }
    this.#backends = next;
    this.#recompute();
  }

  /** Takes `backend` out of rotation until `until` on this pool's clock; it comes back by itself. */
  eject(backend: Backend, until: number): void {
    backend.ejectedUntil = until;
    this.#recompute();
  }

  get ejectedCount(): number {
    let count = 0;
    const now = this.#now();
    for (const backend of this.#backends.values()) if (backend.ejectedUntil > now) count++;
    return count;
  }

  #recompute(): void {
    const now = this.#now();
    let nextReturn = Infinity;
    const available: Backend[] = [];
    for (const backend of this.#backends.values()) {
      if (backend.ejectedUntil > now) {
        nextReturn = Math.min(nextReturn, backend.ejectedUntil);
        continue;
      }
      if (backend.ejectedUntil !== 0) {
        backend.ejectedUntil = 0;
        backend.returnedAt = now;
        this.#onReturn?.(backend);
      }
      if (backend.state === 'up') available.push(backend);
    }
    this.#available = available;
    this.#nextReturn = nextReturn;
  }
}
