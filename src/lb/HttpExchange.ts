// One try of one http-mode request on one task: its head and body written to a kept-alive task connection
// (TaskConnections), the answer read strictly (ResponseReader) and written back through the client's
// ServerResponse, which frames it for the client. What goes wrong is decided here as a gateway would: a
// connect that failed may be tried on another task (`retry`), a silent task is a 504, anything else
// before the answer began a 502, and after it began a cut reply.
import type http from 'node:http';
import type { Readable } from 'node:stream';
import type { Backend } from './Backend.js';
import type { HttpTarget } from './HttpForwarder.js';
import { secondsSince } from './TcpForwarder.js';
import type { ConnectionUser, TaskConnection, TaskConnections } from './TaskConnections.js';
import type { AnswerHandler } from './ResponseReader.js';
import type { ResponseHead } from './responseHead.js';
import { answerHeaders } from './hopHeaders.js';
import { reply } from './meshAnswers.js';
import { originForm, requestHead } from './requestHead.js';

/** Methods a server must be able to take twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const LAST_CHUNK = '0\r\n\r\n';

export interface ExchangeRequest {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  /** The headers the task gets (hopHeaders.ts): its head is made of them for each try (requestHead.ts). */
  forwarded: http.IncomingHttpHeaders;
  /** Where the body comes from: the request itself, or a stream standing for it (an ignored upgrade). */
  body: Readable | undefined;
  /** No body at all: nothing of it can have reached a task that failed. */
  bodiless: boolean;
  /** The body goes chunked (the client sent it so); otherwise as its Content-Length says. */
  chunked: boolean;
}

/** Tries another task, `tried` holding those that failed. */
export type Retry = (tried: Set<Backend> | undefined) => void;

export class HttpExchange implements ConnectionUser, AnswerHandler {
  readonly #exchange: ExchangeRequest;
  readonly #target: HttpTarget;
  readonly #backend: Backend;
  readonly #tried: Set<Backend> | undefined;
  readonly #retry: Retry;
  readonly #connections: TaskConnections;
  #connection!: TaskConnection;
  #connected = false;
  /** The request's last byte is written: the task's silence counts from here. */
  #sent = false;
  #timedOut = false;
  /** The answer is complete, or the exchange failed: nothing more to do. */
  #over = false;
  #held = true;
  /** The task's own limit on an idle connection, as its answer announced it. */
  #taskIdleTimeoutMs: number | undefined;
  #startedAt = 0n;

  constructor(exchange: ExchangeRequest, target: HttpTarget, backend: Backend, tried: Set<Backend> | undefined, connections: TaskConnections, retry: Retry) {
    this.#exchange = exchange;
    this.#target = target;
    this.#backend = backend;
    this.#tried = tried;
    this.#connections = connections;
    this.#retry = retry;
  }

