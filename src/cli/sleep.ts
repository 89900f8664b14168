// The CLI's one wait: a timer that Ctrl-C cuts short. The convergence loop and the `up --demo` wait
// both poll with it; what an interrupt then means is theirs to say.
import { setTimeout as delay } from 'node:timers/promises';

/** Resolves after `ms` with false, or with true as soon as `signal` aborts (at once if it already has). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, signal === undefined ? undefined : { signal });
    return false;
  } catch (error) {
    if (signal?.aborted) return true;
    throw error;
  }
}
