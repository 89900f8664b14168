// Keeps a replicated service at its replica count, slot by slot: fills empty slots (with tasks of the
// current template) and scales down in swarmkit's order, as many tasks at a time as its slice allows.
import type { Service, Task } from './model.js';
import { replicasOf } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';
import type { RestartSupervisor } from './RestartSupervisor.js';
import { slotsToRemove } from './scaleDown.js';
import { isUpdating } from './Updater.js';
import type { SliceBudget } from './ReconcileQueue.js';

export class ReplicatedOrchestrator {
  #tasks: TaskLifecycle;
  #restarts: RestartSupervisor;

  constructor(tasks: TaskLifecycle, restarts: RestartSupervisor) {
    this.#tasks = tasks;
    this.#restarts = restarts;
  }

  /** The tasks each slot should run now, newest first: two only while an update starts a task first. */
  #activeSlots(service: Service): Map<number, Task[]> {
    const slots = new Map<number, Task[]>();
    for (const task of this.#tasks.store.tasksOfService(service.ID)) {
      if (task.DesiredState !== 'running' || task.Slot === undefined) continue;
      const held = slots.get(task.Slot);
      if (held) held.push(task);
      else slots.set(task.Slot, [task]);
    }
    for (const held of slots.values()) held.sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1));
    return slots;
  }

  /**
   * Fills empty slots and scales down; replacing tasks of an old template is the Updater's, at its pace.
   * Each task created or stopped spends the budget; returns false when it ran out before the service converged.
   */
  reconcile(service: Service, budget: SliceBudget): boolean {
    const replicas = replicasOf(service.Spec)!;
    const slots = this.#activeSlots(service);
    // Two tasks in a slot belong to a start-first update; with none running, the older one goes.
    if (!isUpdating(service)) {
      for (const held of slots.values()) {
        for (const extra of held.splice(1)) {
          this.#tasks.stop(extra, 'shutdown');
          budget.left--;
        }
      }
    }
    if (slots.size > replicas) {
      const newest = new Map([...slots].map(([slot, held]) => [slot, held[0]!] as const));
      for (const slot of slotsToRemove(newest, replicas)) {
        if (budget.left <= 0) return false;
        for (const task of slots.get(slot)!) this.#tasks.stop(task, 'remove');
        slots.delete(slot);
        budget.left--;
      }
    }
    const waiting = this.#restarts.waiting(service.ID);
    for (let slot = 1; slots.size + waiting.size < replicas; slot++) {
      if (slots.has(slot) || waiting.has(slot)) continue;
      if (budget.left <= 0) return false;
      slots.set(slot, [this.#tasks.create(service, { slot })]);
      budget.left--;
    }
    return true;
  }
}
