// Docker's health state machine for one backend: `starting` until the first success (failures in the
// start period do not count), then `healthy`, and `unhealthy` after `retries` failures in a row. It runs
// a probe every interval with a timeout; what the probe does, and what follows a status, is the caller's.

export type Health = 'starting' | 'healthy' | 'unhealthy';

export interface HealthCheckerOptions {
  /** Resolves true when the backend is healthy; false or a rejection is a failure. */
  probe: (signal: AbortSignal) => Promise<boolean>;
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  onStatus: (health: Health) => void;
  /** Arms the interval and the timeout: it must hold any duration a user may set (setTimeout alone cannot). */
  setTimer: (fn: () => void, ms: number) => { cancel(): void };
  now?: () => number;
}

export class HealthChecker {
  #options: HealthCheckerOptions;
  #setTimer: HealthCheckerOptions['setTimer'];
  #now: () => number;
  #startedAt: number;
  #health: Health = 'starting';
  #failures = 0;
  #timer: { cancel(): void } | undefined;
  #inFlight: AbortController | undefined;
  #stopped = false;

  constructor(options: HealthCheckerOptions) {
    this.#options = options;
    this.#setTimer = options.setTimer;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  get health(): Health {
    return this.#health;
  }

  /** The first probe runs one interval after start, as Docker's does. */
  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#inFlight?.abort();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#setTimer(() => void this.#check(), this.#options.intervalMs);
  }

  async #check(): Promise<void> {
    const controller = new AbortController();
    this.#inFlight = controller;
    const timeout = this.#setTimer(() => controller.abort(), this.#options.timeoutMs);
    let ok: boolean;
    try {
      ok = await Promise.race([
        this.#options.probe(controller.signal),
        new Promise<boolean>((resolve) => controller.signal.addEventListener('abort', () => resolve(false), { once: true })),
      ]);
    } catch {
      ok = false;
    } finally {
      timeout.cancel();
    }
    if (this.#stopped) return;
    this.record(ok);
    this.#schedule();
  }

  /** One probe's result: moves the state machine (public so tables can drive it without timers). */
  record(ok: boolean): void {
    if (ok) {
      this.#failures = 0;
      this.#set('healthy');
      return;
    }
    // Inside the start period a failure is not counted, unless the backend was already healthy.
    if (this.#health === 'starting' && this.#now() - this.#startedAt < this.#options.startPeriodMs) return;
    this.#failures++;
    if (this.#failures >= Math.max(this.#options.retries, 1)) this.#set('unhealthy');
  }

  #set(health: Health): void {
    if (this.#health === health) return;
    this.#health = health;
    this.#options.onStatus(health);
  }
}
