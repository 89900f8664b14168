// What a CLI run may touch of the outside world, injectable so tests can capture output, pretend to
// be a terminal and press Ctrl-C. The default is the real process.

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
  /** Wall clock in ms, for "Running 5 seconds ago". */
  readonly now?: () => number;
  /** Terminal width: docker draws progress bars only when it is over 110 columns. */
  readonly columns?: number;
}

export function processIo(): Io {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    onInterrupt: processInterrupts,
    now: Date.now,
    ...(process.stdout.columns !== undefined ? { columns: process.stdout.columns } : {}),
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
