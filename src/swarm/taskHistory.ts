// Swarm keeps the last few ended tasks of each slot (TaskHistoryRetentionLimit, 5) for `service ps`;
// older ones are forgotten.
import type { Task } from './model.js';
import { isTerminal } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';

const HISTORY_PER_SLOT = 5;

export function trimHistory(tasks: TaskLifecycle, ended: Task): void {
  const samePlace = tasks.store.tasksOfService(ended.ServiceID)
    .filter((t) => (ended.Slot !== undefined ? t.Slot === ended.Slot : t.NodeID === ended.NodeID) && isTerminal(t.Status.State))
    .sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1));
  for (const old of samePlace.slice(HISTORY_PER_SLOT)) tasks.forget(old);
}
