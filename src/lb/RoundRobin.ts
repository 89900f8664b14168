// Round robin over a pool's available backends, as IPVS's `rr` does: each balancer keeps its own
// position, so every node of the mesh cycles independently.
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';

export class RoundRobin implements Balancer {
  #next = 0;

  pick(pool: Pool, exclude?: ReadonlySet<Backend>): Backend | undefined {
    const available = pool.available;
    const count = available.length;
    for (let i = 0; i < count; i++) {
      const backend = available[(this.#next + i) % count]!;
      if (exclude?.has(backend)) continue;
      this.#next = (this.#next + i + 1) % count;
      return backend;
    }
    return undefined;
  }
}
