// Rolling updates and rollbacks, at Swarm's pace: `Parallelism` places (slots, or nodes for global
// services) at a time, in `Order` (stop-first: the old task goes, the orchestrator fills the slot;
// start-first: the new task runs before the old one is stopped), `Delay` between batches, `Monitor`
// after the last one, and `FailureAction` when more than `MaxFailureRatio` of the new tasks fail.
// Level-triggered like the orchestrators: each `step` reads the store and moves the update on, as far as
// its reconcile slice's budget goes (a batch as large as the service is started over several slices).
import type { Service, Task, UpdateConfig } from './model.js';
import { isTerminal, nowIso } from './model.js';
import type { TaskLifecycle } from './TaskLifecycle.js';
import { isUpToDate } from './TaskLifecycle.js';
import type { TaskKey } from './RestartSupervisor.js';
import type { SetTimer, Timer } from './timer.js';
import { taskKey } from './RestartSupervisor.js';
import { DEFAULT_UPDATE_CONFIG, NANOS_PER_MS } from './defaults.js';
import { naturalOrder } from './naturalOrder.js';
import type { SliceBudget } from './ReconcileQueue.js';


/** One update in progress: the places being replaced now, and what the update has seen so far. */
interface Run {
  /** Place being replaced -> the ID of the task that replaces it. */
  batch: Map<TaskKey, string>;
  /** Places of the current batch not started yet: the slice's budget ran out before them. */
  starting: TaskKey[];
  /** New tasks of this update that ran, and that failed. */
  updated: number;
  failed: number;
  lastFailedTask?: string;
  /** No new batch before this time (the Delay after a batch). */
  nextBatchAt: number;
  /** New tasks that run, watched for failure until their Monitor window ends (task ID -> end). */
  watched: Map<string, number>;
  timer?: Timer;
}

export interface UpdaterOptions {
  setTimer: SetTimer;
  now: () => number;
  /** Called when a timer the updater set is due: the manager reconciles the service then. */
  due: (serviceId: string) => void;
}

/** A place to update: it runs only tasks of an old template. */
function needsUpdate(fresh: readonly Task[], old: readonly Task[]): boolean {
  return old.length > 0 && fresh.length === 0;
}

/** The new version failing, as opposed to being stopped on purpose. */
function isFailure(task: Task): boolean {
  return task.Status.State === 'failed' || task.Status.State === 'rejected';
}

/** The service as the step left it, and whether the step stopped short for its budget (its service must be queued again). */
export interface UpdateStep {
  service: Service;
  more: boolean;
}

export function isUpdating(service: Service): boolean {
  const state = service.UpdateStatus?.State;
  return state === 'updating' || state === 'rollback_started';
}

export class Updater {
  #tasks: TaskLifecycle;
  #options: UpdaterOptions;
  #runs = new Map<string, Run>();

  constructor(tasks: TaskLifecycle, options: UpdaterOptions) {
    this.#tasks = tasks;
    this.#options = options;
  }

  /** A new spec (or the service's removal) ends whatever update was running for it. */
  forget(serviceId: string): void {
    this.#runs.get(serviceId)?.timer?.cancel();
    this.#runs.delete(serviceId);
  }

