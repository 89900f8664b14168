// A task whose program is a real child process (routemesh/exec): owns the process, its output lines and
// its exit code. Building the command line and environment is left to the image.

import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { realTimer } from '../swarm/index.js';
import type { Timer } from '../swarm/index.js';
import { reapOnExit } from './groupReaper.js';
import type { LogRing } from './LogRing.js';
import type { Containment } from './taskProcess.js';
import { RuntimeError } from './TaskRun.js';
import type { ListenPort, LogLine, RunningTask } from './TaskRun.js';

/** How long the output of a task whose program has exited is still read before its pipes are closed. */
const LAST_OUTPUT_MS = 300;
/** How long a stop waits, at most, for a namespace's init to take signals (see #initTakesSignals). */
const INIT_READY_MS = 1000;
const SIGTERM_BIT = 1n << BigInt(constants.signals.SIGTERM - 1);

export class ChildTask implements RunningTask {
  readonly address: string;
  readonly ports: ListenPort[];
  readonly exited: Promise<number>;
  readonly #child: ChildProcess;
  readonly #log: LogRing;
  readonly #started: Promise<void>;
  /** Set once the process has exited: no signal goes to its group from then on. */
  #gone = false;
  #killTimer: Timer | undefined;
  #stopping = false;
  readonly #grouped: boolean;
  mountNamespacePid?: number;

  /**
   * Attach to `child` in the same tick it was spawned, so no exit can be missed; `output` holds the read
   * ends of its stdout and stderr (OutputPipe). `containment` is how taskArgv started it; `cleanUp` is
   * awaited once it has ended.
   */
  constructor(child: ChildProcess, address: string, ports: ListenPort[], log: LogRing, output: { stdout: Readable; stderr: Readable }, containment: Containment,
    cleanUp?: () => Promise<void>) {
    this.#child = child;
    this.address = address;
    this.ports = ports;
    this.#log = log;
    this.#grouped = containment === 'group';
    const drained = Promise.all([this.#follow(output.stdout, 'stdout'), this.#follow(output.stderr, 'stderr')]);
    this.#started = new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err: NodeJS.ErrnoException) => reject(spawnFailure(child.spawnfile, err)));
    });
    // Errors after the start (a failed kill) belong in the logs; unhandled, they would crash the node.
    this.#started.then(
      () => child.on('error', (err) => log.push('stderr', `routemesh/exec: ${err.message}`)),
      () => {},
    );
    // In a namespace, the kernel ends everything the program started when it ends (a container's PID 1
    // taking its namespace with it). In a process group, the group is killed now, and an awk watcher kills
    // it should routemesh die first; what left the group escapes both.
    const release = this.#grouped && child.pid !== undefined ? reapOnExit(child.pid) : () => {};
    const exit = new Promise<number>((resolve) => {
      child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.#grouped) this.#signalGroup('SIGKILL');
        this.#gone = true;
        release();
        resolve(exitCodeOf(code, signal));
      });
    });
    // Ended when the program has: its last output is read first, for a moment at most, since a process that
    // escaped (or any holder of the pipes) could keep them open forever; then the pipes are closed.
    this.exited = exit.then(async (code) => {
      this.#killTimer?.cancel();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, LAST_OUTPUT_MS); })]);
      clearTimeout(timer);
      output.stdout.destroy();
      output.stderr.destroy();
      // What the task had of its own (its files' directory) is gone before it counts as ended.
      await cleanUp?.();
      return code;
    });
  }

  /** Resolves once the program runs; rejects with START_FAILED if it could not be executed. */
  started(): Promise<void> {
    return this.#started;
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  get logs(): LogLine[] {
    return this.#log.lines;
  }

  onLog(listener: (line: LogLine) => void): () => void {
    return this.#log.onLog(listener);
  }

  stop(graceMs: number): Promise<number> {
    if (!this.#gone && !this.#stopping) {
      this.#stopping = true;
      const terminate = (): void => {
        if (this.#gone) return;
        this.#signalGroup('SIGTERM');
        this.#killTimer = realTimer(() => this.#signalGroup('SIGKILL'), graceMs);
      };
      if (this.#grouped) terminate();
      else void this.#initTakesSignals().then(terminate);
    }
    return this.exited;
  }

  kill(): Promise<number> {
    this.#stopping = true;
    this.#signalGroup('SIGKILL');
    return this.exited;
  }

  /**
   * In a namespace the SIGTERM reaches the program through tini, which blocks every signal first thing and
   * then waits on them. One sent before that, to a task stopped as it starts, would be lost: a namespace's
   * init ignores a signal it has no handler for. So a stop waits, briefly, until tini holds SIGTERM blocked.
   */
  async #initTakesSignals(): Promise<void> {
    const pid = this.#child.pid;
    const deadline = Date.now() + INIT_READY_MS;
    while (pid !== undefined && !this.#gone && Date.now() < deadline) {
      if (await blocksSigterm(pid)) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Signals the task's process group (the child leads it: it was spawned detached); in a namespace, its init passes a SIGTERM on. */
  #signalGroup(signal: NodeJS.Signals): void {
    const pid = this.#child.pid;
    if (pid === undefined || this.#gone) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  }

  /** Resolves when `stream` has ended and its last line (even without a newline) is in the log. */
  #follow(stream: Readable, name: LogLine['stream']): Promise<void> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (text) => this.#log.push(name, text));
    lines.on('error', () => {}); // a read error ends the output as EOF would; the lines read are kept
    // The stream closes after 'end', by which time readline has pushed the last line.
    return new Promise((resolve) => stream.once('close', () => resolve()));
  }
}

/** Whether the first child of `pid` (the namespace's init, once unshare has forked it) has SIGTERM blocked. */
async function blocksSigterm(pid: number): Promise<boolean> {
  try {
    const [init] = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).split(' ');
    if (!init) return false;
    const status = await readFile(`/proc/${init}/status`, 'utf8');
    // tini itself, not unshare's child before it execs tini (whose mask unshare may still be restoring).
    const blocked = /^Name:\s*tini$/m.test(status) ? /^SigBlk:\s*([0-9a-f]+)$/m.exec(status)?.[1] : undefined;
    return blocked !== undefined && (BigInt(`0x${blocked}`) & SIGTERM_BIT) !== 0n;
  } catch {
    return false; // gone meanwhile, or no /proc: the stop goes on
  }
}

/** As a shell reports it: a signal becomes 128 + its number (SIGTERM 143, SIGKILL 137). */
function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  // A negative code means the program never ran; 127 is what a shell says for "command not found".
  if (code === null || code < 0) return 127;
  return code;
}

function spawnFailure(file: string, err: NodeJS.ErrnoException): RuntimeError {
  if (err.code === 'ENOENT') {
    return new RuntimeError(
      'START_FAILED',
      `routemesh/exec cannot run '${file}': executable file not found in $PATH; pass a command that exists on this machine (e.g. node).`,
    );
  }
  if (err.code === 'EACCES') {
    return new RuntimeError('START_FAILED', `routemesh/exec cannot run '${file}': permission denied; make it executable.`);
  }
  return new RuntimeError('START_FAILED', `routemesh/exec cannot run '${file}': ${err.message}.`);
}
