// What every image in the catalogue provides, and what the runtime hands each one to start a task with.
// Images own their program's behaviour; sockets, logs and exit bookkeeping live in the task classes.

import type { LogRing } from '../LogRing.js';
import type { PortBinder } from '../PortBinder.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { TaskUser } from '../TaskUser.js';
import type { TaskFiles } from '../TaskFiles.js';

export interface Image {
  /** Starts one task; rejects with a RuntimeError (START_FAILED) when it cannot. */
  run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask>;
}

/** Timings of madvirus/simplenode:0.2's app.js; injectable so tests need not wait the real 5 s. */
export interface SimpleNodeTimings {
  /** How long /health takes to answer once `?slow=true` was requested (app.js: 5000 ms). */
  slowHealthMs: number;
  /** How long after `?stop=true` the process exits with code 1 (app.js: 1000 ms). */
  stopDelayMs: number;
}

export interface ImageHost {
  readonly binder: PortBinder;
  newLog(): LogRing;
  readonly simplenode: SimpleNodeTimings;
  /** Whether routemesh/exec tasks get a PID namespace each where the machine allows (else a process group). */
  readonly pidNamespaces: boolean;
  /** Who the task's processes run as (the service's --user, resolved). */
  readonly user: TaskUser;
  /** Where routemesh/exec tasks' secrets, configs and mounts are prepared. */
  readonly files: TaskFiles;
  /** Whether routemesh/exec tasks may get a mount namespace each where the machine allows (else a directory named by $ROUTEMESH_ROOT). */
  readonly mountNamespaces: boolean;
}
