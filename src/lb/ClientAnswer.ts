// An answer as a client of http mode gets it: the status line and headers the mesh passes on, then the
// framing this client can read: the task's Content-Length when it gave one, otherwise chunked (HTTP/1.1)
// or the connection's close (HTTP/1.0); none at all for HEAD, 204 and 304. What one read of the task
// brings leaves in one write: head, framing and body pieces as one latin1 string (latin1 is one character
// per byte, so every byte value passes unchanged), which costs less than the streams' cork and writev
// (bench/README.md); a small answer is one write, chunked or not.
import http from 'node:http';
import type net from 'node:net';

const enum Framing { None, Length, Chunked, Close }

const LAST_CHUNK = '0\r\n\r\n';
/** Up to this, a piece of an answer's body is written as part of one string. */
const ONE_STRING_BYTES = 16 * 1024;

export interface AnswerFraming {
  /** The answer has no body (HEAD, 204, 304). */
  bodiless: boolean;
  /** The client's HTTP/1.x minor version: 0 cannot read chunked. */
  minorVersion: number;
  /** Seconds the connection may idle after this answer (Keep-Alive's timeout), or undefined to close it. */
  keepAliveSeconds: number | undefined;
}

export class ClientAnswer {
  readonly #socket: net.Socket;
  #framing = Framing.None;
  /** The head and the small pieces not yet written, one character per byte: they go at `flush` or `end`. */
  #pending = '';

  constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /**
   * Starts an answer; `headers` are name/value pairs. Returns whether the connection can carry another
   * request after it: not when asked to close, nor when only the close can end its body.
   */
  head(status: number, reason: string, headers: readonly string[], framing: AnswerFraming): boolean {
    let lines = `HTTP/1.1 ${status} ${reason || http.STATUS_CODES[status] || ''}\r\n`;
    let hasLength = false;
    for (let i = 0; i + 1 < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      lines += `${name}: ${headers[i + 1]}\r\n`;
    }
    let keepAliveSeconds = framing.keepAliveSeconds;
    if (framing.bodiless) {
      this.#framing = Framing.None;
    } else if (hasLength) {
      this.#framing = Framing.Length;
    } else if (framing.minorVersion === 1) {
      this.#framing = Framing.Chunked;
      lines += 'transfer-encoding: chunked\r\n';
    } else {
      this.#framing = Framing.Close;
      keepAliveSeconds = undefined;
    }
    if (keepAliveSeconds === undefined) lines += 'connection: close\r\n\r\n';
    else if (keepAliveSeconds > 0) lines += `connection: keep-alive\r\nkeep-alive: timeout=${keepAliveSeconds}\r\n\r\n`;
    else lines += 'connection: keep-alive\r\n\r\n';
    this.#pending = lines;
    return keepAliveSeconds !== undefined;
  }

  /**
   * A piece of the body. A small one waits for `flush` (the caller's read is over) or `end`; a large one
   * is written at once, with what waited before it. The piece may be a view of a buffer its reader
   * reuses: what is kept is copied.
   */
  body(piece: Buffer): void {
    if (this.#framing === Framing.None) return;
    const chunked = this.#framing === Framing.Chunked;
    if (piece.length <= ONE_STRING_BYTES) {
      const bytes = piece.toString('latin1');
      this.#pending += chunked ? `${piece.length.toString(16)}\r\n${bytes}\r\n` : bytes;
      return;
    }
    const socket = this.#socket;
    socket.cork();
    if (chunked) this.#pending += `${piece.length.toString(16)}\r\n`;
    this.flush();
    socket.write(Buffer.from(piece));
    if (chunked) this.#pending = '\r\n';
    socket.uncork();
  }

  /** Writes what waits; false when the client cannot take more for now (wait for the socket's 'drain'). */
  flush(): boolean {
    if (this.#pending === '') return !this.#socket.writableNeedDrain;
    const flowing = this.#socket.write(this.#pending, 'latin1');
    this.#pending = '';
    return flowing;
  }

  /** The answer is complete: what waits goes, with a chunked body's last chunk. */
  end(): boolean {
    if (this.#framing === Framing.Chunked) this.#pending += LAST_CHUNK;
    return this.flush();
  }
}
