// Writes a DNS message's bytes, compressing names against those already written (RFC 1035 §4.1.4).
// Answers are encoded here rather than with dns2's encoder, which rebuilds the whole message after
// every record: 220 µs for six A records, quadratic in the record count (bench/README.md, "DNS").
// dns2 still decodes every query's question.
import { ipToInt } from './Ipam.js';

/** Compression pointers reach only the first 16 KiB of a message. */
const POINTER_REACH = 0x3fff;

export class WireWriter {
  // Unsafe is safe here: every byte below #length is written before toBuffer() hands it out.
  #buffer = Buffer.allocUnsafe(512);
  #length = 0;
  /** Offsets of name suffixes already written, by their lower-case text. */
  #names = new Map<string, number>();

  get length(): number {
    return this.#length;
  }

  #room(bytes: number): void {
    if (this.#length + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#length + bytes));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }

  u8(value: number): void {
    this.#room(1);
    this.#buffer.writeUInt8(value, this.#length);
    this.#length += 1;
  }

  u16(value: number): void {
    this.#room(2);
    this.#buffer.writeUInt16BE(value, this.#length);
    this.#length += 2;
  }

  u32(value: number): void {
    this.#room(4);
    this.#buffer.writeUInt32BE(value >>> 0, this.#length);
    this.#length += 4;
  }

  bytes(data: Buffer): void {
    this.#room(data.length);
    data.copy(this.#buffer, this.#length);
    this.#length += data.length;
  }

  setU16(offset: number, value: number): void {
    this.#buffer.writeUInt16BE(value, offset);
  }

  /** An IPv4 address as its four bytes. */
  ipv4(address: string): void {
    this.u32(ipToInt(address));
  }

  /**
   * A domain name: labels until a suffix already written, then a pointer to it. Labels are bytes (latin1),
   * as dns2 decodes them, so a name read from a query is written back unchanged. `compress: false` for
   * fields that must not point elsewhere (SRV targets, RFC 2782); later names may still point into them.
   */
  name(name: string, { compress = true } = {}): void {
    const labels = name.split('.').filter((label) => label !== '');
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join('.').toLowerCase();
      const known = compress ? this.#names.get(suffix) : undefined;
      if (known !== undefined) {
        this.u16(0xc000 | known);
        return;
      }
      if (this.#length <= POINTER_REACH && !this.#names.has(suffix)) this.#names.set(suffix, this.#length);
      const bytes = Buffer.from(labels[i]!, 'latin1');
      if (bytes.length > 63) throw new Error(`the label '${labels[i]}' is longer than 63 bytes`);
      this.u8(bytes.length);
      this.bytes(bytes);
    }
    this.u8(0);
  }

  /** The message; the writer is done with once it is taken. */
  toBuffer(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
}
