// What every balancing algorithm answers: which backend of a pool gets the next connection.
import type { Backend } from './Backend.js';
import type { Pool } from './Pool.js';

export interface Balancer {
  /**
   * The backend for a new connection, skipping `exclude` (already tried); undefined if none is left.
   * `client` is the client's address, for algorithms that keep a client on one backend.
   */
  pick(pool: Pool, exclude?: ReadonlySet<Backend>, client?: string): Backend | undefined;
  /** It reads `client`: without, a forwarder need not ask the kernel for a client's address (a syscall per connection). */
  readonly usesClientAddress?: boolean;
}
