// Keeps a replicated service at its replica count, slot by slot: fills empty slots, replaces tasks
// made from an old template in their own slot, and scales down in swarmkit's order.
import type { Service, Task } from './model.js';
import { replicasOf } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';
import { isUpToDate } from './TaskLifecycle.js';
import type { RestartSupervisor } from './RestartSupervisor.js';
import { slotsToRemove } from './scaleDown.js';

export class ReplicatedOrchestrator {
  #tasks: TaskLifecycle;
  #restarts: RestartSupervisor;

  constructor(tasks: TaskLifecycle, restarts: RestartSupervisor) {
    this.#tasks = tasks;
    this.#restarts = restarts;
  }

  /** The task each slot runs now: the newest one whose desired state is running. */
  #activeSlots(service: Service): Map<number, Task> {
    const slots = new Map<number, Task>();
    for (const task of this.#tasks.store.tasksOfService(service.ID)) {
      if (task.DesiredState !== 'running' || task.Slot === undefined) continue;
      const held = slots.get(task.Slot);
      if (!held || held.CreatedAt < task.CreatedAt) slots.set(task.Slot, task);
    }
    return slots;
  }

  reconcile(service: Service): void {
    const replicas = replicasOf(service.Spec)!;
    const slots = this.#activeSlots(service);
    for (const [slot, task] of slots) {
      if (isUpToDate(task, service)) continue;
      this.#tasks.stop(task, 'shutdown');
      slots.set(slot, this.#tasks.create(service, { slot }));
    }
    if (slots.size > replicas) {
      for (const slot of slotsToRemove(slots, replicas)) {
        this.#tasks.stop(slots.get(slot)!, 'remove');
        slots.delete(slot);
      }
    }
    const waiting = this.#restarts.waiting(service.ID);
    for (let slot = 1; slots.size + waiting.size < replicas; slot++) {
      if (!slots.has(slot) && !waiting.has(slot)) slots.set(slot, this.#tasks.create(service, { slot }));
    }
  }
}
