// The faults injected into the swarm's links, kept in the store with its other objects, so every manager
// can list them and every node's mesh (and each manager's cluster port) reads them from its view. A fault
// with a duration lifts itself: the leader removes it when it runs out (after a restore too); nodes
// also stop applying it at that time by their own clock, in case the removal cannot reach them.
import type { Fault } from './model.js';
import { nowIso } from './model.js';
import type { ClusterView, Store } from './Store.js';
import { faultSpecFrom } from './faultSpec.js';
import { resolveRef } from './resolveRef.js';
import { newObjectId } from './ids.js';
import type { SetTimer, Timer } from './timer.js';

/** What the engine API reads of faults: the leader's Faults, or a follower's copy. */
export interface FaultReads {
  list(): readonly Fault[];
  /** Full ID, then unique ID prefix. */
  resolve(ref: string): Fault;
}

export function faultReadsOf(view: ClusterView): FaultReads {
  return {
    list: () => [...view.all('fault')].sort((a, b) => a.Version.Index - b.Version.Index),
    resolve: (ref) => resolveRef('fault', view.all('fault'), ref, () => []),
  };
}

export class Faults implements FaultReads {
  readonly #store: Store;
  readonly #reads: FaultReads;
  readonly #setTimer: SetTimer;
  readonly #now: () => number;
  readonly #expiries = new Map<string, Timer>();

  constructor(store: Store, options: { setTimer: SetTimer; now: () => number }) {
    this.#store = store;
    this.#reads = faultReadsOf(store);
    this.#setTimer = options.setTimer;
    this.#now = options.now;
  }

  list(): readonly Fault[] {
    return this.#reads.list();
  }

  resolve(ref: string): Fault {
    return this.#reads.resolve(ref);
  }

  add(input: unknown): Fault {
    const spec = faultSpecFrom(input, this.#store, this.#now());
    const now = nowIso();
    const fault = this.#store.put('fault', { ID: newObjectId(), Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: spec });
    this.#expireLater(fault);
    return fault;
  }

  remove(ref: string): Fault {
    const fault = this.resolve(ref);
    this.#expiries.get(fault.ID)?.cancel();
    this.#expiries.delete(fault.ID);
    this.#store.delete('fault', fault.ID);
    return fault;
  }

  /** A service or node is gone: so are the faults that name it (a new one of the same name is another object). */
  forget(id: string): void {
    for (const fault of this.list()) if (namedIds(fault).includes(id)) this.remove(fault.ID);
  }

  /** After a restore: the faults that ran out meanwhile go, the others lift themselves when due. */
  restored(): void {
    for (const fault of this.list()) this.#expireLater(fault);
  }

  close(): void {
    for (const timer of this.#expiries.values()) timer.cancel();
    this.#expiries.clear();
  }

  #expireLater(fault: Fault): void {
    if (!fault.Spec.ExpiresAt) return;
    const expire = (): void => {
      this.#expiries.delete(fault.ID);
      if (this.#store.get('fault', fault.ID)) this.#store.delete('fault', fault.ID);
    };
    const left = Date.parse(fault.Spec.ExpiresAt) - this.#now();
    if (left <= 0) expire();
    else this.#expiries.set(fault.ID, this.#setTimer(expire, left));
  }
}

/** The IDs of the services and nodes a fault names. */
function namedIds(fault: Fault): string[] {
  const { Service, TaskNode, From, Between } = fault.Spec.Target;
  return [Service, TaskNode, From, ...(Between ?? [])].flatMap((named) => (named ? [named.ID] : []));
}
