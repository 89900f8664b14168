// The swarm's injected faults as this node's mesh meets them: for each member of its pools, the faults whose
// target takes in that task from this node, merged into one LinkFault on the backend's link. A backend
// keeps its link while it has a fault: one whose merged fault changed has its link changed, so the shaped
// connections open through it take the new one; one whose faults all went has its link lifted. Faults that
// run out stop applying at their time by this node's clock, whether or not the removal has reached it.
import { FaultProxy, FaultyLink } from '../lb/index.js';
import type { Backend, LinkFault } from '../lb/index.js';
import { realTimer } from '../swarm/index.js';
import type { ClusterView, Fault, Task, Timer } from '../swarm/index.js';

/** Whether `fault` reaches `task` from the node `localNode`. */
export function faultReaches(fault: Fault, localNode: string | undefined, task: Task): boolean {
  const target = fault.Spec.Target;
  if (target.Between) {
    const [a, b] = target.Between;
    return (localNode === a.ID && task.NodeID === b.ID) || (localNode === b.ID && task.NodeID === a.ID);
  }
  if (target.From && target.From.ID !== localNode) return false;
  if (target.Service?.ID !== task.ServiceID) return false;
  if (target.Slot !== undefined && task.Slot !== target.Slot) return false;
  return !(target.TaskNode && task.NodeID !== target.TaskNode.ID);
}

/** Several faults on one link as one: delays add up, the tightest cap and budget win, chances compound. */
export function mergedFault(faults: readonly Fault[]): LinkFault {
  const merged: LinkFault = {};
  const compound = (a: number | undefined, b: number): number => 1 - (1 - (a ?? 0)) * (1 - b);
  for (const { Spec: spec } of faults) {
    switch (spec.Kind) {
      case 'latency':
        merged.latencyMs = (merged.latencyMs ?? 0) + (spec.LatencyMs ?? 0);
        if (spec.JitterMs) merged.jitterMs = (merged.jitterMs ?? 0) + spec.JitterMs;
        break;
      case 'bandwidth': merged.bytesPerSecond = Math.min(merged.bytesPerSecond ?? Infinity, spec.BytesPerSecond!); break;
      case 'refused': merged.refused = true; break;
      case 'reset': merged.resetAfterBytes = Math.min(merged.resetAfterBytes ?? Infinity, spec.AfterBytes!); break;
      case 'blackhole': merged.blackhole = true; break;
      case 'loss': merged.loss = compound(merged.loss, spec.Percent! / 100); break;
      case 'duplicate': merged.duplicate = compound(merged.duplicate, spec.Percent! / 100); break;
      case 'slow-connect': merged.connectDelayMs = (merged.connectDelayMs ?? 0) + spec.DelayMs!; break;
      case 'partition': merged.unreachable = true; break;
    }
  }
  return merged;
}

export class MeshFaults {
  readonly #proxy: FaultProxy;
  readonly #random: () => number;
  /** Each faulty link's merged fault, as a key: an unchanged one is left alone. */
  readonly #keys = new WeakMap<FaultyLink, string>();
  /** Backends that have a link now, so a fault that goes takes theirs away. */
  #linked = new Set<Backend>();
  /** A fault was in force at the last apply, reaching a backend or not: a task that joins later may be its target. */
  #inForce = false;
  #expiry: Timer | undefined;

  constructor(address: string, random: () => number = Math.random) {
    this.#proxy = new FaultProxy(address);
    this.#random = random;
  }

  listen(): Promise<void> {
    return this.#proxy.listen();
  }

  /** Whether any fault was in force at the last apply: the next sync has to look again. */
  get active(): boolean {
    return this.#inForce;
  }

  /**
   * Gives each backend the link its faults make (`backends`: every member of the node's pools); returns
   * those whose link changed (their idle connections, made another way, are to be closed). `expired` is
   * called at the soonest time a fault in force runs out.
   */
  apply(view: ClusterView, localNode: string | undefined, backends: Iterable<Backend>, now: number, expired: () => void): Backend[] {
    const faults = view.all('fault').filter((f) => !f.Spec.ExpiresAt || Date.parse(f.Spec.ExpiresAt) > now);
    this.#inForce = faults.length > 0;
    this.#expiry?.cancel();
    const soonest = Math.min(...faults.map((f) => (f.Spec.ExpiresAt ? Date.parse(f.Spec.ExpiresAt) : Infinity)));
    // realTimer: a fault may last longer than setTimeout can wait, which would fire at once, again and again.
    this.#expiry = soonest === Infinity ? undefined : realTimer(expired, soonest - now);
    const changed: Backend[] = [];
    const linked = new Set<Backend>();
    for (const backend of backends) {
      const task = faults.length ? view.task(backend.id) : undefined;
      const reaching = task ? faults.filter((f) => faultReaches(f, localNode, task)) : [];
      const fault = reaching.length ? mergedFault(reaching) : undefined;
      const key = fault && JSON.stringify(fault);
      const current = backend.link;
      if ((current && this.#keys.get(current)) === key) {
        if (current) linked.add(backend);
        continue;
      }
      if (current && fault) {
        current.change(fault);
        this.#keys.set(current, key!);
        linked.add(backend);
      } else if (current) {
        current.lift();
        backend.link = undefined;
      } else if (fault) {
        const link = new FaultyLink(fault, { proxy: this.#proxy, random: this.#random });
        this.#keys.set(link, key!);
        backend.link = link;
        linked.add(backend);
      }
      changed.push(backend);
    }
    // Backends that left every pool keep no link either.
    for (const backend of this.#linked) {
      if (linked.has(backend)) continue;
      if (backend.link) {
        backend.link.lift();
        backend.link = undefined;
      }
    }
    this.#linked = linked;
    return changed;
  }

  async close(): Promise<void> {
    this.#expiry?.cancel();
    for (const backend of this.#linked) {
      backend.link?.lift();
      backend.link = undefined;
    }
    this.#linked.clear();
    await this.#proxy.close();
  }
}
