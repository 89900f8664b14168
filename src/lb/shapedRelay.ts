// Bytes from one socket to another through a faulty link: each chunk is held until its time (latency
// with jitter, or the rate a bandwidth cap allows), in order, and a reset budget cuts the connection
// once spent. The fault is read at every chunk, so a fault lifted mid-connection stops holding bytes.
import type net from 'node:net';
import type { LinkFault } from './LinkFault.js';
import { endWriting } from './relay.js';

/** Bytes held in one direction before the reader is paused: a slow link must not buffer without bound. */
const HIGH_WATER_BYTES = 1 << 20;
/** A capped rate is dealt out in slices of this many milliseconds' worth, so it flows rather than bursts. */
const SLICE_MS = 50;

/** Bytes a connection may still carry, both ways together, before it is reset; shared by its two directions. */
export interface ResetBudget {
  left: number;
}

export interface ShapedDirection {
  /** Read per chunk: the fault as it is now (lifted: nothing). */
  fault(): LinkFault;
  /** Latency applies to this direction (what the backend sends). */
  delayed: boolean;
  budget: ResetBudget | undefined;
  random: () => number;
  /** The budget ran out here: both sockets are to be reset. */
  spent(): void;
}

interface Held {
  chunk: Buffer | undefined; // undefined: the end of the stream
  at: number; // when its (next) bytes are due
  last?: boolean; // the budget ran out with this chunk
  paced?: Paced;
}

/**
 * A chunk under a capped rate goes out a slice at a time, each slice cut when it is due: cut up front, a
 * slow rate would hold a buffer view for every few bytes (at 1 B/s, a million of them per MiB held).
 */
interface Paced {
  rate: number;
  slice: number;
  /** When the link is free to send the chunk's first byte. */
  start: number;
  /** Not before this (its latency, and the chunk before it). */
  notBefore: number;
  sent: number;
}

/** When the next slice of a paced chunk of `length` bytes has gone through the link. */
function dueAt(paced: Paced, length: number): number {
  const end = Math.min(paced.sent + paced.slice, length);
  return Math.max(paced.notBefore, paced.start + (end * 1000) / paced.rate);
}

/** The next slice of a paced chunk; `held.at` moves on to the one after it. */
function nextSlice(held: Held & { chunk: Buffer; paced: Paced }): Buffer {
  const { paced, chunk } = held;
  const part = chunk.subarray(paced.sent, paced.sent + paced.slice);
  paced.sent += part.length;
  held.at = dueAt(paced, chunk.length);
  return part;
}

export function shapedRelay(from: net.Socket, to: net.Socket, direction: ShapedDirection): void {
  const queue: Held[] = [];
  let queuedBytes = 0;
  let lastAt = 0;
  let rateFreeAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let waitingForDrain = false;

  const flush = (): void => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0]!.at <= now && !waitingForDrain) {
      const held = queue[0]!;
      if (!held.chunk) {
        queue.shift();
        endWriting(to);
        continue;
      }
      const part = held.paced ? nextSlice(held as Held & { chunk: Buffer; paced: Paced }) : held.chunk;
      const whole = !held.paced || held.paced.sent === held.chunk.length;
      if (whole) queue.shift();
      queuedBytes -= part.length;
      if (held.last && whole) {
        // Reset once the kernel has the last bytes the budget allowed: a reset drops what is still unsent.
        to.write(part, () => direction.spent());
        queue.length = 0;
        return;
      }
      if (!to.write(part)) {
        waitingForDrain = true;
        to.once('drain', () => {
          waitingForDrain = false;
          flush();
        });
      }
    }
    if (queuedBytes < HIGH_WATER_BYTES && from.isPaused() && !from.destroyed) from.resume();
    if (queue.length && !timer && !waitingForDrain) timer = setTimeout(flush, Math.max(0, queue[0]!.at - Date.now()));
  };

  const hold = (chunk: Buffer | undefined, at: number, last = false, pacing?: Omit<Paced, 'notBefore' | 'sent'>): void => {
    const notBefore = Math.max(lastAt, at);
    const held: Held = { chunk, at: notBefore, last };
    if (chunk && pacing) {
      held.paced = { ...pacing, notBefore, sent: 0 };
      held.at = dueAt(held.paced, chunk.length);
      lastAt = Math.max(notBefore, rateFreeAt);
    } else {
      lastAt = notBefore;
    }
    queue.push(held);
    if (chunk) queuedBytes += chunk.length;
  };

  from.on('data', (data: Buffer) => {
    const fault = direction.fault();
    let chunk = data;
    let last = false;
    const budget = direction.budget;
    if (budget) {
      if (chunk.length >= budget.left) {
        chunk = chunk.subarray(0, budget.left);
        last = true;
        from.pause();
      }
      budget.left -= chunk.length;
      // Nothing left of a spent budget: the direction that spent it resets once its last bytes are out.
      if (!chunk.length) return;
    }
    const now = Date.now();
    let at = now;
    if (direction.delayed && (fault.latencyMs || fault.jitterMs)) {
      const jitter = fault.jitterMs ? (direction.random() * 2 - 1) * fault.jitterMs : 0;
      at += Math.max(0, (fault.latencyMs ?? 0) + jitter);
    }
    const rate = fault.bytesPerSecond;
    if (rate) {
      const start = Math.max(rateFreeAt, now);
      rateFreeAt = start + (chunk.length * 1000) / rate;
      hold(chunk, at, last, { rate, slice: Math.max(1, Math.floor((rate * SLICE_MS) / 1000)), start });
    } else {
      hold(chunk, at, last);
    }
    if (queuedBytes >= HIGH_WATER_BYTES) from.pause();
    if (!timer) flush();
  });
  from.once('end', () => {
    hold(undefined, Date.now());
    if (!timer) flush();
  });
  from.once('close', () => clearTimeout(timer));
  to.once('close', () => clearTimeout(timer));
}
