// An answer as a client of http mode gets it: the status line and headers the mesh passes on, then the
// framing this client can read: the task's Content-Length when it gave one, otherwise chunked (HTTP/1.1)
// or the connection's close (HTTP/1.0); none at all for HEAD, 204 and 304. A small answer leaves in one
// write: head, framing and body as one latin1 string (latin1 is one character per byte, so every byte
// value passes unchanged), which costs less than the streams' cork and writev (bench/README.md).
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
  /** The head, held back to go with the first body bytes (or at `flush`). */
  #head: string | undefined;
  #lastChunkSent = false;

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
    this.#head = lines;
    this.#lastChunkSent = false;
    return keepAliveSeconds !== undefined;
  }

  /**
   * A piece of the body, `last` when it ends it; false when the client cannot take more for now (wait for
   * the socket's 'drain'). The piece may be a view of a buffer its reader reuses: what is kept is copied.
   */
  body(piece: Buffer, last: boolean): boolean {
    if (this.#framing === Framing.None) return true;
    const chunked = this.#framing === Framing.Chunked;
    const socket = this.#socket;
    if (last && chunked) this.#lastChunkSent = true;
    if (piece.length <= ONE_STRING_BYTES) {
      let text = this.#head ?? '';
      this.#head = undefined;
      const bytes = piece.toString('latin1');
      if (!chunked) text += bytes;
      else text += `${piece.length.toString(16)}\r\n${bytes}\r\n${last ? LAST_CHUNK : ''}`;
      return socket.write(text, 'latin1');
    }
    socket.cork();
    this.flush();
    let flowing: boolean;
    if (chunked) {
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(Buffer.from(piece));
      flowing = socket.write(last ? `\r\n${LAST_CHUNK}` : '\r\n');
    } else {
      flowing = socket.write(Buffer.from(piece));
    }
    socket.uncork();
    return flowing;
  }

  /** Writes a head still held back: the body may be a while coming. */
  flush(): void {
    if (this.#head === undefined) return;
    this.#socket.write(this.#head, 'latin1');
    this.#head = undefined;
  }

  /** The answer is complete: what is held back goes, and a chunked body's last chunk if it has not. */
  end(): void {
    if (this.#framing === Framing.Chunked && !this.#lastChunkSent) this.#socket.write(`${this.#head ?? ''}${LAST_CHUNK}`, 'latin1');
    else this.flush();
    this.#head = undefined;
  }
}
