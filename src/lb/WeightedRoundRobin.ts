// Smooth weighted round robin (nginx's): every pick adds each backend's weight to its running score,
// takes the highest, and subtracts the total from it. Weights 5:1:1 give a a b a c a a, spread out
// rather than five a's in a row.
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';

export class WeightedRoundRobin implements Balancer {
  /** Running scores, by backend; a backend that leaves the pool takes its score with it. */
  #scores = new WeakMap<Backend, number>();

  pick(pool: Pool, exclude?: ReadonlySet<Backend>): Backend | undefined {
    let total = 0;
    let best: Backend | undefined;
    let bestScore = -Infinity;
    for (const backend of pool.available) {
      if (exclude?.has(backend)) continue;
      const score = (this.#scores.get(backend) ?? 0) + backend.weight;
      this.#scores.set(backend, score);
      total += backend.weight;
      if (score > bestScore) {
        best = backend;
        bestScore = score;
      }
    }
    if (best) this.#scores.set(best, bestScore - total);
    return best;
  }
}
