// The backends of one service as one node sees them, in the order the caller keeps them. Membership is
// replaced whole or changed a backend at a time; Backend objects are kept across changes so their
// counters, open connections and ejections survive a re-sync.
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

/** A change to one backend: what it should now be, or undefined when it leaves the pool. */
export type BackendChange = readonly [id: string, desired: BackendDesired | undefined];

/** Where a backend goes among the others when it joins one at a time (negative: `a` comes first). */
export type BackendOrder = (a: BackendDesired, b: Backend) => number;

export interface PoolOptions {
  /** The clock ejections are measured on (milliseconds); injectable for tests. */
  now?: () => number;
  /** An ejected backend came back by itself: its ejection ended. */
  onReturn?: (backend: Backend) => void;
}

export class Pool {
  #backends = new Map<string, Backend>();
  /** The backends in the caller's order: what balancers cycle through. */
  #ordered: Backend[] = [];
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
    return [...this.#ordered];
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
    for (const d of desired) next.set(d.id, this.#made(d));
    this.#backends = next;
    this.#ordered = [...next.values()];
    this.#recompute();
  }

  /**
   * Changes single backends, leaving the others as they are: one joining goes where `order` places it
   * among the rest (the order `set` would have been given). Costs the changes, plus one pass over the pool.
   */
  update(changes: Iterable<BackendChange>, order: BackendOrder): void {
    for (const [id, desired] of changes) {
      const current = this.#backends.get(id);
      const backend = desired && this.#made(desired);
      // The same backend in a new state keeps its place: what orders it did not change.
      if (current && backend === current) continue;
      if (current) this.#ordered.splice(this.#ordered.indexOf(current), 1);
      if (!backend) {
        this.#backends.delete(id);
        continue;
      }
      this.#backends.set(id, backend);
      let low = 0;
      let high = this.#ordered.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (order(desired!, this.#ordered[middle]!) < 0) high = middle;
        else low = middle + 1;
      }
      this.#ordered.splice(low, 0, backend);
    }
    this.#recompute();
  }

  /** The backend `desired` describes: the one the pool has, kept when its address is the same, or a new one. */
  #made(desired: BackendDesired): Backend {
    let backend = this.#backends.get(desired.id);
    if (!backend || backend.host !== desired.host || backend.port !== desired.port) {
      backend = new Backend(desired.id, desired.host, desired.port, desired.label);
    }
    backend.state = desired.state;
    backend.weight = desired.weight ?? 1;
    backend.unhealthy = desired.unhealthy ?? false;
    return backend;
  }

  /** Takes `backend` out of rotation until `until` on this pool's clock; it comes back by itself. */
  eject(backend: Backend, until: number): void {
    backend.ejectedUntil = until;
    backend.timesEjected++;
    this.#recompute();
  }

  get ejectedCount(): number {
    let count = 0;
    const now = this.#now();
    for (const backend of this.#ordered) if (backend.ejectedUntil > now) count++;
    return count;
  }

  #recompute(): void {
    const now = this.#now();
    let nextReturn = Infinity;
    const available: Backend[] = [];
    for (const backend of this.#ordered) {
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
