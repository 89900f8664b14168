// Everything a command needs besides its arguments: output, the engine client (made on first use
// from ROUTEMESH_HOST / DOCKER_HOST, its wait for an answer from ROUTEMESH_TIMEOUT_MS), the clock, Ctrl-C,
// and the progress timings tests shorten.
import { EngineClient } from './EngineClient.js';
import { engineTarget } from './engineAddress.js';
import { failure } from './errors.js';
import { processInterrupts, type Io } from './Io.js';

export class CommandContext {
  readonly io: Io;
  #client: EngineClient | undefined;

  constructor(io: Io) {
    this.io = io;
  }

  /** Writes one line (or several) to stdout. */
  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Writes text to stdout as is. */
  write(text: string): void {
    this.io.stdout.write(text);
  }

  err(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  client(): EngineClient {
    if (this.#client === undefined) {
      const target = engineTarget(this.io.env);
      const timeoutMs = envMs(this.io.env, 'ROUTEMESH_TIMEOUT_MS', 1, 30_000);
      this.#client = new EngineClient(target.baseUrl, {
        host: target.host,
        ...(target.socketPath ? { socketPath: target.socketPath } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
    }
    return this.#client;
  }

  now(): number {
    return (this.io.now ?? Date.now)();
  }

  onInterrupt(listener: () => void): () => void {
    return (this.io.onInterrupt ?? processInterrupts)(listener);
  }

  /** An error nothing caught; none unless the Io offers it (the real process's does). */
  onFatal(listener: (error: unknown) => void): () => void {
    return this.io.onFatal?.(listener) ?? (() => {});
  }

  /** The end of standard input; never, unless the Io offers it (the real process's does). */
  onInputClosed(listener: () => void): () => void {
    return this.io.onInputClosed?.(listener) ?? (() => {});
  }

  /** Convergence poll period: docker's 200 ms, or ROUTEMESH_POLL_MS. */
  get pollMs(): number {
    return envMs(this.io.env, 'ROUTEMESH_POLL_MS', 1, 200) ?? 200;
  }

  /** The wait after convergence when the service sets no UpdateConfig.Monitor: 5 s, or ROUTEMESH_MONITOR_MS. */
  get defaultMonitorMs(): number {
    return envMs(this.io.env, 'ROUTEMESH_MONITOR_MS', 0, 5000) ?? 5000;
  }

  close(): void {
    this.#client?.close();
  }
}

/** Node's timers fire at once past this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Milliseconds from an environment variable: unset or empty, undefined; anything but a whole number in
 * range is refused, saying what it must be (a typo must not silently mean the default).
 */
function envMs(env: Io['env'], name: string, min: number, example: number): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const ms = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(ms >= min && ms <= MAX_TIMER_MS)) {
    throw failure(`${name} must be a whole number of milliseconds from ${min} to ${MAX_TIMER_MS}, like ${example}, not ${JSON.stringify(text)}: correct it or unset it`);
  }
  return ms;
}
