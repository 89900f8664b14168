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
  at: number;
  last?: boolean; // the budget ran out with this chunk
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
      const held = queue.shift()!;
      if (!held.chunk) {
        endWriting(to);
        continue;
      }
      queuedBytes -= held.chunk.length;
      if (held.last) {
        // Reset once the kernel has the last bytes the budget allowed: a reset drops what is still unsent.
        to.write(held.chunk, () => direction.spent());
        queue.length = 0;
        return;
      }
      if (!to.write(held.chunk)) {
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

  const hold = (chunk: Buffer | undefined, at: number, last = false): void => {
    lastAt = Math.max(lastAt, at);
    queue.push({ chunk, at: lastAt, last });
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
    }
    const now = Date.now();
    let at = now;
    if (direction.delayed && (fault.latencyMs || fault.jitterMs)) {
      const jitter = fault.jitterMs ? (direction.random() * 2 - 1) * fault.jitterMs : 0;
      at += Math.max(0, (fault.latencyMs ?? 0) + jitter);
    }
    const rate = fault.bytesPerSecond;
    if (rate) {
      const slice = Math.max(1, Math.floor((rate * SLICE_MS) / 1000));
      for (let offset = 0; offset < chunk.length; offset += slice) {
        const part = chunk.subarray(offset, offset + slice);
        rateFreeAt = Math.max(rateFreeAt, now) + (part.length * 1000) / rate;
        hold(part, Math.max(at, rateFreeAt), last && offset + slice >= chunk.length);
      }
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
