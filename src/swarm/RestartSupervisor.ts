// The restart policy: when a task ends while it should be running, decides whether its slot (or node,
// for global services) gets a replacement, and holds that place empty for the restart delay.
import type { RestartPolicy, Service, Task } from './model.js';
import { DEFAULT_RESTART_DELAY, NANOS_PER_MS } from './defaults.js';
import type { SetTimer, Timer } from './timer.js';

/** A slot number (replicated) or a node ID (global): the place a task fills. */
export type TaskKey = number | string;

export function taskKey(task: Task): TaskKey {
  return task.Slot ?? task.NodeID;
}

export class RestartSupervisor {
  #setTimer: SetTimer;
  #due: (serviceId: string) => void;
  /** Places waiting out their restart delay, per service. */
  #waiting = new Map<string, Map<TaskKey, Timer>>();
  /** When each restart happened, per service and place, for MaxAttempts (within Window, if set). */
  #attempts = new Map<string, Map<TaskKey, number[]>>();
  #now: () => number;

  constructor(setTimer: SetTimer, due: (serviceId: string) => void, now: () => number = Date.now) {
    this.#setTimer = setTimer;
    this.#due = due;
    this.#now = now;
  }

  waiting(serviceId: string): ReadonlySet<TaskKey> {
    return new Set(this.#waiting.get(serviceId)?.keys());
  }

  /** Called when a task ended on its own; returns whether a replacement will come. */
  taskEnded(service: Service, task: Task): boolean {
    const policy: RestartPolicy = service.Spec.TaskTemplate.RestartPolicy ?? {};
    const condition = policy.Condition ?? 'any';
    const failed = task.Status.State !== 'complete';
    if (condition === 'none' || (condition === 'on-failure' && !failed)) return false;
    const key = taskKey(task);
    const attempts = this.#attempts.get(service.ID) ?? new Map<TaskKey, number[]>();
    this.#attempts.set(service.ID, attempts);
    const now = this.#now();
    const windowMs = (policy.Window ?? 0) / NANOS_PER_MS;
    const recent = (attempts.get(key) ?? []).filter((at) => windowMs === 0 || now - at < windowMs);
    if (policy.MaxAttempts && recent.length >= policy.MaxAttempts) return false;
    attempts.set(key, [...recent, now]);

    const waiting = this.#waiting.get(service.ID) ?? new Map<TaskKey, Timer>();
    this.#waiting.set(service.ID, waiting);
    waiting.get(key)?.cancel();
    const delayMs = (policy.Delay ?? DEFAULT_RESTART_DELAY) / NANOS_PER_MS;
    waiting.set(key, this.#setTimer(() => {
      waiting.delete(key);
      this.#due(service.ID);
    }, delayMs));
    return true;
  }

  /** The service is gone (or its spec changed): no pending restarts, attempts counted afresh. */
  forget(serviceId: string): void {
    for (const timer of this.#waiting.get(serviceId)?.values() ?? []) timer.cancel();
    this.#waiting.delete(serviceId);
    this.#attempts.delete(serviceId);
  }

  close(): void {
    for (const serviceId of [...this.#waiting.keys()]) this.forget(serviceId);
  }
}
