// Runs tasks on one node: finds the task's image in the built-in catalogue and starts it at the task's
// address. Task state in the cluster is the agent's; this only answers with a handle or a RuntimeError.

import { findImage, parseImageRef } from './catalogue.js';
import type { ImageHost, SimpleNodeTimings } from './images/Image.js';
import { LogRing } from './LogRing.js';
import { PortBinder } from './PortBinder.js';
import type { PortBinderOptions } from './PortBinder.js';
import { RuntimeError } from './TaskRun.js';
import type { RunningTask, TaskRunSpec } from './TaskRun.js';

export interface RuntimeOptions extends PortBinderOptions {
  /** Lines of output each task keeps (default 1000). */
  logLines?: number;
  /** madvirus/simplenode:0.2's delays (defaults: the app's 5000 ms slow /health, 1000 ms before exit). */
  simplenode?: Partial<SimpleNodeTimings>;
}

export class Runtime {
  readonly #host: ImageHost;

  constructor(options: RuntimeOptions = {}) {
    const logLines = options.logLines ?? 1000;
    this.#host = {
      binder: new PortBinder(options),
      newLog: () => new LogRing(logLines),
      simplenode: {
        slowHealthMs: options.simplenode?.slowHealthMs ?? 5000,
        stopDelayMs: options.simplenode?.stopDelayMs ?? 1000,
      },
    };
  }

  /** Whether `image` (any reference form) is in the catalogue: what a registry lookup would answer. */
  hasImage(image: string): boolean {
    return findImage(parseImageRef(image)) !== undefined;
  }

  async start(spec: TaskRunSpec): Promise<RunningTask> {
    const ref = parseImageRef(spec.image);
    const image = findImage(ref);
    if (!image) throw new RuntimeError('NO_SUCH_IMAGE', `No such image: ${ref.named}`);
    try {
      return await image.run(spec, this.#host);
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new RuntimeError('START_FAILED', `Cannot start task ${spec.taskName} (${ref.named}): ${reason}`);
    }
  }
}
