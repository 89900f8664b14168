// How the swarm's data directory frames its records, so a reader tells a record cut off by a crash
// (only ever the last one written) from damage: [length][length's complement][CRC-32 of the payload]
// (three little-endian uint32s), then the payload. The complement catches a damaged length, which would
// otherwise pass for a record that runs past the end of the file.
import { crc32 } from './crc32.js';

const HEADER_BYTES = 12;

export function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(~payload.length >>> 0, 4);
  header.writeUInt32LE(crc32(payload), 8);
  return Buffer.concat([header, payload]);
}

export interface Frames {
  payloads: Buffer[];
  /** Bytes at the end that are no whole record: the last write, cut off by a crash. */
  tornBytes: number;
}

/** Damage that is not a cut-off last write: `offset` is where the bad record starts. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(readonly offset: number, what: string) {
    super(`${what} at byte ${offset}`);
  }
}

/**
 * The records of a file, in order. A last record that is cut short, fails its check right at the end of
 * the file, or is followed by nothing but zeros (a file grown but not yet written) is torn; anything else
 * that does not check is damage, and throws.
 */
export function readFrames(bytes: Buffer): Frames {
  const payloads: Buffer[] = [];
  let offset = 0;
  const torn = (): Frames => ({ payloads, tornBytes: bytes.length - offset });
  while (offset < bytes.length) {
    if (bytes.length - offset < HEADER_BYTES) return torn();
    const length = bytes.readUInt32LE(offset);
    if ((~length >>> 0) !== bytes.readUInt32LE(offset + 4)) {
      if (bytes.subarray(offset).every((byte) => byte === 0)) return torn();
      throw new FrameError(offset, 'a record whose length is damaged');
    }
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) return torn();
    const payload = bytes.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32LE(offset + 8)) {
      if (end === bytes.length) return torn();
      throw new FrameError(offset, 'a record that fails its CRC-32 check, with more records after it');
    }
    payloads.push(payload);
    offset = end;
  }
  return torn();
}
