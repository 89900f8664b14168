// One task connection's answers, read as their bytes arrive: the head (responseHead.ts), then the body by
// its framing (RFC 9112 §6.3): none for HEAD, 1xx, 204 and 304; chunked when Transfer-Encoding ends with
// it; Content-Length bytes; otherwise everything until the task closes. Interim 1xx answers are read and
// dropped (the mesh answered the client's Expect itself). It says whether the connection can carry
// another request once an answer is done: only when the answer was framed, the task did not ask to close,
// and nothing came after it.
import { ChunkedDecoder } from './ChunkedDecoder.js';
import { MAX_HEAD_BYTES, parseResponseHead } from './responseHead.js';
import type { ResponseHead } from './responseHead.js';

export interface AnswerHandler {
  /** The final answer's head (a 101's too: the caller then takes the connection over, see `rest`). */
  head(head: ResponseHead): void;
  /** A piece of the body, without its framing; `last` when it completes the answer. */
  body(piece: Buffer, last: boolean): void;
  /** The answer is complete (after a `body(…, true)` when it had one). */
  end(): void;
}

const enum Framing { None, Length, Chunked, UntilClose }
const CONTENT_LENGTH = /^\d{1,15}$/;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

export class ResponseReader {
  #handler: AnswerHandler | undefined;
  #headRequest = false;
  /** Head bytes so far, while the head is incomplete (copies, kept apart: joined once, when it ends). */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** Their last 3 bytes at most: the head's CRLF CRLF may begin there. */
  #tail = EMPTY;
  #head: ResponseHead | undefined;
  #framing = Framing.None;
  #left = 0;
  #chunked: ChunkedDecoder | undefined;
  #done = false;
  #reusable = false;
  /** Bytes after a 101's head: the first of the upgraded connection. */
  rest: Buffer | undefined;
  /** Any byte of this answer has arrived. */
  started = false;
  readonly #chunkData = (piece: Buffer): void => this.#handler!.body(piece, false);

  /** Expects the answer to a request with `method`, for `handler`. */
  start(method: string, handler: AnswerHandler): void {
    this.#handler = handler;
    this.#headRequest = method === 'HEAD';
    this.#dropPending();
    this.#head = undefined;
    this.#chunked = undefined;
    this.#done = false;
    this.#reusable = false;
    this.rest = undefined;
    this.started = false;
  }

  get done(): boolean {
    return this.#done;
  }

  /** Done, and the connection may carry the next request. */
  get reusable(): boolean {
    return this.#done && this.#reusable;
  }

  /** The head has been read (the client may have been answered in part). */
  get answering(): boolean {
    return this.#head !== undefined;
  }

