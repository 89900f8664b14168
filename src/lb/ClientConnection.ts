// One client connection in http mode: its requests read one at a time (RequestReader), each handed to the
// forwarder, and each answer written back framed for this client (ClientAnswer). The connection is kept
// alive between requests when the client allows it, and closed after a refusal, an ignored upgrade, or
// once its port closes. Its timeouts (a slow head, a slow body, an idle keep-alive, a client that takes
// nothing it is sent) are deadlines its port looks at (ClientConnections), so a request costs no timer.
import type net from 'node:net';
import { ClientAnswer } from './ClientAnswer.js';
import type { ClientRequest } from './clientRequest.js';
import type { HttpTarget } from './HttpForwarder.js';
import { LINGER_MS, rawReply } from './meshAnswers.js';
import { RefusedRequest, refusalOf } from './requestRefusals.js';
import type { Refusal } from './requestRefusals.js';
import { RequestReader } from './RequestReader.js';
import type { RequestHandler } from './RequestReader.js';
import { secondsSince } from './TcpForwarder.js';

/** What a connection needs of its port. */
export interface ClientPort {
  target(): HttpTarget;
  /** The port is closing: each answer closes its connection. */
  readonly closing: boolean;
  /** The port clients reach it on. */
  readonly localPort: number;
  /** How long a client may idle between requests. */
  readonly keepAliveTimeoutMs: number;
  /** How long a client may take none of what it is sent. */
  readonly sendTimeoutMs: number;
  /** A whole request (head and body) must arrive within this of its head's start, or the head's own limit if longer. */
  readonly requestTimeoutMs: number;
  /** A head must be whole within this. */
  headerTimeoutOf(target: HttpTarget): number;
  /** A request to pass on; the connection is the request's until it is answered. */
  forward(client: ClientConnection, request: ClientRequest, target: HttpTarget): void;
  /** A WebSocket upgrade: the socket is the callee's from now on, `rest` the bytes after the head. */
  upgrade(socket: net.Socket, request: ClientRequest, rest: Buffer, target: HttpTarget): void;
  /** The connection is closed. */
  gone(client: ClientConnection): void;
}

/** The request the connection's answer is for, as its exchange with a task sees it. */
export interface ClientExchange {
  requestBody(piece: Buffer): void;
  /** The body's last byte has been read. */
  requestBodyEnd(): void;
  /** The client left, or its request could not be read to the end: nothing more goes to the task. */
  abandon(): void;
}

const enum Answer { None, Writing, Done }

/** Bytes of pipelined requests read ahead while one is answered; past this the client waits. */
const MAX_HELD_BYTES = 64 * 1024;
const IGNORED_UPGRADE_CHUNKED: Refusal = {
  status: 400,
  reason: 'a request asking to upgrade to anything but a WebSocket needs its body sent with Content-Length, or no Upgrade header',
};

export class ClientConnection implements RequestHandler {
  readonly socket: net.Socket;
  readonly #port: ClientPort;
  readonly #reader = new RequestReader(this);
  /** When the current phase (head, body, idle, lingering) runs out. */
  #deadline: number;
  /** When a client that stopped taking its answer must have taken more of it (Infinity while it takes what it is sent). */
  #sendDeadline = Infinity;
  #request: ClientRequest | undefined;
  /** Its request's head timeout, for the 408 that says it. */
  #headerTimeoutMs: number;
  #exchange: ClientExchange | undefined;
  #startedAt = 0n;
  readonly #answerWriter: ClientAnswer;
  #answer = Answer.None;
  #requestRead = false;
  #keepAlive = false;
  /** A request has been handed on and its answer is not done. */
  #inFlight = false;
  /** The mesh has ended its side (or the client left). */
  #closing = false;
  #closed = false;
  /** Inside the reader: a next request is read once it returns, not from within (no recursion per pipelined request). */
  #reading = false;
  #readNext = false;

