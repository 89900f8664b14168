// The backends of one service as one node sees them. Membership changes swap the list; Backend
// objects are kept across changes so their counters and open connections survive a re-sync.
import { Backend } from './Backend.js';

export interface BackendDesired {
  id: string;
  host: string;
  port: number;
  state: Backend['state'];
  label?: string;
}

export class Pool {
  #backends = new Map<string, Backend>();
  /** Precomputed on every change so the per-connection pick reads one array. */
  available: Backend[] = [];

  get backends(): Backend[] {
    return [...this.#backends.values()];
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
      next.set(d.id, backend);
    }
    this.#backends = next;
    this.available = [...next.values()].filter((b) => b.state === 'up');
  }
}
