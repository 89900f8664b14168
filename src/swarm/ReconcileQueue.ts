// The manager's run loop: what changed (a service, a node, the task address pool) waits here and is
// reconciled in bounded slices that yield to the event loop, so no request (a scale to thousands of
// replicas, a drain, a burst of task reports) holds the process. Never re-entered: a change made while a
// slice runs only queues its work. One item's error is reported and the slice goes on with the next.

/** What one slice may still do: each reconcile costs one, each task it creates, stops or writes one more. */
export interface SliceBudget {
  left: number;
}

/**
 * What can need reconciling: a service (its tasks against its spec), a node (its tasks against its
 * availability and state), or the task address pool (tasks waiting for an address once one is free).
 */
export type Dirty = { kind: 'service'; id: string } | { kind: 'node'; id: string } | { kind: 'addresses' };

/** Reconciles one item within the budget; queues it again itself when it could not finish. */
export type ReconcileWork = (item: Dirty, budget: SliceBudget) => void;

/**
 * Task writes per slice. A write costs every node's mesh and agent a look at the change, so a slice of
 * this many keeps a turn of the event loop in the low milliseconds however large the service.
 */
const DEFAULT_SLICE_BUDGET = 100;

function keyOf(item: Dirty): string {
  return item.kind === 'addresses' ? item.kind : `${item.kind} ${item.id}`;
}

export class ReconcileQueue {
  #work: ReconcileWork;
  #perSlice: number;
  #onError: (error: unknown, item: Dirty) => void;
  /** In the order they were queued: an item queued again goes to the back, so each gets its turn. */
  #dirty = new Map<string, Dirty>();
  #running = false;
  #later: NodeJS.Immediate | undefined;
  #closed = false;
  #idle: (() => void)[] = [];

  constructor(work: ReconcileWork, options: { perSlice?: number; onError: (error: unknown, item: Dirty) => void }) {
    this.#work = work;
    this.#perSlice = options.perSlice ?? DEFAULT_SLICE_BUDGET;
    this.#onError = options.onError;
  }

  add(item: Dirty): void {
    if (this.#closed) return;
    const key = keyOf(item);
    this.#dirty.delete(key);
    this.#dirty.set(key, item);
  }

  /**
   * One slice now (a request's own change shows at once when it is small); what is left runs on later
   * turns. It throws nothing: callers are requests whose write is done, and timers.
   */
  runNow(): void {
    this.#slice();
  }

  /** The next turn of the event loop runs a slice: task reports arrive in bursts, and one reconcile serves them all. */
  runSoon(): void {
    if (this.#later || this.#closed || this.#dirty.size === 0) return;
    this.#later = setImmediate(() => {
      this.#later = undefined;
      this.#slice();
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
      for (const [key, item] of this.#dirty) {
        if (budget.left <= 0) break;
        this.#dirty.delete(key);
        budget.left--;
        try {
          this.#work(item, budget);
        } catch (error) {
          // One service's bug must not stop the others' reconciles, nor surface in whichever request or
          // timer happened to run this slice.
          this.#onError(error, item);
        }
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
