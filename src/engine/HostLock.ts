// A host-wide mutex named by a string: a listening Unix socket in Linux's abstract namespace. The kernel
// frees the name when its holder dies however it dies (SIGKILL included), and the namespace is the
// network namespace's, which is what "host" means for the addresses the lock guards.
import { EventEmitter } from 'node:events';
import net from 'node:net';

export interface HostLockOptions {
  /** How often a lock another holds is tried again (500 ms). */
  retryMs?: number;
  log?: (line: string) => void;
}

export class HostLock extends EventEmitter<{ held: [] }> {
  readonly name: string;
  readonly #retryMs: number;
  readonly #log: (line: string) => void;
  /** The socket that holds the name, or tries to. */
  #server: net.Server | undefined;
  #retry: NodeJS.Timeout | undefined;
  #held = false;
  #closed = true;
  #warned = false;

  constructor(name: string, options: HostLockOptions = {}) {
    super();
    this.name = name;
    this.#retryMs = options.retryMs ?? 500;
    this.#log = options.log ?? (() => {});
  }

  get held(): boolean {
    return this.#held;
  }

  /**
   * Tries to take the lock now, and every retryMs after until it has it (`held` is emitted then).
   * Resolves with the first try's outcome. The name is bound before this returns, so of two engines of
   * one process the one that asks first gets it.
   */
  acquire(): Promise<boolean> {
    if (!this.#closed) throw new Error(`the host lock ${this.name} is being acquired already`);
    this.#closed = false;
    return this.#try();
  }

  #try(): Promise<boolean> {
    this.#retry = undefined;
    // Whoever connects is told nothing: the name is all there is to the lock.
    const server = net.createServer((socket) => socket.destroy());
    this.#server = server;
    const bound = new Promise<boolean>((resolve) => {
      server.once('listening', () => resolve(true));
      server.once('close', () => resolve(false));
      server.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EADDRINUSE' && !this.#warned) {
          this.#warned = true;
          this.#log(`cannot take the host lock ${this.name} (${error.message}); trying again every ${this.#retryMs} ms`);
        }
        resolve(false);
      });
    });
    server.listen({ path: `\0${this.name}` });
    return bound.then((held) => {
      if (this.#closed || this.#server !== server) {
        if (held) server.close();
        return false;
      }
      if (!held) {
        this.#server = undefined;
        this.#retry = setTimeout(() => void this.#try(), this.#retryMs);
        return false;
      }
      this.#held = true;
      this.emit('held');
      return true;
    });
  }

  /** Gives the lock up (or stops trying); resolves once another may take it. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#held = false;
    clearTimeout(this.#retry);
    const server = this.#server;
    this.#server = undefined;
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