  constructor(socket: net.Socket, port: ClientPort) {
    this.socket = socket;
    this.#answerWriter = new ClientAnswer(socket);
    this.#port = port;
    this.#headerTimeoutMs = port.headerTimeoutOf(port.target());
    // The first head must come whole within the header timeout of the connection's start.
    this.#deadline = Date.now() + this.#headerTimeoutMs;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', () => socket.destroy());
    socket.on('close', this.#onClose);
  }

  readonly #onData = (chunk: Buffer): void => this.#read(chunk);
  readonly #onEnd = (): void => this.#ended();
  readonly #onClose = (): void => this.#gone();

  /** The port clients reach it on (X-Forwarded-Port). */
  get localPort(): number {
    return this.#port.localPort;
  }

  /** What its port looks at (ClientConnections), and calls `timedOut` once past. */
  get deadline(): number {
    return Math.min(this.#deadline, this.#sendDeadline);
  }

  /** The exchange now answering the connection's request (each try of it sets itself). */
  set exchange(exchange: ClientExchange) {
    this.#exchange = exchange;
  }

  /** The client left: nobody to answer. */
  get gone(): boolean {
    return this.#closed;
  }

  /** The answer has begun: an error now can only cut it. */
  get answerStarted(): boolean {
    return this.#answer !== Answer.None;
  }

  #read(chunk: Buffer): void {
    const idle = this.#request !== undefined && this.#reader.idle;
    this.#feed(chunk);
    // A head after a kept-alive answer is timed from its first byte (empty lines are none: they leave the
    // keep-alive deadline as it was); the first, from the connection's start.
    if (idle && this.#reader.readingHead) this.#timeHead();
    if (this.#reader.held > MAX_HELD_BYTES) this.socket.pause();
  }

  #timeHead(): void {
    this.#headerTimeoutMs = this.#port.headerTimeoutOf(this.#port.target());
    this.#deadline = Date.now() + this.#headerTimeoutMs;
  }

  /** Reads `chunk`, or with none the request held after the one just answered. */
  #feed(chunk: Buffer | undefined): void {
    this.#reading = true;
    try {
      if (chunk) this.#reader.read(chunk);
      else this.#reader.next();
      while (this.#readNext) {
        this.#readNext = false;
        this.#reader.next();
      }
    } catch (error) {
      if (!(error instanceof RefusedRequest)) throw error;
      this.#refuse(error.refusal);
    } finally {
      this.#reading = false;
    }
  }

  requestHead(request: ClientRequest): boolean {
    const target = this.#port.target();
    this.#request = request;
    this.#requestRead = false;
    this.#answer = Answer.None;
    this.#keepAlive = request.keepAlive && !this.#port.closing;
    const refusal = refusalOf(request) ?? (request.upgrade && request.chunked && !isWebSocket(request) ? IGNORED_UPGRADE_CHUNKED : undefined);
    if (refusal) {
      this.#refuse(refusal);
      return false;
    }
    if (request.upgrade && isWebSocket(request)) {
      this.#reader.stop();
      this.#leave();
      this.#port.upgrade(this.socket, request, this.#reader.rest, target);
      return false;
    }
    if (request.contentLength > 0 || request.chunked) this.#deadline = Date.now() + Math.max(this.#port.requestTimeoutMs, this.#headerTimeoutMs);
    else this.#deadline = Infinity;
    if (target.events.finished) this.#startedAt = process.hrtime.bigint();
    this.#inFlight = true;
    if (request.upgrade) {
      // h2c and the like: a server may ignore Upgrade (RFC 9110 §7.8). It is answered as the plain request it
      // also is, over HTTP/1.1, and the connection closed after (the client expects it to change protocols).
      this.#keepAlive = false;
    }
    if (request.minorVersion === 1 && (request.contentLength > 0 || request.chunked) && request.headers.expect?.toLowerCase() === '100-continue') {
      // Answered by the mesh (as nginx does): the task gets the body straight away.
      this.socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    this.#port.forward(this, request, target);
    return true;
  }

  body(piece: Buffer): void {
    this.#exchange?.requestBody(piece);
  }

  requestRead(): void {
    this.#requestRead = true;
    if (this.#answer !== Answer.Done) this.#deadline = Infinity;
    const request = this.#request!;
    if (request.contentLength > 0 || request.chunked) this.#exchange?.requestBodyEnd();
    if (this.#answer === Answer.Done) this.#nextRequest();
  }

  /** The task is slow to take the body: the client waits. */
  pauseReading(): void {
    this.socket.pause();
  }

  resumeReading(): void {
    if (this.#reader.held <= MAX_HELD_BYTES) this.socket.resume();
  }

  /** The answer's head: `headers` as name/value pairs; `bodiless` for an answer that has no body (HEAD, 204, 304). */
  answerHead(status: number, reason: string, headers: readonly string[], bodiless: boolean): void {
    const keepAlive = this.#keepAlive && !this.#port.closing;
    this.#keepAlive = this.#answerWriter.head(status, reason, headers, {
      bodiless, minorVersion: this.#request!.minorVersion,
      keepAliveSeconds: keepAlive ? Math.floor(this.#port.keepAliveTimeoutMs / 1000) : undefined,
    });
    this.#answer = Answer.Writing;
  }

  /** A piece of the answer's body (ClientAnswer.body): small ones go at the next `flush`. */
  answerBody(piece: Buffer): void {
    this.#answerWriter.body(piece);
  }

  /**
   * A client that takes none of what it is sent for the send timeout is let go (nginx's send_timeout):
   * one that never reads must not hold its task's request, nor its answers, for ever. It is timed from
   * the first write it could not take to the 'drain' after: the kernel wakes a writer only once a third
   * of its send buffer is free, so a slow reader is seen to move only that often.
   */
  #flowing(flowing: boolean): boolean {
    if (!flowing && this.#sendDeadline === Infinity) {
      this.#sendDeadline = Date.now() + this.#port.sendTimeoutMs;
      // Made on a stall only: a connection that never stalls pays for no listener.
      this.socket.once('drain', () => { this.#sendDeadline = Infinity; });
    }
    return flowing;
  }

  /** Writes what of the answer waits (the caller's read is over); false when the client cannot take more for now (wait for its 'drain'). */
  flush(): boolean {
    return this.#flowing(this.#answerWriter.flush());
  }

  /** The answer is complete. */
  answerEnd(): void {
    if (this.#answer !== Answer.Writing || this.#closed) return;
    this.#flowing(this.#answerWriter.end());
    this.#answerDone();
  }

  /** The mesh's own answer, whole: short text/plain that says why. */
  reply(status: number, message: string, allow?: string): void {
    if (this.#closed || this.answerStarted) return;
    const body = `${message}\n`;
    this.answerHead(status, '', [
      ...(allow ? ['allow', allow] : []),
      'content-type', 'text/plain; charset=utf-8', 'content-length', String(Buffer.byteLength(body)),
    ], this.#request?.method === 'HEAD');
    this.answerBody(Buffer.from(body));
    this.answerEnd();
  }

  /** Closed now if it waits for nothing but its client's next request (its port is closing). */
  closeIfIdle(): void {
    if (!this.#reader.idle || this.#inFlight) return;
    // Its last answer may not have left yet (a slow reader): it goes first.
    if (this.socket.writableLength > 0) this.#close();
    else this.socket.destroy();
  }

  /** Ends the connection now: an answer already begun cannot turn into an error. */
  cut(): void {
    this.socket.destroy();
  }

  /** The port's look found the deadline passed. */
  timedOut(): void {
    if (this.#sendDeadline <= Date.now()) {
      this.cut(); // it took none of what it was sent in time
      return;
    }
    if (this.#closing || (this.#reader.idle && !this.#inFlight)) {
      this.socket.destroy(); // lingering after the last answer, or idle between requests
      return;
    }
    if (this.#reader.readingHead) {
      this.#refuse({ status: 408, reason: `the request's head did not arrive within ${this.#headerTimeoutMs / 1000}s` });
      return;
    }
    this.#refuse({ status: 408, reason: 'the request did not arrive whole in time' });
  }

  #answerDone(): void {
    this.#answer = Answer.Done;
    this.#inFlight = false;
    this.#exchange = undefined;
    this.#finished();
    if (this.#requestRead || !this.#keepAlive) this.#nextRequest();
  }

  #nextRequest(): void {
    if (!this.#keepAlive || this.#port.closing) {
      this.#close();
      return;
    }
    // Bytes of the next request came with this one: its head is under way.
    if (this.#reader.held > 0) this.#timeHead();
    else this.#deadline = Date.now() + this.#port.keepAliveTimeoutMs;
    this.#answer = Answer.None;
    if (this.socket.writableNeedDrain) {
      // The client has not taken this answer yet: its next request waits for it (as in Node's own server),
      // so a client that pipelines and never reads has one answer held for it, not one per request.
      this.socket.pause();
      this.socket.once('drain', () => this.#readAfterDrain());
      return;
    }
    this.socket.resume();
    if (this.#reading) this.#readNext = true;
    else this.#feed(undefined);
  }

  #readAfterDrain(): void {
    if (this.#closed || this.#closing) return;
    this.socket.resume();
    if (this.#reading) this.#readNext = true;
    else this.#feed(undefined);
  }

  /** What the client sent cannot be passed on: it is answered, if it can be, and the connection closed. */
  #refuse(refusal: Refusal): void {
    const target = this.#port.target();
    target.events.failed?.('refused', `a request from ${this.socket.remoteAddress}: ${refusal.reason}`);
    this.#reader.stop();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abandon();
    if (this.answerStarted || !this.socket.writable) {
      this.socket.destroy();
      return;
    }
    this.#keepAlive = false;
    this.socket.write(rawReply(refusal.status, refusal.reason, refusal.allow));
    this.#inFlight = false;
    this.#finished();
    this.#close();
  }

  /** Ends the mesh's side; what the client still sends is read and dropped (a close with unread bytes would be a reset, which can take the answer with it). */
  #close(): void {
    if (this.#closing) return;
    this.#reader.stop();
    this.#keepAlive = false;
    this.#closing = true;
    this.socket.resume();
    this.#linger();
    if (this.socket.readableEnded) this.socket.destroySoon();
    else this.socket.end(() => { this.#deadline = Date.now() + LINGER_MS; });
  }

  /**
   * The connection is let go once its client closes too, or at this deadline: a short one, or the send
   * timeout while the last answer has still to leave (a slow reader).
   */
  #linger(): void {
    this.#deadline = Date.now() + (this.socket.writableLength > 0 ? this.#port.sendTimeoutMs : LINGER_MS);
  }

  /**
   * The client ended its side: a request in flight goes, and so does the connection. A client that only
   * half-closed after its request (`printf 'GET / …' | nc`) is not told from one that left, so it gets no
   * answer; Node's own server does the same, where HAProxy by default answers it and holds the task for
   * a client that left.
   */
  #ended(): void {
    this.#reader.stop();
    if (this.#inFlight) {
      const exchange = this.#exchange;
      this.#exchange = undefined;
      exchange?.abandon();
      this.#inFlight = false;
      this.#finished();
      // What is still to leave is a cut answer: not worth the wait.
      this.#deadline = Date.now() + LINGER_MS;
    } else {
      this.#linger();
    }
    this.#closing = true;
    this.socket.destroySoon();
  }

  #gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.stop();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.abandon();
    if (this.#inFlight) {
      this.#inFlight = false;
      this.#finished();
    }
    this.#port.gone(this);
  }

  /** The connection is someone else's now (an upgrade): its port no longer times it. */
  #leave(): void {
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onClose);
    this.#closed = true;
    this.#port.gone(this);
  }

  #finished(): void {
    if (this.#startedAt === 0n) return;
    const { finished } = this.#port.target().events;
    finished?.(secondsSince(this.#startedAt));
    this.#startedAt = 0n;
  }
}

function isWebSocket(request: ClientRequest): boolean {
  return request.headers.upgrade!.toLowerCase() === 'websocket';
}
