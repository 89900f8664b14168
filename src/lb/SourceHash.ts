// The client's address picks the backend (rendezvous hashing): each backend scores hash(client, backend)
// and the highest wins. The same client keeps its backend while the pool is stable, and when a backend
// leaves only its own clients move.
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';

export class SourceHash implements Balancer {
  readonly usesClientAddress = true;

  pick(pool: Pool, exclude?: ReadonlySet<Backend>, client = ''): Backend | undefined {
    let best: Backend | undefined;
    let bestScore = -1;
    for (const backend of pool.available) {
      if (exclude?.has(backend)) continue;
      const score = fnv1a(client, backend.id);
      if (score > bestScore) {
        best = backend;
        bestScore = score;
      }
    }
    return best;
  }
}

/** FNV-1a over the client address, a separator and the backend id: fast, and spread well enough here. */
function fnv1a(client: string, id: string): number {
  let hash = 0x811c9dc5;
  const text = `${client}\u0000${id}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // A final mix, so ids that differ only in their last characters do not score in step.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
