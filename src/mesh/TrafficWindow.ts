// How many connections (tcp), flows (udp) or requests (http mode) each backend of a node's pools was handed
// in the last minute. The forwarders count every backend's running total anyway (Backend.total); once a
// second that total is written into the backend's ring, so the data path pays nothing more. A backend's
// last minute is its total now less its total a minute ago (0 for a backend newer than that).
import type { Backend } from '../lb/index.js';

export interface TrafficWindowOptions {
  /** How far back a count reaches. */
  windowMs?: number;
  /** How often totals are written down: a count is exact to this. */
  sampleMs?: number;
}

export class TrafficWindow {
  readonly windowMs: number;
  readonly #sampleMs: number;
  /** One more than the samples a window spans: the oldest slot is then a whole window old. */
  readonly #slots: number;
  #tick = 0;
  readonly #rings = new WeakMap<Backend, Float64Array>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: TrafficWindowOptions = {}) {
    this.#sampleMs = options.sampleMs ?? 1000;
    this.windowMs = options.windowMs ?? 60_000;
    this.#slots = Math.max(1, Math.round(this.windowMs / this.#sampleMs)) + 1;
  }

  /** Samples `backends()` every sampleMs until stop(). */
  start(backends: () => Iterable<Backend>): void {
    this.#timer ??= setInterval(() => this.sample(backends()), this.#sampleMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Writes down each backend's total now. A backend first seen here had 0 in every earlier slot. */
  sample(backends: Iterable<Backend>): void {
    const slot = ++this.#tick % this.#slots;
    for (const backend of backends) {
      let ring = this.#rings.get(backend);
      if (!ring) this.#rings.set(backend, (ring = new Float64Array(this.#slots)));
      ring[slot] = backend.total;
    }
  }

  /** What `backend` was handed within the window. */
  recent(backend: Backend): number {
    const ring = this.#rings.get(backend);
    return ring ? backend.total - ring[(this.#tick + 1) % this.#slots]! : backend.total;
  }
}
