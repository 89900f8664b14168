// Swarm keeps the last few tasks of each slot (or node, for a global service) for `service ps`: the swarm's
// TaskHistoryRetentionLimit (5 unless `docker swarm update --task-history-limit` says otherwise) counts them
// all, the running one included, as swarmkit's task reaper does; the oldest ended ones are forgotten.
import type { Service, SwarmSpec, Task } from './model.js';
import { isTerminal } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';

/** How many tasks a slot keeps: a restart policy's MaxAttempts needs one more (swarmkit's rule); negative keeps all. */
export function historyLimit(service: Service, swarm: SwarmSpec): number {
  const attempts = service.Spec.TaskTemplate.RestartPolicy?.MaxAttempts ?? 0;
  return attempts > 0 ? attempts + 1 : swarm.Orchestration.TaskHistoryRetentionLimit;
}

export function trimHistory(tasks: TaskLifecycle, ended: Task, limit: number): void {
  if (limit < 0) return;
  const samePlace = tasks.store.tasksOfService(ended.ServiceID)
    .filter((t) => (ended.Slot !== undefined ? t.Slot === ended.Slot : t.NodeID === ended.NodeID));
  // An ended task still desired running holds its slot (its policy does not restart it): it is not history.
  const endedOldestFirst = samePlace.filter((t) => isTerminal(t.Status.State) && t.DesiredState !== 'running')
    .sort((a, b) => (a.CreatedAt < b.CreatedAt ? -1 : a.CreatedAt > b.CreatedAt ? 1 : 0));
  // swarmkit trims again when the replacement is created; here its place is kept now: with no task of the slot
  // desired running, one is coming (a restart, or the next step of an update).
  const replacement = samePlace.some((t) => t.DesiredState === 'running') ? 0 : 1;
  for (const old of endedOldestFirst.slice(0, Math.max(samePlace.length + replacement - limit, 0))) tasks.forget(old);
}
