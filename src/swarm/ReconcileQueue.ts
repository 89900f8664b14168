// The manager's run loop: services whose state changed wait here and are reconciled in bounded slices
// that yield to the event loop, so no request (a scale to thousands of replicas, a burst of task
// reports) holds the process. Never re-entered: a change made while a slice runs only queues its service.

/** What one slice may still do: each reconcile costs one, each task it creates or stops one more. */
export interface SliceBudget {
  left: number;
}

/** Reconciles one service within the budget; queues it again itself when it could not finish. */
export type ReconcileWork = (serviceId: string, budget: SliceBudget) => void;

/**
 * Task writes per slice. A write costs every node's mesh and agent a look at the change, so a slice of
 * this many keeps a turn of the event loop in the low milliseconds however large the service.
 */
export const DEFAULT_SLICE_BUDGET = 100;

export class ReconcileQueue {
  #work: ReconcileWork;
  #perSlice: number;
  #onError: (error: unknown) => void;
  /** In the order they were queued: a service queued again goes to the back, so each gets its turn. */
  #dirty = new Set<string>();
  #running = false;
  #later: NodeJS.Immediate | undefined;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(work: ReconcileWork, options: { perSlice?: number; onError: (error: unknown) => void }) {
    this.#work = work;
    this.#perSlice = options.perSlice ?? DEFAULT_SLICE_BUDGET;
    this.#onError = options.onError;
  }

  add(serviceId: string): void {
    if (this.#closed) return;
    this.#dirty.delete(serviceId);
    this.#dirty.add(serviceId);
  }

  /** One slice now (a request's own change shows at once when it is small); what is left runs on later turns. */
  runNow(): void {
    this.#slice();
  }

  /** The next turn of the event loop runs a slice: task reports arrive in bursts, and one reconcile serves them all. */
  runSoon(): void {
    if (this.#later || this.#closed || this.#dirty.size === 0) return;
    this.#later = setImmediate(() => {
      this.#later = undefined;
      try {
        this.#slice();
      } catch (error) {
        this.#onError(error);
      }
    });
  }

  /** Resolves once nothing is queued (tests, and callers that want the cluster converged as far as it can go now). */
  settled(): Promise<void> {
    if (this.#dirty.size === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#dirty.clear();
    if (this.#later) clearImmediate(this.#later);
    this.#later = undefined;
    this.#wakeIdle();
  }

  #slice(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    const budget: SliceBudget = { left: this.#perSlice };
    try {
      for (const serviceId of this.#dirty) {
        if (budget.left <= 0) break;
        this.#dirty.delete(serviceId);
        budget.left--;
        this.#work(serviceId, budget);
      }
    } finally {
      this.#running = false;
      if (this.#dirty.size) this.runSoon();
      else this.#wakeIdle();
    }
  }

  #wakeIdle(): void {
    for (const resolve of this.#idle.splice(0)) resolve();
  }
}
