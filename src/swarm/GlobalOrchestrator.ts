// Keeps one task of a global service on every eligible node: a node that joins or becomes active
// gets one; drained, down or no longer matching nodes lose theirs; a paused node keeps what it runs.
// Replacing tasks of an old template is the Updater's.
import type { Service, SwarmNode, Task } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';
import { isUpToDate } from './TaskLifecycle.js';
import type { RestartSupervisor } from './RestartSupervisor.js';
import { isEligible } from './Scheduler.js';
import { nodeSatisfies, parseConstraint } from './constraints.js';

export class GlobalOrchestrator {
  #tasks: TaskLifecycle;
  #restarts: RestartSupervisor;

  constructor(tasks: TaskLifecycle, restarts: RestartSupervisor) {
    this.#tasks = tasks;
    this.#restarts = restarts;
  }

  reconcile(service: Service): void {
    const constraints = (service.Spec.TaskTemplate.Placement?.Constraints ?? []).map(parseConstraint);
    const nodes = new Map(this.#tasks.store.nodes().map((n) => [n.ID, n] as const));
    const matches = (node: SwarmNode | undefined) => node !== undefined && nodeSatisfies(node, constraints);
    const keeps = (node: SwarmNode | undefined) =>
      matches(node) && node!.Status.State === 'ready' && node!.Spec.Availability !== 'drain';

    // Newest first, so of two up-to-date tasks on one node the older goes. An out-of-date task stays for
    // the Updater to replace, at its pace, beside the new one when it starts first.
    const tasks = this.#tasks.store.tasksOfService(service.ID)
      .filter((t) => t.DesiredState === 'running')
      .sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1));
    const covered = new Map<string, Task>();
    for (const task of tasks) {
      const current = isUpToDate(task, service);
      if (!keeps(nodes.get(task.NodeID)) || (current && covered.has(task.NodeID) && isUpToDate(covered.get(task.NodeID)!, service))) {
        this.#tasks.stop(task, 'shutdown');
      } else if (!covered.has(task.NodeID)) {
        covered.set(task.NodeID, task);
      }
    }
    const waiting = this.#restarts.waiting(service.ID);
    for (const node of nodes.values()) {
      if (isEligible(node) && matches(node) && !covered.has(node.ID) && !waiting.has(node.ID)) {
        this.#tasks.create(service, { nodeId: node.ID });
      }
    }
  }
}
