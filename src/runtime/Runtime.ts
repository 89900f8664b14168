// Runs tasks on one node: finds the task's image in the built-in catalogue and starts it at the task's
// address. Task state in the cluster is the agent's; this only answers with a handle or a RuntimeError.

import { findImage, parseImageRef } from './catalogue.js';
import type { ImageHost, SimpleNodeTimings } from './images/Image.js';
import { LogRing } from './LogRing.js';
import { checkMounts } from './mounts.js';
import { PortBinder } from './PortBinder.js';
import type { PortBinderOptions } from './PortBinder.js';
import { RuntimeError } from './TaskRun.js';
import type { RunningTask, TaskRunSpec } from './TaskRun.js';
import { resolveTaskUser } from './TaskUser.js';
import { TaskFiles } from './TaskFiles.js';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RuntimeOptions extends PortBinderOptions {
  /** Lines of output each task keeps (default 1000). */
  logLines?: number;
  /** madvirus/simplenode:0.2's delays (defaults: the app's 5000 ms slow /health, 1000 ms before exit). */
  simplenode?: Partial<SimpleNodeTimings>;
  /**
   * Whether each routemesh/exec task gets a PID namespace, where this machine allows it (default true);
   * false keeps each in a process group, the fallback where user namespaces are disabled or tini is missing.
   */
  pidNamespaces?: boolean;
  /**
   * Whether each routemesh/exec task with secrets, configs or mounts gets a mount namespace, where this
   * machine allows it (default true); false gives it the directory fallback ($ROUTEMESH_ROOT).
   */
  mountNamespaces?: boolean;
  /** Under which each such task gets a directory of its own (default `<tmpdir>/routemesh-tasks-<uid>`). */
  taskDir?: string;
}

/** Tasks whose output is kept after they end, newest last (Docker keeps a stopped container's logs). */
const KEPT_OUTPUTS = 500;

/** What `service logs` reads of a task: its recent lines, and the new ones as they come. */
export type TaskOutput = Pick<LogRing, 'lines' | 'onLog'>;

export class Runtime {
  readonly #host: Omit<ImageHost, 'user'>;
  /** The output of the tasks started last, by task ID: the running ones, and the recently ended. */
  readonly #outputs = new Map<string, TaskOutput>();

  constructor(options: RuntimeOptions = {}) {
    const logLines = options.logLines ?? 1000;
    this.#host = {
      binder: new PortBinder(options),
      newLog: () => new LogRing(logLines),
      pidNamespaces: options.pidNamespaces ?? true,
      mountNamespaces: options.mountNamespaces ?? true,
      files: new TaskFiles(options.taskDir ?? path.join(tmpdir(), `routemesh-tasks-${process.getuid?.() ?? 0}`)),
      simplenode: {
        slowHealthMs: options.simplenode?.slowHealthMs ?? 5000,
        stopDelayMs: options.simplenode?.stopDelayMs ?? 1000,
      },
    };
  }

  /** A task's output, while it runs and for a while after (the last 500 tasks started). */
  outputOf(taskId: string): TaskOutput | undefined {
    return this.#outputs.get(taskId);
  }

  /** Whether `image` (any reference form) is in the catalogue: what a registry lookup would answer. */
  hasImage(image: string): boolean {
    return findImage(parseImageRef(image)) !== undefined;
  }

  async start(spec: TaskRunSpec): Promise<RunningTask> {
    const ref = parseImageRef(spec.image);
    const image = findImage(ref);
    if (!image) throw new RuntimeError('NO_SUCH_IMAGE', `No such image: ${ref.named}`);
    checkMounts(spec.mounts ?? []);
    // Every image's task is refused a user this machine does not have, as Docker refuses the container.
    const user = await resolveTaskUser(spec.user);
    try {
      // Only the task's log is kept once it ends, not the task (its servers, its process, its data).
      let log: LogRing | undefined;
      const task = await image.run(spec, { ...this.#host, user, newLog: () => (log = this.#host.newLog()) });
      if (log) {
        this.#outputs.set(spec.taskId, log);
        if (this.#outputs.size > KEPT_OUTPUTS) this.#outputs.delete(this.#outputs.keys().next().value!);
      }
      return task;
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new RuntimeError('START_FAILED', `Cannot start task ${spec.taskName} (${ref.named}): ${reason}`);
    }
  }
}
