// Everything a bench run holds open - clusters, peers, child processes - so that one closeAll(), on the way
// out or on Ctrl-C, stops all of it: a cluster left behind keeps its tasks' processes (routemesh/exec
// starts them in process groups of their own, out of Ctrl-C's reach) and its addresses and ports.
export interface Closable {
  close(): Promise<void> | void;
}

export class Resources {
  readonly #open = new Set<Closable>();
  #closing: Promise<void> | undefined;

  add<T extends Closable>(thing: T): T {
    this.#open.add(thing);
    return thing;
  }

  /** Closes `thing` now, and forgets it. */
  async release(thing: Closable): Promise<void> {
    if (!this.#open.delete(thing)) return;
    await thing.close();
  }

  /** Ctrl-C or a kill closes everything, then exits as the signal would have (130 or 143). */
  closeOnSignals(say: (signal: NodeJS.Signals) => void = () => {}): void {
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      process.once(signal, () => {
        say(signal);
        void this.closeAll().finally(() => process.exit(code));
      });
    }
  }

  /** Closes everything still open; a second call while closing waits for the same close. */
  closeAll(): Promise<void> {
    this.#closing ??= (async () => {
      const things = [...this.#open];
      this.#open.clear();
      await Promise.allSettled(things.map((thing) => thing.close()));
      this.#closing = undefined;
    })();
    return this.#closing;
  }
}
