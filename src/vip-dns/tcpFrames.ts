// DNS over TCP: every message is preceded by its length in two bytes (RFC 1035 §4.2.2).
import { performance } from 'node:perf_hooks';

export function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/** Cuts a byte stream into messages, taken one at a time so the reader decides how many are in flight. */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);
  /** When the first byte of the message at the head of the buffer came (performance.now()). */
  #startedAt = 0;

  push(chunk: Buffer): void {
    if (!this.#buffered.length) this.#startedAt = performance.now();
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, chunk]) : chunk;
  }

  /** The next whole message, or undefined until more bytes come. */
  next(): Buffer | undefined {
    if (this.#buffered.length < 2) return undefined;
    const end = 2 + this.#buffered.readUInt16BE(0);
    if (this.#buffered.length < end) return undefined;
    const message = this.#buffered.subarray(2, end);
    this.#buffered = this.#buffered.subarray(end);
    // What follows came with or before the last chunk; it is timed from now, when it starts being read.
    if (this.#buffered.length) this.#startedAt = performance.now();
    return message;
  }

  /** When the first byte of a message that has not all come arrived; undefined when none is waiting for more. */
  get partialSince(): number | undefined {
    const length = this.#buffered.length;
    if (!length || (length >= 2 && length >= 2 + this.#buffered.readUInt16BE(0))) return undefined;
    return this.#startedAt;
  }
}