  close(): void {
    for (const serviceId of [...this.#runs.keys()]) this.forget(serviceId);
  }

  /** Moves the service's update on as far as it can go now, each task it starts or stops spending the budget. */
  step(service: Service, budget: SliceBudget): UpdateStep {
    if (!isUpdating(service)) return { service, more: false };
    if (budget.left <= 0) return { service, more: true };
    const rollback = service.UpdateStatus!.State === 'rollback_started';
    const config = { Delay: 0, ...DEFAULT_UPDATE_CONFIG, ...(rollback ? service.Spec.RollbackConfig : service.Spec.UpdateConfig) } as Required<UpdateConfig>;
    let run = this.#runs.get(service.ID);
    if (!run) this.#runs.set(service.ID, (run = { batch: new Map(), starting: [], updated: 0, failed: 0, nextBatchAt: 0, watched: new Map() }));
    const places = this.#places(service);
    const now = this.#options.now();
    const monitorMs = config.Monitor / NANOS_PER_MS;
    const failed = (taskId: string): void => {
      run!.failed++;
      run!.lastFailedTask = taskId;
    };

    for (const [key, taskId] of run.batch) {
      const replacement = this.#tasks.store.task(taskId);
      if (replacement?.Status.State === 'running') {
        if (budget.left <= 0) return { service, more: true };
        for (const task of places.get(key)?.[1] ?? []) {
          this.#tasks.stop(task, 'shutdown');
          budget.left--;
        }
        run.batch.delete(key);
        run.updated++;
        run.watched.set(taskId, now + monitorMs);
      } else if (!replacement || isTerminal(replacement.Status.State)) {
        run.batch.delete(key);
        // Stopped on purpose (its node drained or went down) is not the new version failing.
        if (replacement && isFailure(replacement)) failed(taskId);
      }
    }
    // Swarm watches each new task for Monitor after it starts: failing within that window counts.
    for (const [taskId, until] of run.watched) {
      const task = this.#tasks.store.task(taskId);
      if (task && isFailure(task)) failed(taskId);
      if (!task || isTerminal(task.Status.State) || now >= until) run.watched.delete(taskId);
    }
    // A batch is all started before anything else is decided, as if it had been started in one step.
    if (run.starting.length > 0) return this.#start(service, run, places, config, budget);
    if (run.batch.size > 0) return { service, more: false };

    if (run.failed > 0 && run.failed / Math.max(run.updated + run.failed, 1) > config.MaxFailureRatio) {
      if (config.FailureAction === 'pause') return this.#finish(service, rollback ? 'rollback_paused' : 'paused',
        `${rollback ? 'rollback' : 'update'} paused due to failure or early termination of task ${run.lastFailedTask}`);
      if (config.FailureAction === 'rollback' && !rollback && service.PreviousSpec) return this.#rollBack(service, run.lastFailedTask!);
    }

    const todo = [...places].filter(([, [fresh, old]]) => needsUpdate(fresh, old)).map(([key]) => key);
    if (todo.length === 0) {
      if (run.watched.size > 0) return this.#wake(service.ID, run, Math.min(...run.watched.values()) - now);
      return this.#finish(service, rollback ? 'rollback_completed' : 'completed', rollback ? 'rollback completed' : 'update completed');
    }
    if (now < run.nextBatchAt) return this.#wake(service.ID, run, run.nextBatchAt - now);

    run.starting = config.Parallelism === 0 ? todo : todo.slice(0, config.Parallelism);
    run.nextBatchAt = now + (config.Delay ?? 0) / NANOS_PER_MS;
    return this.#start(service, run, places, config, budget);
  }

  /** Starts the batch's places that are left, as far as the budget goes. */
  #start(service: Service, run: Run, places: Map<TaskKey, [Task[], Task[]]>, config: Required<UpdateConfig>, budget: SliceBudget): UpdateStep {
    // Beyond Swarm: stop-first never stops the last running tasks of a service (a batch as large as the
    // service would cut every connection); those places start first instead.
    // Counted from the store: tasks `step` stopped a moment ago (start-first places done) no longer serve.
    let serving = [...places.values()].flat(2)
      .filter((task) => task.Status.State === 'running' && this.#tasks.store.task(task.ID)?.DesiredState === 'running').length;
    let started = 0;
    for (const key of run.starting) {
      if (budget.left <= 0) break;
      started++;
      const place = places.get(key);
      // Changed since the batch was chosen (scaled away, or replaced another way): nothing to do there.
      if (!place || !needsUpdate(...place)) continue;
      const [, old] = place;
      const oldServing = old.filter((task) => task.Status.State === 'running').length;
      // stop-first stops the old task now; start-first once its replacement runs (in `step`).
      if (config.Order !== 'start-first' && serving > oldServing) {
        for (const task of old) {
          this.#tasks.stop(task, 'shutdown');
          budget.left--;
        }
        serving -= oldServing;
      }
      run.batch.set(key, this.#tasks.create(service, typeof key === 'number' ? { slot: key } : { nodeId: key }).ID);
      budget.left--;
    }
    run.starting.splice(0, started);
    return { service, more: run.starting.length > 0 };
  }

  /** Per place, the up-to-date tasks (newest first) and the out-of-date ones that should still run. */
  #places(service: Service): Map<TaskKey, [Task[], Task[]]> {
    const places = new Map<TaskKey, [Task[], Task[]]>();
    for (const task of this.#tasks.store.tasksOfService(service.ID)) {
      const key = taskKey(task);
      if (task.DesiredState !== 'running' || key === '') continue; // not placed yet: nothing to update
      let place = places.get(key);
      if (!place) places.set(key, (place = [[], []]));
      place[isUpToDate(task, service) ? 0 : 1].push(task);
    }
    // Each place's few tasks sorted, not the service's thousands.
    for (const place of places.values()) for (const tasks of place) tasks.sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1));
    return new Map([...places].sort(([a], [b]) => (typeof a === 'number' && typeof b === 'number' ? a - b : naturalOrder(String(a), String(b)))));
  }

  #wake(serviceId: string, run: Run, ms: number): UpdateStep {
    run.timer?.cancel();
    run.timer = this.#options.setTimer(() => {
      run.timer = undefined;
      this.#options.due(serviceId);
    }, ms);
    return { service: this.#tasks.store.service(serviceId)!, more: false };
  }

  #finish(service: Service, state: NonNullable<Service['UpdateStatus']>['State'], message: string): UpdateStep {
    this.forget(service.ID);
    const next = structuredClone(service);
    next.UpdateStatus = { ...service.UpdateStatus!, State: state, Message: message, CompletedAt: nowIso() };
    return { service: this.#tasks.store.putService(next), more: false };
  }

  /** FailureAction rollback: the previous spec comes back, rolled out with the rollback config. */
  #rollBack(service: Service, failedTask: string): UpdateStep {
    this.forget(service.ID);
    const next = structuredClone(service);
    next.Spec = structuredClone(service.PreviousSpec!);
    next.PreviousSpec = structuredClone(service.Spec);
    next.UpdateStatus = {
      State: 'rollback_started',
      Message: `update rolled back due to failure or early termination of task ${failedTask}`,
      StartedAt: nowIso(),
    };
    return { service: this.#tasks.store.putService(next), more: false };
  }
}
