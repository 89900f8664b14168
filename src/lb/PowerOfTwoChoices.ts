// Two backends drawn at random, the one with fewer open connections (for its weight) wins: nearly as
// good as least connections, without every balancer piling onto the same least-loaded backend.
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';

export class PowerOfTwoChoices implements Balancer {
  readonly #random: () => number;

  /** `random` returns [0, 1), like Math.random; tests inject a sequence. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  pick(pool: Pool, exclude?: ReadonlySet<Backend>): Backend | undefined {
    const candidates = exclude?.size ? pool.available.filter((b) => !exclude.has(b)) : pool.available;
    const count = candidates.length;
    if (count <= 1) return candidates[0];
    const first = Math.floor(this.#random() * count);
    // The second draw is among the others, so the two are always different.
    const second = (first + 1 + Math.floor(this.#random() * (count - 1))) % count;
    const a = candidates[first]!;
    const b = candidates[second]!;
    return b.load < a.load ? b : a;
  }
}
