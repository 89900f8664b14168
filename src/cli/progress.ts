// The convergence loop of `service create/update/scale/rollback` (SPEC.md §4): poll the service, its
// up-to-date tasks and the nodes every 200 ms, draw progress, and once every task runs wait out the
// monitor period before declaring the service converged. UpdateStatus can end or fail the wait early.
import type { ApiNode, ApiService, ApiTask } from './apiTypes.js';
import { filtersParam, type Query } from './EngineClient.js';
import { failure } from './errors.js';
import type { ProgressSink } from './ProgressDisplay.js';
import { progressUpdater, type ProgressUpdater } from './progressUpdater.js';
import { sleep } from './sleep.js';

/** The one method of EngineClient the loop needs, so tests can script answers. */
export interface EngineReader {
  get<T = unknown>(path: string, query?: Query): Promise<T>;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms` with false, or early with true when `interrupted` aborts. */
  sleep(ms: number, interrupted: AbortSignal): Promise<boolean>;
}

export const realClock: Clock = { now: () => performance.now(), sleep };

export interface ConvergenceOptions {
  readonly pollMs: number;
  /** Used when the service sets no UpdateConfig.Monitor (docker: 5 s). */
  readonly defaultMonitorMs: number;
  readonly clock?: Clock;
  readonly onInterrupt?: (listener: () => void) => () => void;
  /** How to tell the user to follow up after Ctrl-C, e.g. "routemesh service ps web". */
  readonly psCommand: string;
}

/**
 * Waits until the service `ref` (as the user typed it: ID for create, name for scale/update) converges.
 * Resolves when it has, or when the user pressed Ctrl-C (the operation goes on in the cluster).
 */
export async function waitForConvergence(api: EngineReader, ref: string, out: ProgressSink, options: ConvergenceOptions): Promise<void> {
  const clock = options.clock ?? realClock;
  const interrupted = new AbortController();
  const unsubscribe = options.onInterrupt?.(() => interrupted.abort()) ?? (() => {});
  try {
    let updater: ProgressUpdater | undefined;
    let converged = false;
    let convergedAt: number | undefined;
    let monitorMs = options.defaultMonitorMs;
    let rollback = false;
    let closingMessage: string | undefined;

    for (;;) {
      const service = await api.get<ApiService>(`/services/${encodeURIComponent(ref)}`, { insertDefaults: false });
      const monitorNs = service.Spec?.UpdateConfig?.Monitor ?? 0;
      if (monitorNs > 0) monitorMs = monitorNs / 1e6;
      updater ??= progressUpdater(service, out);

      const status = service.UpdateStatus;
      switch (status?.State) {
        case 'updating':
          rollback = false;
          break;
        case 'completed':
          // Finished before we saw it converge: someone else's update, or ours was instant. Nothing to show.
          if (!converged) return;
          break;
        case 'paused':
          throw failure(`service update paused: ${status.Message ?? ''}`);
        case 'rollback_started':
          if (!rollback && status.Message) out.progress('rollback', status.Message);
          rollback = true;
          break;
        case 'rollback_paused':
          throw failure(`service rollback paused: ${status.Message ?? ''}`);
        case 'rollback_completed':
          if (!converged) closingMessage = status.Message;
          rollback = true;
          break;
        default:
          break;
      }

      if (converged && convergedAt !== undefined && clock.now() - convergedAt >= monitorMs) {
        out.progress('verify', `Service ${ref} converged`);
        if (closingMessage) out.status('rollback', closingMessage);
        return;
      }

      const tasks = await api.get<ApiTask[]>('/tasks', {
        filters: filtersParam({ service: [service.ID], '_up-to-date': ['true'] }),
      });
      const nodes = await api.get<ApiNode[]>('/nodes');
      const active = new Set((nodes ?? []).filter((n) => n.Status?.State !== 'down').map((n) => n.ID));

      converged = updater.update(service, tasks ?? [], active, rollback);
      if (converged) {
        convergedAt ??= clock.now();
        const waitMs = monitorMs - (clock.now() - convergedAt);
        if (waitMs >= 0) {
          out.progress('verify', `Waiting ${Math.trunc(waitMs / 1000) + 1} seconds to verify that tasks are stable...`);
        }
      } else {
        if (convergedAt !== undefined) out.progress('verify', 'Detected task failure');
        convergedAt = undefined;
      }

      if (await clock.sleep(options.pollMs, interrupted.signal)) {
        if (!converged) {
          out.message('Operation continuing in background.');
          out.message(`Use \`${options.psCommand}\` to check progress.`);
        }
        return;
      }
    }
  } finally {
    unsubscribe();
  }
}
