// One node as an OS process of its own, `routemesh node start --supervised ...`, that `up` started: its log
// lines passed on, its death said with how to start it again, and its stop (SIGTERM, SIGKILL if it hangs).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { shellWord } from './invocation.js';

/** The command itself: dist/cli/ and src/cli/ both sit two levels under the checkout's root. */
const BIN = fileURLToPath(new URL('../../bin/routemesh.js', import.meta.url));

/** How long a node gets to stop its tasks and close before it is killed. */
const STOP_GRACE_MS = 15_000;

/** How many of its last log lines a node that dies during start-up shows. */
const TAIL_LINES = 5;

export interface NodeProcessOptions {
  hostname: string;
  /** The flags of `node start` that make this node. */
  args: readonly string[];
  /** Where its log lines go, as they are (the node stamps them with the time). */
  output: (line: string) => void;
  /** How the user runs routemesh, for the command that starts the node again. */
  command: string;
}

export class NodeProcess {
  readonly hostname: string;
  readonly pid: number;
  /** Resolves with how it ended: the text says why, as `died (SIGKILL)` would. */
  readonly exited: Promise<string>;
  readonly #child: ChildProcess;
  readonly #args: readonly string[];
  readonly #command: string;
  readonly #tail: string[] = [];
  #stopping = false;

  constructor(options: NodeProcessOptions) {
    this.hostname = options.hostname;
    this.#args = options.args;
    this.#command = options.command;
    // stdin is a pipe the node watches (--supervised): the kernel closes it however `up` ends, even by SIGKILL.
    // Detached, in a process group of its own: Ctrl-C in the terminal reaches `up` only, which stops the
    // nodes itself, and so knows a node that ends then from one that died.
    this.#child = spawn(process.execPath, [BIN, 'node', 'start', '--supervised', ...options.args], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.pid = this.#child.pid ?? 0;
    readline.createInterface({ input: this.#child.stderr! }).on('line', (line) => {
      this.#tail.push(line);
      if (this.#tail.length > TAIL_LINES) this.#tail.shift();
      options.output(line);
    });
    // Its end of the pipe goes with it: a write after its death must not throw in `up`.
    this.#child.stdin!.on('error', () => {});
    this.exited = (once(this.#child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>).then(([code, signal]) =>
      (signal ? `died (${signal})` : `exited (exit code ${code})`));
    this.#child.on('error', () => {}); // a failed spawn ends in 'exit' too
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Its last log lines, for an error when it ended before it was ready. */
  get lastLines(): readonly string[] {
    return this.#tail;
  }

  /** The command that starts this node again, with its address and data. */
  get restartCommand(): string {
    return `${this.#command} node start ${this.#args.map(shellWord).join(' ')}`;
  }

  /** SIGTERM (it closes its engine and stops its tasks), then SIGKILL if it is still there after the grace period. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (!this.running) return;
    this.#child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => { this.#child.kill('SIGKILL'); resolve(); }, STOP_GRACE_MS);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    await this.exited;
  }
}
