// A chunked body (RFC 9112 §7.1) read as it arrives: each chunk's size line, its data, its CRLF, and the
// trailer section after the last one. What it hands on is the data alone (the mesh frames the body again
// for its own client); anything that is not exactly this grammar is an error, so a task's answer can
// never be read as ending somewhere other than where the task meant.

/** Longest size line (with its extensions) and trailer section taken: Node's own limits are of this order. */
const LINE_LIMIT = 16 * 1024;
/** Hex digits in a chunk size read without a check: 13 make at most 2^52, still an exact number. */
const MAX_SIZE_DIGITS = 13;

const enum State { Size, Extension, SizeLf, Data, DataCr, DataLf, Trailer, TrailerLf, Done }

const CR = 13;
const LF = 10;
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"';
/**
 * What may follow a chunk's size on its line (RFC 9112 §7.1.1): `;name` or `;name=value`. Without the
 * whitespace the RFC tolerates around them, as Node's parser reads them: readers that differ on it are how
 * extensions have smuggled requests.
 */
const EXTENSIONS = new RegExp(`^(?:;${TOKEN}(?:=(?:${TOKEN}|${QUOTED}))?)*$`);
/** A trailer line (RFC 9112 §7.1.2): a header line, as in a head. */
const TRAILER_LINE = new RegExp(`^${TOKEN}:[ \\t]*[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$`);

export class ChunkedDecoder {
  #state = State.Size;
  #size = 0;
  #digits = 0;
  #lineLength = 0;
  /** The current extension or trailer line so far, one character per byte (both are rare: no need to be quick). */
  #line = '';

  get done(): boolean {
    return this.#state === State.Done;
  }

  /**
   * Reads `chunk` from `from`; `data` gets each piece of body data (views of `chunk`, not copies). Returns
   * where the body ended in `chunk` once it is done (bytes after it are not the body's), or -1 while it
   * goes on; throws an Error naming the fault when the bytes break the grammar.
   */
  read(chunk: Buffer, from: number, data: (piece: Buffer) => void): number {
    let i = from;
    while (i < chunk.length) {
      switch (this.#state) {
        case State.Data: {
          const end = Math.min(chunk.length, i + this.#size);
          data(chunk.subarray(i, end));
          this.#size -= end - i;
          i = end;
          if (this.#size === 0) this.#state = State.DataCr;
          continue;
        }
        case State.Size: {
          const byte = chunk[i]!;
          const digit = hexValue(byte);
          if (digit >= 0) {
            // Leading zeros are digits too (1*HEXDIG), but only significant ones can make the size too big.
            if (++this.#digits > MAX_SIZE_DIGITS) {
              if (this.#size * 16 + digit >= 2 ** 52) throw new Error('a chunk size of 2^52 or more');
              if (this.#digits > LINE_LIMIT) throw new Error('a chunk size line over 16 KiB');
            }
            this.#size = this.#size * 16 + digit;
          } else if (this.#digits === 0) {
            throw new Error('a chunk that does not start with its size in hex');
          } else if (byte === CR) {
            this.#state = State.SizeLf;
          } else if (byte === 0x3b /* ; */) {
            this.#state = State.Extension;
            this.#line = ';';
          } else {
            throw new Error('a chunk size followed by something other than ";" or CRLF');
          }
          break;
        }
        case State.Extension: {
          const byte = chunk[i]!;
          if (byte === CR) {
            if (!EXTENSIONS.test(this.#line)) throw new Error('a chunk extension that is not ;name or ;name=value');
            this.#line = '';
            this.#state = State.SizeLf;
          } else if (byte < 0x20 && byte !== 0x09) {
            throw new Error('a control character in a chunk extension');
          } else if (++this.#lineLength > LINE_LIMIT) {
            throw new Error('a chunk extension over 16 KiB');
          } else {
            this.#line += String.fromCharCode(byte);
          }
          break;
        }
        case State.SizeLf: {
          if (chunk[i] !== LF) throw new Error('a chunk size line that does not end with CRLF');
          this.#lineLength = 0;
          this.#digits = 0;
          this.#state = this.#size === 0 ? State.Trailer : State.Data;
          break;
        }
        case State.DataCr: {
          if (chunk[i] !== CR) throw new Error('chunk data longer than its size');
          this.#state = State.DataLf;
          break;
        }
        case State.DataLf: {
          if (chunk[i] !== LF) throw new Error('chunk data not followed by CRLF');
          this.#state = State.Size;
          break;
        }
        case State.Trailer: {
          const byte = chunk[i]!;
          if (byte === CR) {
            this.#state = State.TrailerLf;
          } else if (byte === LF || (byte < 0x20 && byte !== 0x09)) {
            throw new Error('a control character or bare LF in the trailer section');
          } else {
            this.#line += String.fromCharCode(byte);
            if (++this.#lineLength > LINE_LIMIT) throw new Error('a trailer section over 16 KiB');
          }
          break;
        }
        case State.TrailerLf: {
          if (chunk[i] !== LF) throw new Error('a trailer line that does not end with CRLF');
          if (this.#line === '') {
            this.#state = State.Done;
            return i + 1;
          }
          if (!TRAILER_LINE.test(this.#line)) throw new Error('a trailer line that is not "name: value"');
          this.#line = '';
          this.#state = State.Trailer;
          break;
        }
        case State.Done:
          return i;
      }
      i++;
    }
    return this.#state === State.Done ? i : -1;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
