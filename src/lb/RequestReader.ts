// One client connection's requests in http mode, read as their bytes arrive: the head (clientRequest.ts),
// then the body by its framing (RFC 9112 §6.3): chunked, Content-Length bytes, or none. A request that
// has been read whole holds the reader: what the client sends after it (a pipelined request) is kept, not
// read, until the answer is done (`next`), so one connection has one request at a task at a time, as in
// HAProxy and nginx. Anything that is not exactly this grammar throws a RefusedRequest.
import { ChunkedDecoder } from './ChunkedDecoder.js';
import { MAX_REQUEST_HEAD_BYTES, parseClientRequest } from './clientRequest.js';
import type { ClientRequest } from './clientRequest.js';
import { HTTP09, RefusedRequest, unreadable } from './requestRefusals.js';

export interface RequestHandler {
  /** A request's head is in. False stops the reader for good (the connection is taken over, or refused): `rest` holds what followed. */
  requestHead(request: ClientRequest): boolean;
  /** A piece of the body, without its framing. */
  body(piece: Buffer): void;
  /** The request has been read to its last byte: the reader holds what follows until `next()`. */
  requestRead(): void;
}

const enum State { Head, Body, Held, Stopped }

const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const CR = 13;
const LF = 10;

export class RequestReader {
  readonly #handler: RequestHandler;
  #state = State.Head;
  /** Bytes of an unfinished head, or bytes held after a request (the socket's own chunks: nothing reuses them). */
  #pending: Buffer[] = [];
  #pendingLength = 0;
  /** The last 3 bytes of an unfinished head: its CRLF CRLF may begin there. */
  #tail = EMPTY;
  /** The request line of the head being read has been looked at (an HTTP/0.9 one is refused at once). */
  #lineSeen = false;
  /** An empty line before a request line has its CR in: its LF comes in the next read. */
  #strayCr = false;
  #left = 0;
  #chunked: ChunkedDecoder | undefined;
  readonly #onChunkData = (piece: Buffer): void => this.#handler.body(piece);
  /** What followed the head, while its handler looks at it (a reader stopped by an upgrade keeps it). */
  rest: Buffer = EMPTY;

  constructor(handler: RequestHandler) {
    this.#handler = handler;
  }

  /** Between requests, with no byte of the next one read. */
  get idle(): boolean {
    return this.#state === State.Head && this.#pendingLength === 0;
  }

  /** A head has begun and is not yet whole. */
  get readingHead(): boolean {
    return this.#state === State.Head && this.#pendingLength > 0;
  }

  get readingBody(): boolean {
    return this.#state === State.Body;
  }

  /** Bytes received after the request that holds the reader. */
  get held(): number {
    return this.#state === State.Held ? this.#pendingLength : 0;
  }

  read(chunk: Buffer): void {
    switch (this.#state) {
      case State.Head: {
        const body = this.#readHead(chunk);
        if (body?.length) this.#readBody(body);
        return;
      }
      case State.Body:
        this.#readBody(chunk);
        return;
      case State.Held:
        this.#pending.push(chunk);
        this.#pendingLength += chunk.length;
        return;
      case State.Stopped:
    }
  }

