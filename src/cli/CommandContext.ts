// Everything a command needs besides its arguments: output, the engine client (made on first use
// from ROUTEMESH_HOST / DOCKER_HOST, its wait for an answer from ROUTEMESH_TIMEOUT_MS), the clock, Ctrl-C,
// and the progress timings tests shorten.
import { EngineClient } from './EngineClient.js';
import { engineTarget } from './engineAddress.js';
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
      const timeoutMs = positive(this.io.env['ROUTEMESH_TIMEOUT_MS']);
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

  /** Convergence poll period: docker's 200 ms, or ROUTEMESH_POLL_MS. */
  get pollMs(): number {
    return positive(this.io.env['ROUTEMESH_POLL_MS']) ?? 200;
  }

  /** The wait after convergence when the service sets no UpdateConfig.Monitor: 5 s, or ROUTEMESH_MONITOR_MS. */
  get defaultMonitorMs(): number {
    return positive(this.io.env['ROUTEMESH_MONITOR_MS'], true) ?? 5000;
  }

  close(): void {
    this.#client?.close();
  }
}

function positive(text: string | undefined, allowZero = false): number | undefined {
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  const n = Number(text);
  return n > 0 || (allowZero && n === 0) ? n : undefined;
}
