// The backend with the fewest open connections for its weight (HAProxy's leastconn): a slow backend
// holds its connections longer, so it gets fewer new ones (see Backend.load). Ties go round robin, so an idle pool still
// spreads its connections.
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';

export class LeastConnections implements Balancer {
  #next = 0;

  pick(pool: Pool, exclude?: ReadonlySet<Backend>): Backend | undefined {
    const available = pool.available;
    const count = available.length;
    let best: Backend | undefined;
    let bestLoad = Infinity;
    let bestIndex = 0;
    for (let i = 0; i < count; i++) {
      const index = (this.#next + i) % count;
      const backend = available[index]!;
      if (exclude?.has(backend)) continue;
      const load = backend.load;
      if (load < bestLoad) {
        best = backend;
        bestLoad = load;
        bestIndex = index;
      }
    }
    if (best) this.#next = (bestIndex + 1) % count;
    return best;
  }
}