  /** Takes bytes from the task; throws an Error saying what is wrong when they are not a readable answer. */
  read(chunk: Buffer): void {
    this.started = true;
    if (this.#done) {
      // Nothing may follow an answer before the next request: the connection is not reused.
      this.#reusable = false;
      return;
    }
    if (this.#head) return this.#readBody(chunk);
    const body = this.#readHead(chunk);
    if (body) this.#readBody(body);
  }

  /** The task closed its side: the end of a body framed by the close, an error for any other unfinished answer. */
  closed(): void {
    if (this.#done) return;
    if (this.#head && this.#framing === Framing.UntilClose) {
      this.#finish();
      return;
    }
    throw new Error(this.started ? 'the task closed the connection in the middle of its answer' : 'the task closed the connection without answering');
  }

  /** Returns the bytes after the final answer's head, or nothing while it is incomplete (or a 101's). */
  #readHead(chunk: Buffer): Buffer | undefined {
    for (;;) {
      const back = this.#tail.length;
      const window = back ? Buffer.concat([this.#tail, chunk]) : chunk;
      const found = window.indexOf(HEAD_END);
      if (found < 0) {
        // Up to 3 bytes of its CRLF CRLF may be here already: the head itself ends no earlier than 3 before.
        if (this.#pendingLength + chunk.length - 3 > MAX_HEAD_BYTES) throw new Error(`an answer head over ${MAX_HEAD_BYTES / 1024} KiB`);
        // Lines that end with a bare LF would never make the CRLF CRLF waited for.
        if (hasBareLf(window, back)) throw new Error('a line of the answer head ends with a bare LF, not CRLF');
        this.#pending.push(Buffer.from(chunk));
        this.#pendingLength += chunk.length;
        this.#tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
        return undefined;
      }
      const end = this.#pendingLength - back + found;
      if (end > MAX_HEAD_BYTES) throw new Error(`an answer head over ${MAX_HEAD_BYTES / 1024} KiB`);
      const bytes = this.#pending.length ? Buffer.concat([...this.#pending, chunk]) : chunk;
      this.#dropPending();
      const head = parseResponseHead(bytes.toString('latin1', 0, end));
      const after = end + 4;
      if (head.status === 101) {
        this.#head = head;
        this.rest = bytes.subarray(after);
        this.#done = true;
        this.#handler!.head(head);
        return undefined;
      }
      if (head.status < 200) {
        // Interim (100, 103): dropped; the final answer follows.
        if (after === bytes.length) return undefined;
        chunk = bytes.subarray(after);
        continue;
      }
      this.#head = head;
      this.#frame(head);
      this.#handler!.head(head);
      return bytes.subarray(after);
    }
  }

  #dropPending(): void {
    this.#pending = [];
    this.#pendingLength = 0;
    this.#tail = EMPTY;
  }

  #frame(head: ResponseHead): void {
    // The task may keep it open: HTTP/1.1 unless it says close, HTTP/1.0 only if it says keep-alive.
    const tokens = head.connection?.toLowerCase() ?? '';
    this.#reusable = head.minorVersion === 1 ? !/(?:^|[\s,])close(?:$|[\s,])/.test(tokens) : /(?:^|[\s,])keep-alive(?:$|[\s,])/.test(tokens);
    if (this.#headRequest || head.status === 204 || head.status === 304) {
      this.#framing = Framing.None;
      return;
    }
    if (head.transferEncoding !== undefined) {
      const codings = head.transferEncoding.toLowerCase().split(',');
      if (codings[codings.length - 1]!.trim() === 'chunked') {
        this.#framing = Framing.Chunked;
        this.#chunked = new ChunkedDecoder();
        // With a Content-Length beside it, the answer is read as chunked, and the connection not trusted after.
        if (head.contentLengths.length) this.#reusable = false;
      } else {
        this.#framing = Framing.UntilClose;
        this.#reusable = false;
      }
      return;
    }
    if (head.contentLengths.length) {
      const [first] = head.contentLengths;
      if (!CONTENT_LENGTH.test(first!) || head.contentLengths.some((value) => value !== first)) {
        throw new Error(`a Content-Length that is not one whole number: ${head.contentLengths.join(', ')}`);
      }
      this.#framing = Framing.Length;
      this.#left = Number(first);
      return;
    }
    this.#framing = Framing.UntilClose;
    this.#reusable = false;
  }

  #readBody(chunk: Buffer): void {
    switch (this.#framing) {
      case Framing.None:
        if (chunk.length > 0) this.#reusable = false;
        this.#finish();
        return;
      case Framing.UntilClose:
        if (chunk.length > 0) this.#handler!.body(chunk, false);
        return;
      case Framing.Length: {
        if (chunk.length < this.#left) {
          if (chunk.length > 0) this.#handler!.body(chunk, false);
          this.#left -= chunk.length;
          return;
        }
        if (chunk.length > this.#left) this.#reusable = false;
        const last = this.#left === chunk.length ? chunk : chunk.subarray(0, this.#left);
        this.#left = 0;
        if (last.length > 0) this.#handler!.body(last, true);
        this.#finish();
        return;
      }
      case Framing.Chunked: {
        const end = this.#chunked!.read(chunk, 0, this.#chunkData);
        if (end < 0) return;
        if (end < chunk.length) this.#reusable = false;
        this.#finish();
      }
    }
  }

  #finish(): void {
    this.#done = true;
    this.#handler!.end();
  }
}

function hasBareLf(bytes: Buffer, from: number): boolean {
  for (let at = bytes.indexOf(10, from); at !== -1; at = bytes.indexOf(10, at + 1)) if (at === 0 || bytes[at - 1] !== 13) return true;
  return false;
}
