// Which replicated slots go when a service scales down, in swarmkit's order: take from the nodes
// holding the most copies first, prefer tasks that are not running, and keep the low slot numbers.
import type { Task } from './model.js';

/** `slots` maps slot number to its current task; returns the slot numbers to remove. */
export function slotsToRemove(slots: ReadonlyMap<number, Task>, keep: number): number[] {
  const ordered = [...slots.entries()].sort(([slotA, a], [slotB, b]) => {
    const runningA = a.Status.State === 'running' ? 0 : 1;
    const runningB = b.Status.State === 'running' ? 0 : 1;
    return runningA - runningB || slotA - slotB;
  });
  // The nth copy on a node gets index n; keeping the lowest indexes leaves the most even spread.
  const copiesOnNode = new Map<string, number>();
  const indexed = ordered.map(([slot, task]) => {
    // An unscheduled task holds no node's place: it goes before any task that does.
    if (task.NodeID === '') return { slot, n: Infinity };
    const n = (copiesOnNode.get(task.NodeID) ?? 0) + 1;
    copiesOnNode.set(task.NodeID, n);
    return { slot, n };
  });
  indexed.sort((a, b) => a.n - b.n); // stable: ties keep the running-first, low-slot-first order
  return indexed.slice(keep).map((s) => s.slot).sort((a, b) => a - b);
}