  /** The answer to the request read is done: reads the next one, from what is held first. */
  next(): void {
    if (this.#state !== State.Held) return;
    const held = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    this.#state = State.Head;
    this.#pending = [];
    this.#pendingLength = 0;
    if (held.length) this.read(held);
  }

  /** Stops for good: nothing more is read. */
  stop(): void {
    this.#state = State.Stopped;
    this.#pending = [];
  }

  /** Returns the bytes after the head once it is whole (the body's, and maybe more). */
  #readHead(chunk: Buffer): Buffer | undefined {
    if (this.#pendingLength === 0) {
      // Empty lines before a request line are allowed (RFC 9112 §2.2), in as many reads as they come.
      let from = 0;
      if (this.#strayCr) {
        if (chunk[0] !== LF) throw unreadable('CR_EXPECTED', 'a CR not followed by LF before the request line');
        this.#strayCr = false;
        from = 1;
      }
      while (chunk[from] === CR && chunk[from + 1] === LF) from += 2;
      if (from === chunk.length - 1 && chunk[from] === CR) {
        this.#strayCr = true;
        return undefined;
      }
      if (from === chunk.length) return undefined;
      if (from > 0) chunk = chunk.subarray(from);
    }
    const back = this.#tail.length;
    const window = back ? Buffer.concat([this.#tail, chunk]) : chunk;
    const found = window.indexOf(HEAD_END);
    if (hasBareLf(window, back, found < 0 ? window.length : found + 4)) throw unreadable('CR_EXPECTED', 'a line of the request head ends with a bare LF');
    if (found < 0) {
      // Up to 3 bytes of its CRLF CRLF may be here already: the head itself ends no earlier than 3 before.
      if (this.#pendingLength + chunk.length - 3 > MAX_REQUEST_HEAD_BYTES) throw unreadable('HEADER_OVERFLOW', 'a request head over 16 KiB');
      this.#pending.push(chunk);
      this.#pendingLength += chunk.length;
      this.#tail = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
      // Only a read with a LF can end the request line: a head sent a byte at a time is not joined per byte.
      if (!this.#lineSeen && chunk.includes(LF)) this.#lookAtRequestLine();
      return undefined;
    }
    const end = this.#pendingLength - back + found;
    if (end > MAX_REQUEST_HEAD_BYTES) throw unreadable('HEADER_OVERFLOW', 'a request head over 16 KiB');
    const bytes = this.#pending.length ? Buffer.concat([...this.#pending, chunk]) : chunk;
    this.#pending = [];
    this.#pendingLength = 0;
    this.#tail = EMPTY;
    this.#lineSeen = false;
    // As latin1: one character per byte, so each byte passes to the task as it came.
    const request = parseClientRequest(bytes.toString('latin1', 0, end));
    const after = bytes.subarray(end + 4);
    this.#state = State.Body;
    if (request.chunked) this.#chunked = new ChunkedDecoder();
    else this.#left = request.contentLength;
    this.rest = after;
    if (!this.#handler.requestHead(request)) {
      this.#state = State.Stopped;
      return undefined;
    }
    this.rest = EMPTY;
    if (!request.chunked && this.#left === 0) {
      this.#requestRead(after);
      return undefined;
    }
    return after;
  }

  /** A client of HTTP/0.9 sends one line and waits: its line is refused as soon as it is in. */
  #lookAtRequestLine(): void {
    const head = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
    const lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) return;
    this.#lineSeen = true;
    const line = head.toString('latin1', 0, lineEnd);
    if (line.includes(' HTTP/')) return;
    parseClientRequest(line);
    throw new RefusedRequest(HTTP09);
  }

  #readBody(chunk: Buffer): void {
    if (this.#chunked) {
      let end: number;
      try {
        end = this.#chunked.read(chunk, 0, this.#onChunkData);
      } catch (error) {
        const fault = (error as Error).message;
        if (fault.includes('over 16 KiB')) throw new RefusedRequest({ status: 413, reason: `${fault}: send shorter chunk extensions and trailers` });
        throw unreadable('INVALID_CHUNK_SIZE', fault);
      }
      if (end < 0) return;
      this.#chunked = undefined;
      this.#requestRead(chunk.subarray(end));
      return;
    }
    if (chunk.length < this.#left) {
      this.#left -= chunk.length;
      this.#handler.body(chunk);
      return;
    }
    const last = this.#left === chunk.length ? chunk : chunk.subarray(0, this.#left);
    this.#left = 0;
    if (last.length) this.#handler.body(last);
    this.#requestRead(chunk.subarray(last.length));
  }

  #requestRead(after: Buffer): void {
    this.#state = State.Held;
    if (after.length) {
      this.#pending.push(after);
      this.#pendingLength = after.length;
    }
    this.#handler.requestRead();
  }
}

/** A LF not after a CR between `from` (a CR just before it counts) and `to`. */
function hasBareLf(bytes: Buffer, from: number, to: number): boolean {
  for (let at = bytes.indexOf(LF, from); at !== -1 && at < to; at = bytes.indexOf(LF, at + 1)) if (at === 0 || bytes[at - 1] !== CR) return true;
  return false;
}
