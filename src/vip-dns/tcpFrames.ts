// DNS over TCP: every message is preceded by its length in two bytes (RFC 1035 §4.2.2).

export function frame(message: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(message.length);
  return Buffer.concat([length, message]);
}

/** Cuts a byte stream into messages; holds at most one partial message (64 KiB) between calls. */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (this.#buffered.length >= 2) {
      const end = 2 + this.#buffered.readUInt16BE(0);
      if (this.#buffered.length < end) break;
      messages.push(this.#buffered.subarray(2, end));
      this.#buffered = this.#buffered.subarray(end);
    }
    return messages;
  }
}