  start(): void {
    const backend = this.#backend;
    // Requests in flight are what least-conn and p2c weigh in http mode.
    backend.active++;
    backend.total++;
    const { response, request } = this.#exchange;
    response.once('close', () => {
      // The client left before its answer was done: the task's request goes too, whatever state it is in.
      if (!this.#over) this.#abandon();
    });
    const connection = (this.#connection = this.#connections.take(backend, this));
    connection.reader.start(request.method ?? 'GET', this);
    if (connection.reused) {
      this.#connected = true;
    } else {
      if (this.#target.events.upstreamConnected) this.#startedAt = process.hrtime.bigint();
      connection.socket.setTimeout(this.#target.limits.connectTimeoutMs ?? 5000);
    }
    // Written at once, even while connecting: the socket holds it until the connection is open. As
    // latin1: Node's parser read each byte of the client's head as one character.
    const head = requestHead(request.method ?? 'GET', originForm(request.url ?? '/'), this.#exchange.forwarded, 'keep-alive', `${backend.host}:${backend.port}`);
    connection.socket.write(head, 'latin1');
    if (this.#exchange.bodiless) this.#requestSent();
    else this.#sendBody();
  }

  connected(): void {
    this.#connected = true;
    this.#connection.socket.setTimeout(this.#sent ? this.#target.limits.responseTimeoutMs ?? 0 : 0);
    this.#target.events.upstreamConnected?.(this.#backend, secondsSince(this.#startedAt));
  }

  data(chunk: Buffer): void {
    try {
      this.#connection.reader.read(chunk);
    } catch (error) {
      this.#fail(new Error(`its answer could not be read: ${(error as Error).message}`));
    }
  }

  closed(error: Error | undefined): void {
    if (this.#over) return;
    if (!error) {
      try {
        this.#connection.reader.closed(); // a body framed by the close ends here
        return;
      } catch (closedEarly) {
        error = closedEarly as Error;
      }
    }
    this.#fail(error);
  }

  timedOut(): void {
    if (!this.#connected) {
      this.#fail(new Error(`connect timed out after ${this.#target.limits.connectTimeoutMs ?? 5000}ms`));
      return;
    }
    this.#timedOut = true;
    this.#fail(new Error(`no answer within ${this.#target.limits.responseTimeoutMs ?? 0}ms`));
  }

  head(head: ResponseHead): void {
    if (head.status === 101) throw new Error('a 101 (Switching Protocols) to a request that asked for no upgrade');
    this.#taskIdleTimeoutMs = head.idleTimeoutMs;
    this.#target.events.answered?.(this.#backend, head.status);
    // The client's connection is the mesh's to keep or close, and to frame: Node does both from here.
    this.#exchange.response.writeHead(head.status, head.reason || undefined, answerHeaders(head));
  }

  body(piece: Buffer, last: boolean): void {
    const { response } = this.#exchange;
    // A copy: the piece is in the task connections' shared read buffer, and the write may outlast the read.
    const copy = Buffer.from(piece);
    if (last) {
      response.end(copy);
      return;
    }
    if (!response.write(copy) && !this.#connection.socket.isPaused()) {
      // The client reads slower than the task sends: the task waits, and its silence is not timed meanwhile.
      const { socket } = this.#connection;
      socket.pause();
      socket.setTimeout(0);
      response.once('drain', () => {
        if (this.#over) return;
        socket.setTimeout(this.#target.limits.responseTimeoutMs ?? 0);
        socket.resume();
      });
    }
  }

  end(): void {
    const { response } = this.#exchange;
    if (!response.writableEnded) response.end();
    this.#over = true;
    this.#release();
    this.#stopSending();
    const connection = this.#connection;
    if (connection.reader.reusable && this.#sent) {
      // Paused for a slow client, it may have ended before its drain: the next request must be read.
      connection.socket.resume();
      this.#connections.give(connection, this.#taskIdleTimeoutMs);
    } else {
      connection.user = undefined;
      connection.socket.destroy();
    }
  }

  #sendBody(): void {
    const { body, request, chunked } = this.#exchange;
    const source = body ?? request;
    const { socket } = this.#connection;
    source.on('data', (chunk: Buffer) => {
      if (this.#over) return;
      let flowing: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        flowing = socket.write('\r\n');
        socket.uncork();
      } else {
        flowing = socket.write(chunk);
      }
      if (!flowing) {
        source.pause();
        socket.once('drain', () => source.resume());
      }
    });
    source.once('end', () => {
      if (this.#over) return;
      if (chunked) socket.write(LAST_CHUNK);
      this.#requestSent();
    });
  }

  #requestSent(): void {
    this.#sent = true;
    // Timed from the request's last byte: a client slow to send its body must not count against the task.
    const responseTimeoutMs = this.#target.limits.responseTimeoutMs ?? 0;
    if (this.#connected && responseTimeoutMs > 0) this.#connection.socket.setTimeout(responseTimeoutMs);
  }

  /** Ends the request's hold on its task's count of requests in flight; once. */
  #release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#backend.active--;
  }

  /**
   * The task answered (or failed) before the whole body went to it: what is left of the body is read and
   * dropped, so the client's connection moves on to its next request instead of waiting paused.
   */
  #stopSending(): void {
    if (this.#sent || this.#exchange.bodiless) return;
    (this.#exchange.body ?? this.#exchange.request).resume();
  }

  #abandon(): void {
    this.#over = true;
    this.#release();
    this.#stopSending();
    this.#connection.user = undefined;
    this.#connection.socket.destroy();
  }

  #fail(error: Error): void {
    if (this.#over) return;
    this.#abandon();
    const { response, request, bodiless } = this.#exchange;
    const target = this.#target;
    const backend = this.#backend;
    // The client left: nobody to answer or retry for.
    if (response.destroyed) return;
    // A reply already begun cannot turn into an error: cutting the connection is the only honest signal.
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (!this.#connected) {
      target.events.connectError?.(backend, error);
      const tried = new Set(this.#tried).add(backend);
      if (bodiless && tried.size < (target.limits.maxAttempts ?? 3)) return this.#retry(tried);
      target.events.failed?.('connect_failed');
      reply(response, 502, `no task of service ${target.serviceName} could be reached (${backend.label}: ${error.message})`);
      return;
    }
    if (this.#timedOut) {
      target.events.answered?.(backend, 504);
      reply(response, 504, `task ${backend.label} of service ${target.serviceName} did not answer within ${(target.limits.responseTimeoutMs ?? 0) / 1000}s`);
      return;
    }
    // A kept-alive connection the task closed as the request went out: it never saw the request (the
    // race every HTTP client meets), so a request safe to repeat is sent again, and the task is not blamed.
    if (this.#connection.reused && !this.#connection.reader.started && bodiless && IDEMPOTENT.has(request.method ?? '')) {
      return this.#retry(this.#tried);
    }
    target.events.answered?.(backend, 502);
    reply(response, 502, `task ${backend.label} of service ${target.serviceName} failed before answering (${error.message})`);
  }
}
