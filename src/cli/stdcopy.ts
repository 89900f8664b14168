// Docker's stdcopy framing of log streams: an 8-byte header (byte 0 the stream: 1 stdout, 2 stderr;
// bytes 4-7 the big-endian payload length) before each payload. Frames may arrive split or merged.

export interface Frame {
  readonly stream: number;
  readonly payload: Buffer;
}

export class StdcopyParser {
  #pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; returns every frame now complete. */
  push(chunk: Buffer): Frame[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Frame[] = [];
    while (this.#pending.length >= 8) {
      const length = this.#pending.readUInt32BE(4);
      if (this.#pending.length < 8 + length) break;
      frames.push({ stream: this.#pending[0]!, payload: this.#pending.subarray(8, 8 + length) });
      this.#pending = this.#pending.subarray(8 + length);
    }
    return frames;
  }

  /** Bytes of an unfinished frame left at the end of the stream. */
  get leftover(): number {
    return this.#pending.length;
  }
}
