// What a CLI run may touch of the outside world, injectable so tests can capture output, pretend to
// be a terminal and press Ctrl-C. The default is the real process.
import { invocation } from './invocation.js';

export interface Output {
  write(chunk: string): unknown;
}

export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly env: Record<string, string | undefined>;
  /** Whether stdout is a terminal: progress bars are redrawn in place only then. */
  readonly isTTY: boolean;
  /** Subscribes to Ctrl-C (SIGINT), SIGTERM and SIGHUP (its terminal closed); returns the unsubscribe function. */
  readonly onInterrupt?: (listener: () => void) => () => void;
  /**
   * Subscribes to an error nothing caught (an uncaught exception or rejection), which then no longer ends
   * the process by itself; returns the unsubscribe function. `up` closes its cluster on one.
   */
  readonly onFatal?: (listener: (error: unknown) => void) => () => void;
  /**
   * Subscribes to the end of standard input, which `node start --supervised` reads as its supervisor gone
   * (`up` holds the other end, and the kernel closes it however `up` ends); returns the unsubscribe function.
   */
  readonly onInputClosed?: (listener: () => void) => () => void;
  /** Wall clock in ms, for "Running 5 seconds ago". */
  readonly now?: () => number;
  /** Terminal width: docker draws progress bars only when it is over 110 columns. */
  readonly columns?: number;
  /** How the user runs this command (`./routemesh` in a checkout), for the commands `up` suggests; absent: `routemesh`. */
  readonly command?: string;
}

export function processIo(): Io {
  return {
    stdout: tolerant(process.stdout),
    stderr: tolerant(process.stderr),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    onInterrupt: processInterrupts,
    onFatal: processFatal,
    onInputClosed: processInputClosed,
    now: Date.now,
    ...(process.stdout.columns !== undefined ? { columns: process.stdout.columns } : {}),
    // Only `up` asks, so only `up` pays for the look along PATH.
    get command() {
      return invocation(process.argv[1], process.env, process.cwd());
    },
  };
}

const ignore = (): void => {};

/**
 * A reader that went away (`routemesh up 2>&1 | head -3`, a closed terminal) must not end the process:
 * `up` would die of its own log line and leave its sockets and tasks behind. A write error (EPIPE)
 * is dropped, and so is every later write to that stream.
 */
function tolerant(stream: NodeJS.WriteStream): Output {
  if (!stream.listeners('error').includes(ignore)) stream.on('error', ignore);
  return {
    write: (chunk) => {
      if (stream.destroyed || !stream.writable) return false;
      try {
        return stream.write(chunk);
      } catch {
        return false;
      }
    },
  };
}

/** A closed terminal (SIGHUP) ends a command as Ctrl-C does: `up` then stops its tasks instead of leaving them behind. */
const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function processInterrupts(listener: () => void): () => void {
  for (const signal of INTERRUPTS) process.on(signal, listener);
  return () => {
    for (const signal of INTERRUPTS) process.off(signal, listener);
  };
}

export function processFatal(listener: (error: unknown) => void): () => void {
  process.on('uncaughtException', listener);
  process.on('unhandledRejection', listener);
  return () => {
    process.off('uncaughtException', listener);
    process.off('unhandledRejection', listener);
  };
}

export function processInputClosed(listener: () => void): () => void {
  process.stdin.on('end', listener);
  process.stdin.on('error', listener);
  process.stdin.resume();
  return () => {
    process.stdin.off('end', listener);
    process.stdin.off('error', listener);
    process.stdin.destroy();
  };
}
