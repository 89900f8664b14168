// DNS over TCP: every message is preceded by its length in two bytes (RFC 1035 §4.2.2).

export function frame(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}

/** Cuts a byte stream into messages, taken one at a time so the reader decides how many are in flight. */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, chunk]) : chunk;
  }

  /** The next whole message, or undefined until more bytes come. */
  next(): Buffer | undefined {
    if (this.#buffered.length < 2) return undefined;
    const end = 2 + this.#buffered.readUInt16BE(0);
    if (this.#buffered.length < end) return undefined;
    const message = this.#buffered.subarray(2, end);
    this.#buffered = this.#buffered.subarray(end);
    return message;
  }
}
