// From one poll's tasks to progress lines, as docker's replicated and global progress updaters do:
// the task that counts per slot (or per node), a bar per task state, the overall count, and whether the
// service has converged. The polling loop around it is progress.ts.
import type { ApiService, ApiTask } from './apiTypes.js';
import { failure } from './errors.js';
import type { ProgressSink } from './ProgressDisplay.js';
import { truncateId } from './dockerText.js';

const STATE_RANK: Record<string, number> = {
  new: 1, allocated: 2, pending: 3, assigned: 4, accepted: 5, preparing: 6, ready: 7, starting: 8, running: 9,
  complete: 10, shutdown: 11, failed: 12, rejected: 13, remove: 14, orphaned: 15,
};
const RUNNING = STATE_RANK['running']!;
/** The bar of a task is its state's rank out of running's. */
const MAX_PROGRESS = RUNNING;
const LONGEST_STATE = 'preparing'.length;
/** Above this many replicas no per-task bars are drawn. */
const MAX_PROGRESS_BARS = 20;

export interface ProgressUpdater {
  /** Draws this poll; true when every wanted task runs. */
  update(service: ApiService, tasks: readonly ApiTask[], activeNodes: ReadonlySet<string>, rollback: boolean): boolean;
}

export function progressUpdater(service: ApiService, out: ProgressSink): ProgressUpdater {
  const mode = service.Spec?.Mode;
  if (mode?.Replicated && typeof mode.Replicated.Replicas === 'number') return new ReplicatedUpdater(out);
  if (mode?.Global) return new GlobalUpdater(out);
  throw failure('unrecognized service mode');
}

function rank(state: string | undefined): number {
  return state === undefined ? 0 : STATE_RANK[state] ?? 0;
}

function terminal(state: string | undefined): boolean {
  return rank(state) > RUNNING;
}

/** Of several tasks for one slot or node, the lowest desired state wins; then the lowest observed state. */
function pick(existing: ApiTask | undefined, task: ApiTask): boolean {
  if (existing === undefined) return true;
  const ed = rank(existing.DesiredState);
  const td = rank(task.DesiredState);
  if (ed < td) return false;
  if (ed === td && rank(existing.Status?.State) <= rank(task.Status?.State)) return false;
  return true;
}

function known(task: ApiTask): boolean {
  return rank(task.DesiredState) !== 0 && rank(task.Status?.State) !== 0;
}

function overall(out: ProgressSink, running: number, total: number, rollback: boolean): void {
  out.progress('overall progress', `${rollback ? 'rolling back update: ' : ''}${running} out of ${total} tasks`);
}

function taskLine(out: ProgressSink, id: string, task: ApiTask): void {
  const err = task.Status?.Err ?? '';
  if (err !== '') {
    out.progress(id, truncError(err));
    return;
  }
  if (!terminal(task.DesiredState) && !terminal(task.Status?.State)) {
    const state = task.Status?.State ?? '';
    out.progress(id, state.padEnd(LONGEST_STATE), { current: rank(state), total: MAX_PROGRESS });
  }
}

/** One line, at most 75 characters, so a narrow terminal does not wrap it. */
export function truncError(message: string): string {
  const nl = message.indexOf('\n');
  let first = nl === -1 ? message : message.slice(0, nl);
  if (nl !== -1 && message.slice(nl + 1) !== '') first += '…';
  return Buffer.byteLength(first) > 75 ? Buffer.from(first).subarray(0, 74).toString('utf8').replace(/\uFFFD+$/, '') + '…' : first;
}

class ReplicatedUpdater implements ProgressUpdater {
  readonly #out: ProgressSink;
  #initialized = false;
  #done = false;
  /** Slot → row number, in order of first appearance, so rows keep their place between polls. */
  #rows = new Map<number, number>();

  constructor(out: ProgressSink) {
    this.#out = out;
  }

  update(service: ApiService, tasks: readonly ApiTask[], activeNodes: ReadonlySet<string>, rollback: boolean): boolean {
    const replicas = service.Spec?.Mode?.Replicated?.Replicas;
    if (typeof replicas !== 'number') throw failure('no replica count');
    if (!this.#initialized) {
      overall(this.#out, 0, replicas, rollback);
      if (replicas <= MAX_PROGRESS_BARS) {
        for (let i = 1; i <= replicas; i++) this.#out.progress(`${i}/${replicas}`, ' ');
      }
      this.#initialized = true;
    }
    const bySlot = new Map<number, ApiTask>();
    for (const task of tasks) {
      if (!known(task)) continue;
      const slot = task.Slot ?? 0;
      if (!pick(bySlot.get(slot), task)) continue;
      if (task.NodeID && !activeNodes.has(task.NodeID)) continue;
      bySlot.set(slot, task);
    }
    if (this.#done && [...bySlot.values()].some((t) => t.Status?.State !== 'running')) this.#done = false;
    let running = 0;
    for (const [slot, task] of bySlot) {
      let row = this.#rows.get(slot);
      if (row === undefined) {
        row = this.#rows.size + 1;
        this.#rows.set(slot, row);
      }
      if (!terminal(task.DesiredState) && task.Status?.State === 'running') running++;
      if (!this.#done && replicas <= MAX_PROGRESS_BARS && row <= replicas) taskLine(this.#out, `${row}/${replicas}`, task);
    }
    if (!this.#done) {
      // Scaling down, the slots past the count still run until the manager's slices reach them (swarmkit marks
      // them all at once, so docker never sees them): the count says how many of the wanted replicas run, never
      // "545 out of 2", and the service has converged only once they are gone.
      overall(this.#out, Math.min(running, replicas), replicas, rollback);
      if (running === replicas) this.#done = true;
    }
    return running === replicas;
  }
}

class GlobalUpdater implements ProgressUpdater {
  readonly #out: ProgressSink;
  #initialized = false;
  #done = false;

  constructor(out: ProgressSink) {
    this.#out = out;
  }

  update(_service: ApiService, tasks: readonly ApiTask[], activeNodes: ReadonlySet<string>, rollback: boolean): boolean {
    const byNode = new Map<string, ApiTask>();
    for (const task of tasks) {
      if (!known(task)) continue;
      const node = task.NodeID ?? '';
      if (pick(byNode.get(node), task)) byNode.set(node, task);
    }
    // The orchestrator makes tasks for every eligible node at once, so the first non-empty poll tells how many.
    const nodeCount = byNode.size;
    if (!this.#initialized) {
      if (nodeCount === 0) {
        this.#out.progress('overall progress', 'waiting for new tasks');
        return false;
      }
      overall(this.#out, 0, nodeCount, rollback);
      this.#initialized = true;
    }
    if (this.#done && [...byNode.values()].some((t) => t.Status?.State !== 'running')) this.#done = false;
    let running = 0;
    for (const task of byNode.values()) {
      if (!activeNodes.has(task.NodeID ?? '')) continue;
      if (!this.#done && nodeCount <= MAX_PROGRESS_BARS) taskLine(this.#out, truncateId(task.NodeID ?? ''), task);
      if (!terminal(task.DesiredState) && task.Status?.State === 'running') running++;
    }
    if (!this.#done) {
      overall(this.#out, running, nodeCount, rollback);
      if (running === nodeCount) this.#done = true;
    }
    return running === nodeCount;
  }
}
