// A command that runs in the foreground until told to stop (`up`, `node start`): Ctrl-C, SIGTERM or
// SIGHUP stop it, and so does an error nothing caught, which must still close what the command opened.
import type { CommandContext } from './CommandContext.js';

export interface Foreground {
  /** Aborted when the command is to stop. */
  readonly signal: AbortSignal;
  /** Whether an error nothing caught stopped it (the command then exits 1). */
  readonly fatal: boolean;
  /** Stops the command, as Ctrl-C does. */
  stop(): void;
  /** Resolves once the command is to stop. */
  stopped(): Promise<void>;
  /** Stops listening for signals and errors. */
  dispose(): void;
}

/**
 * Listens from the start: a press during start-up must still close what was opened. The first press
 * stops the command; the listener then goes, so a second press kills a stuck close. `what` names what
 * stops, in the message after an unexpected error ("the cluster").
 */
export function foreground(ctx: CommandContext, what: string): Foreground {
  const stop = new AbortController();
  let fatal = false;
  const unsubscribe = ctx.onInterrupt(() => {
    stop.abort();
    unsubscribe();
  });
  const unsubscribeFatal = ctx.onFatal((error) => {
    fatal = true;
    ctx.err(`Error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\nStopping ${what} after this unexpected error...`);
    stop.abort();
  });
  return {
    signal: stop.signal,
    get fatal() { return fatal; },
    stop: () => stop.abort(),
    stopped: () => new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      else stop.signal.addEventListener('abort', () => resolve(), { once: true });
    }),
    dispose: () => {
      unsubscribe();
      unsubscribeFatal();
    },
  };
}
