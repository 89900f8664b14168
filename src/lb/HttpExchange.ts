// One try of one http-mode request on one task: its head and body written to a kept-alive task connection
// (TaskConnections), the answer read strictly (ResponseReader) and written back through the client's
// connection (ClientConnection), which frames it for the client. What goes wrong is decided here as a gateway would: a
// connect that failed may be tried on another task (`retry`), a silent task is a 504, anything else
// before the answer began a 502, and after it began a cut reply.
import type { IncomingHttpHeaders } from 'node:http';
import type { Backend } from './Backend.js';
import type { ClientConnection, ClientExchange } from './ClientConnection.js';
import type { ClientRequest } from './clientRequest.js';
import type { HttpTarget } from './HttpForwarder.js';
import { secondsSince } from './TcpForwarder.js';
import type { ConnectionUser, TaskConnection, TaskConnections } from './TaskConnections.js';
import type { AnswerHandler } from './ResponseReader.js';
import type { ResponseHead } from './responseHead.js';
import { answerHeaders } from './hopHeaders.js';
import { originForm, requestHead } from './requestHead.js';

/** Methods a server must be able to take twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
const LAST_CHUNK = '0\r\n\r\n';

export interface ExchangeRequest {
  client: ClientConnection;
  request: ClientRequest;
  /** The headers the task gets (hopHeaders.ts): its head is made of them for each try (requestHead.ts). */
  forwarded: IncomingHttpHeaders;
  /** No body at all: nothing of it can have reached a task that failed. */
  bodiless: boolean;
}

/** Tries another task, `tried` holding those that failed. */
export type Retry = (tried: Set<Backend> | undefined) => void;

export class HttpExchange implements ConnectionUser, AnswerHandler, ClientExchange {
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
    const { client, request } = this.#exchange;
    client.exchange = this;
    const connection = (this.#connection = this.#connections.take(backend, this));
    connection.reader.start(request.method, this);
    if (connection.reused) {
      this.#connected = true;
    } else {
      if (this.#target.events.upstreamConnected) this.#startedAt = process.hrtime.bigint();
      connection.socket.setTimeout(this.#target.limits.connectTimeoutMs ?? 5000);
    }
    // Written at once, even while connecting: the socket holds it until the connection is open. As
    // latin1: the client's head was read as one character per byte.
    const head = requestHead(request.method, originForm(request.target), this.#exchange.forwarded, 'keep-alive', `${backend.host}:${backend.port}`);
    connection.socket.write(head, 'latin1');
    if (this.#exchange.bodiless) this.#requestSent();
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
      return;
    }
    // What this read brought goes to the client in one write (an answer it ended went already).
    if (!this.#over && !this.#exchange.client.flush()) this.#holdTask();
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
    // The client's connection is the mesh's to keep or close, and to frame.
    const bodiless = head.status === 204 || head.status === 304 || this.#exchange.request.method === 'HEAD';
    this.#exchange.client.answerHead(head.status, head.reason, answerHeaders(head), bodiless);
  }

  /** A piece of the answer's body (ResponseReader): in the task connections' shared read buffer, so the client connection copies what it keeps. */
  body(piece: Buffer): void {
    this.#exchange.client.answerBody(piece);
  }

  /** The client reads slower than the task sends: the task waits, and its silence is not timed meanwhile. */
  #holdTask(): void {
    const { socket } = this.#connection;
    if (socket.isPaused()) return;
    socket.pause();
    socket.setTimeout(0);
    this.#exchange.client.socket.once('drain', () => {
      if (this.#over) return;
      socket.setTimeout(this.#target.limits.responseTimeoutMs ?? 0);
      socket.resume();
    });
  }

  end(): void {
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
    this.#exchange.client.answerEnd();
  }

  /** A piece of the client's body: to the task, framed as the client framed it. */
  requestBody(piece: Buffer): void {
    if (this.#over) return;
    const { socket } = this.#connection;
    let flowing: boolean;
    if (this.#exchange.request.chunked) {
      socket.cork();
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(piece);
      flowing = socket.write('\r\n');
      socket.uncork();
    } else {
      flowing = socket.write(piece);
    }
    if (!flowing) {
      const { client } = this.#exchange;
      client.pauseReading();
      socket.once('drain', () => client.resumeReading());
    }
  }

  requestBodyEnd(): void {
    if (this.#over) return;
    if (this.#exchange.request.chunked) this.#connection.socket.write(LAST_CHUNK);
    this.#requestSent();
  }

  /** The client left, or what it sent could not be read: the task's request goes, whatever state it is in. */
  abandon(): void {
    if (this.#over) return;
    this.#over = true;
    this.#release();
    this.#connection.user = undefined;
    this.#connection.socket.destroy();
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
    this.#exchange.client.resumeReading();
  }

  #fail(error: Error): void {
    if (this.#over) return;
    this.abandon();
    this.#stopSending();
    const { client, request, bodiless } = this.#exchange;
    const target = this.#target;
    const backend = this.#backend;
    // The client left: nobody to answer or retry for.
    if (client.gone) return;
    // A reply already begun cannot turn into an error: cutting the connection is the only honest signal.
    if (client.answerStarted) {
      client.cut();
      return;
    }
    if (!this.#connected) {
      target.events.connectError?.(backend, error);
      const tried = new Set(this.#tried).add(backend);
      if (bodiless && tried.size < (target.limits.maxAttempts ?? 3)) return this.#retry(tried);
      target.events.failed?.('connect_failed');
      client.reply(502, `no task of service ${target.serviceName} could be reached (${backend.label}: ${error.message})`);
      return;
    }
    if (this.#timedOut) {
      target.events.answered?.(backend, 504);
      client.reply(504, `task ${backend.label} of service ${target.serviceName} did not answer within ${(target.limits.responseTimeoutMs ?? 0) / 1000}s`);
      return;
    }
    const repeatable = !this.#connection.reader.started && bodiless && IDEMPOTENT.has(request.method);
    // A kept-alive connection the task closed as the request went out: it never saw the request (the
    // race every HTTP client meets), so a request safe to repeat is sent again, and the task is not blamed.
    if (repeatable && this.#connection.reused) return this.#retry(this.#tried);
    target.events.answered?.(backend, 502);
    // A task that dropped the request without a word (it died with it, as when its node is killed): a
    // request safe to repeat goes to another task (RFC 9110 9.2.2), as Envoy's retry_on reset sends it.
    const tried = new Set(this.#tried).add(backend);
    const another = target.pool.available.some((other) => !tried.has(other));
    if (repeatable && another && tried.size < (target.limits.maxAttempts ?? 3)) return this.#retry(tried);
    client.reply(502, `task ${backend.label} of service ${target.serviceName} failed before answering (${error.message})`);
  }
}
