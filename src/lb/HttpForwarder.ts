// http mode: balances each request, not each connection, so one kept-alive client spreads over every task.
// Requests go to tasks over kept-alive connections (one agent per task) through http-proxy. What a client
// gets when things go wrong is a gateway's answer, never a hang: 503 when no task is in the pool, 502 when
// no task could be reached or one failed before answering, 504 when one stayed silent too long. A request
// without a body whose connect failed is tried on another task: nothing of it reached the first.
import http from 'node:http';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import httpProxy from 'http-proxy';
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';
import { secondsSince } from './TcpForwarder.js';
import type { ForwardEvents, ForwardLimits } from './TcpForwarder.js';
import { clientResponseHeaders, taskRequestHeaders } from './hopHeaders.js';
import { CONNECT_REFUSAL, gateFirstHead, parseErrorRefusal, refusalOf } from './requestRefusals.js';
import type { Refusal } from './requestRefusals.js';

/** What one listener balances over, read per request: a re-sync may swap it while clients stay connected. */
export interface HttpTarget {
  pool: Pool;
  balancer: Balancer;
  events: ForwardEvents;
  limits: ForwardLimits;
  /** Named in the answers the mesh writes itself. */
  serviceName: string;
}

/** One try of one request on one task. */
interface Attempt {
  backend: Backend;
  target: HttpTarget;
  /** The connection to the task is made (or was kept alive): a failure now may have reached the task. */
  connected: boolean;
  /** The request to the task, once http-proxy has made it. */
  taskRequest?: http.ClientRequest;
  reusedSocket: boolean;
  timedOut: boolean;
  /**
   * When the try began (process.hrtime.bigint(); 0n when nobody times connects): a new connection's
   * opening is timed from here.
   */
  startedAt: bigint;
  /** Ends the attempt's hold on its backend's count of requests in flight; idempotent. */
  finish: () => void;
}

/** Methods a server must be able to take twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** The client idles this long between requests before the mesh closes its connection (nginx's keepalive_timeout). */
export const CLIENT_KEEP_ALIVE_MS = 75_000;
/**
 * Node's own headersTimeout: the longest an ignored upgrade's request (head and body) may take, and a
 * head's limit when the target names none (the mesh always names the service's: lbSettings holds the default).
 */
const NODE_HEADERS_TIMEOUT_MS = 60_000;
/** A whole request (head and body) must arrive within this: Node's own limit, raised to a longer header timeout. */
const REQUEST_TIMEOUT_MS = 300_000;
/** How often Node looks for requests past those limits (its default, 30 s, let a 10 s limit run to 40 s). */
const TIMEOUT_CHECK_MS = 1000;
/** The longest a connection to a task stays open with no request on it. */
const TASK_IDLE_MS = 60_000;
/** Sent to tasks whatever the client asked: the mesh keeps its connections to tasks open. */
const KEEP_TASK_CONNECTION = { connection: 'keep-alive' };

export interface HttpForwarderOptions {
  /** Source address of connections to tasks (as in tcp mode, the node that forwarded). */
  localAddress?: string;
}

export class HttpForwarder {
  readonly #localAddress: string | undefined;
  readonly #proxy = httpProxy.createProxyServer({ xfwd: false });
  readonly #agents = new Map<Backend, http.Agent>();
  readonly #attempts = new WeakMap<http.IncomingMessage, Attempt>();

  constructor(options: HttpForwarderOptions = {}) {
    this.#localAddress = options.localAddress;
    // http-proxy gives a DELETE or OPTIONS without Content-Length a length of 0 and drops its
    // Transfer-Encoding, yet still sends the body: the task would read that body as another request.
    const proxy = this.#proxy as unknown as { webPasses: { name: string }[] };
    proxy.webPasses = proxy.webPasses.filter((pass) => pass.name !== 'deleteLength');
    this.#proxy.on('proxyReq', (proxyRequest, request) => this.#watch(proxyRequest, request));
    this.#proxy.on('proxyReqWs', (proxyRequest, request) => this.#watch(proxyRequest, request));
    this.#proxy.on('proxyRes', (proxyResponse, request, response) => this.#answered(proxyResponse, request, response));
  }

  /**
   * A server that never listens: the mesh hands it the accepted connections of an http-mode port, so the
   * port's listener stays the same when a service changes mode. `target` is read per connection and per
   * request. A request's head is timed by the target's `headerTimeoutMs`; `timeouts` are Node's others
   * (requestTimeout, and how often it looks: tests shorten them).
   */
  server(target: () => HttpTarget, timeouts: Pick<http.ServerOptions, 'requestTimeout' | 'connectionsCheckingInterval'> = {}): http.Server {
    // Once closed (its port is gone), kept-alive clients get their answer in flight and are let go.
    let closed = false;
    const requestTimeout = timeouts.requestTimeout ?? REQUEST_TIMEOUT_MS;
    const server = http.createServer({ requestTimeout, connectionsCheckingInterval: TIMEOUT_CHECK_MS, ...timeouts }, (request, response) => {
      if (closed) response.shouldKeepAlive = false;
      const lane = target();
      const refusal = refusalOf(request);
      if (refusal) return refuse(response, refusal, lane);
      this.#request(request, response, lane);
    });
    // Node's parser gets each connection once its first request head is in (see gateFirstHead); it times
    // the heads after that itself, by the service's header timeout as of that connection.
    const parse = server.listeners('connection')[0] as (socket: net.Socket) => void;
    server.removeListener('connection', parse);
    server.on('connection', (socket: net.Socket) => {
      const lane = target();
      const headerTimeoutMs = lane.limits.headerTimeoutMs || NODE_HEADERS_TIMEOUT_MS;
      server.headersTimeout = headerTimeoutMs;
      server.requestTimeout = Math.max(requestTimeout, headerTimeoutMs);
      socket.on('error', () => socket.destroy());
      gateFirstHead(socket, headerTimeoutMs, (refusal) => refuseOnSocket(socket, refusal, lane), () => parse.call(server, socket));
    });
    server.once('close', () => { closed = true; });
    server.on('upgrade', (request: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const lane = target();
      const refusal = refusalOf(request);
      if (refusal) return refuseOnSocket(socket, refusal, lane);
      this.#upgrade(request, socket, head, lane);
    });
    // Without these Node answers a request its parser cannot read with a bare 400, and CONNECT not at all.
    const answered = new WeakSet<net.Socket>();
    server.on('clientError', (error: Error & { code?: string; reason?: string }, socket: net.Socket) => {
      // The parser stays failed: more bytes from the client raise this again, and get no second answer.
      if (answered.has(socket)) return;
      const refusal = parseErrorRefusal(error);
      // Node's own rule: no answer where one to an earlier request has begun on this connection.
      const inFlight = (socket as { _httpMessage?: http.ServerResponse })._httpMessage;
      if (!refusal || !socket.writable || inFlight?.headersSent) return socket.destroy();
      answered.add(socket);
      refuseOnSocket(socket, refusal, target());
    });
    server.on('connect', (_request: http.IncomingMessage, socket: net.Socket) => refuseOnSocket(socket, CONNECT_REFUSAL, target()));
    server.keepAliveTimeout = CLIENT_KEEP_ALIVE_MS;
    // Node times out slow headers and requests (headersTimeout, requestTimeout) only on a server that has
    // started listening; this one is handed its connections instead, so it is told it has started.
    server.emit('listening');
    return server;
  }

  /** `body` stands for the request's own stream when the parser has let go of it (an ignored upgrade). */
  #request(request: http.IncomingMessage, response: http.ServerResponse, target: HttpTarget, body?: Readable): void {
    // Timed only when someone counts (metrics on): otherwise a request pays no clock reading and no listener.
    const { finished } = target.events;
    if (finished) {
      const startedAt = process.hrtime.bigint();
      response.once('close', () => finished(secondsSince(startedAt)));
    }
    const address = request.socket.remoteAddress ?? '';
    request.headers = taskRequestHeaders(request.headers, {
      address, localPort: request.socket.localPort ?? 0, upgrade: false, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    this.#attempt(request, response, target, undefined, body);
  }

  #attempt(request: http.IncomingMessage, response: http.ServerResponse, target: HttpTarget, tried: Set<Backend> | undefined, body?: Readable): void {
    const backend = target.balancer.pick(target.pool, tried, request.socket.remoteAddress);
    if (!backend) {
      target.events.failed?.(tried ? 'connect_failed' : 'no_backend');
      if (tried) reply(response, 502, `no task of service ${target.serviceName} could be reached`);
      else reply(response, 503, `no task of service ${target.serviceName} is available`);
      return;
    }
    if (tried) target.events.retried?.();
    const attempt = this.#begin(backend, target);
    response.once('finish', attempt.finish).once('close', () => {
      attempt.finish();
      // The client left before its answer was done: the task's request goes too, whatever state it is in.
      if (!response.writableFinished) attempt.taskRequest?.destroy();
    });
    // Each try adds its listeners to the request and its answer: room for every try the labels allow.
    if (tried) {
      request.setMaxListeners(request.getMaxListeners() + 2);
      response.setMaxListeners(response.getMaxListeners() + 2);
    }
    this.#attempts.set(request, attempt);
    const options = {
      ...(body ? { buffer: body } : {}),
      target: { host: backend.host, port: backend.port }, agent: this.#agentOf(backend), headers: KEEP_TASK_CONNECTION,
      // The answer's head is written here (#answered): http-proxy's copy would pass on the task's hop-by-hop headers.
      selfHandleResponse: true,
      ...(this.#localAddress ? { localAddress: this.#localAddress } : {}),
    };
    this.#proxy.web(request, response, options, (error) => {
      // A request retried since has a newer attempt: this one's late errors are not news.
      if (this.#attempts.get(request) !== attempt) return;
      this.#failed(error, request, response, attempt, tried, body);
    });
  }

  #failed(error: Error, request: http.IncomingMessage, response: http.ServerResponse, attempt: Attempt, tried: Set<Backend> | undefined,
    body: Readable | undefined): void {
    attempt.finish();
    const { backend, target } = attempt;
    // The client left: nobody to answer or retry for.
    if (response.destroyed) return;
    // A reply already begun cannot turn into an error: cutting the connection is the only honest signal.
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const bodiless = request.headers['transfer-encoding'] === undefined && (request.headers['content-length'] ?? '0') === '0';
    if (!attempt.connected) {
      target.events.connectError?.(backend, error);
      const next = new Set(tried).add(backend);
      const maxAttempts = target.limits.maxAttempts ?? 3;
      if (bodiless && next.size < maxAttempts) return this.#attempt(request, response, target, next, body);
      target.events.failed?.('connect_failed');
      reply(response, 502, `no task of service ${target.serviceName} could be reached (${backend.label}: ${error.message})`);
      return;
    }
    if (attempt.timedOut) {
      target.events.answered?.(backend, 504);
      reply(response, 504, `task ${backend.label} of service ${target.serviceName} did not answer within ${(target.limits.responseTimeoutMs ?? 0) / 1000}s`);
      return;
    }
    // A kept-alive connection the task closed as the request went out: it never saw the request (the
    // race every HTTP client meets), so a request safe to repeat is sent again, and the task is not blamed.
    if (attempt.reusedSocket && bodiless && IDEMPOTENT.has(request.method ?? '')) {
      return this.#attempt(request, response, target, tried, body);
    }
    target.events.answered?.(backend, 502);
    reply(response, 502, `task ${backend.label} of service ${target.serviceName} failed before answering (${error.message})`);
  }

  #upgrade(request: http.IncomingMessage, socket: net.Socket, head: Buffer, target: HttpTarget): void {
    socket.on('error', () => socket.destroy());
    if (request.headers.upgrade?.toLowerCase() !== 'websocket') {
      this.#ignoreUpgrade(request, socket, head, target);
      return;
    }
    if (request.method !== 'GET') {
      socket.end(rawReply(400, 'a WebSocket upgrade must be a GET request (RFC 6455)'));
      return;
    }
    const backend = target.balancer.pick(target.pool, undefined, socket.remoteAddress);
    if (!backend) {
      target.events.failed?.('no_backend');
      socket.end(rawReply(503, `no task of service ${target.serviceName} is available`));
      return;
    }
    const attempt = this.#begin(backend, target);
    socket.once('close', attempt.finish);
    this.#attempts.set(request, attempt);
    const address = socket.remoteAddress ?? '';
    request.headers = taskRequestHeaders(request.headers, {
      address, localPort: socket.localPort ?? 0, upgrade: true, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    const options = { target: { host: backend.host, port: backend.port }, ...(this.#localAddress ? { localAddress: this.#localAddress } : {}) };
    this.#proxy.ws(request, socket, head, options, (error) => {
      if (attempt.connected) target.events.answered?.(backend, 502);
      else target.events.connectError?.(backend, error);
      // http-proxy ends the socket after this; a client that got nothing yet learns why first.
      if (socket.bytesWritten === 0) socket.write(rawReply(502, `task ${backend.label} of service ${target.serviceName} could not take the WebSocket (${error.message})`));
    });
    // The task's answer to the upgrade: 101, or a refusal passed on as it is. (#watch has the request by now.)
    attempt.taskRequest?.once('upgrade', () => target.events.answered?.(backend, 101))
      .once('response', (answer: http.IncomingMessage) => target.events.answered?.(backend, answer.statusCode ?? 502));
  }

  /**
   * h2c and the like: a server may ignore Upgrade (RFC 9110 §7.8), so this is answered as the plain
   * request it also is, over HTTP/1.1, and the connection closed after. Node's parser has let go of the
   * connection, so the body (curl sends one with `--http2 -d`) is read here, by its Content-Length.
   */
  #ignoreUpgrade(request: http.IncomingMessage, socket: net.Socket, head: Buffer, target: HttpTarget): void {
    const length = Number(request.headers['content-length'] ?? '0');
    if (request.headers['transfer-encoding'] !== undefined || !Number.isSafeInteger(length) || length < 0) {
      socket.end(rawReply(400, 'a request asking to upgrade to anything but a WebSocket needs its body sent with Content-Length, or no Upgrade header'));
      return;
    }
    // Nothing else times this connection now: a client that stops halfway is not waited on for ever.
    socket.setTimeout(NODE_HEADERS_TIMEOUT_MS, () => socket.destroy());
    const response = new http.ServerResponse(request);
    response.shouldKeepAlive = false;
    response.assignSocket(socket);
    response.once('finish', () => socket.end());
    this.#request(request, response, target, bodyAfterHead(head, socket, length));
  }

  #begin(backend: Backend, target: HttpTarget): Attempt {
    // Requests in flight are what least-conn and p2c weigh in http mode.
    backend.active++;
    backend.total++;
    let finished = false;
    return {
      backend, target, connected: false, reusedSocket: false, timedOut: false, startedAt: target.events.upstreamConnected ? process.hrtime.bigint() : 0n,
      finish: () => {
        if (finished) return;
        finished = true;
        backend.active--;
      },
    };
  }

  /**
   * Times the request's connect and its silences. A plain request comes here with its socket; an upgrade
   * comes before it has one (http-proxy announces it at once), so its socket is waited for.
   */
  #watch(proxyRequest: http.ClientRequest, request: http.IncomingMessage): void {
    const attempt = this.#attempts.get(request);
    if (!attempt) return;
    attempt.taskRequest = proxyRequest;
    const { limits } = attempt.target;
    const watchSocket = (socket: net.Socket): void => {
      if (!socket.connecting) {
        // A kept-alive connection: nothing to time (the usual case, so no timer is armed for it).
        attempt.reusedSocket = proxyRequest.reusedSocket;
        attempt.connected = true;
        return;
      }
      const ms = limits.connectTimeoutMs ?? 5000;
      const timer = setTimeout(() => proxyRequest.destroy(new Error(`connect timed out after ${ms}ms`)), ms);
      proxyRequest.once('close', () => clearTimeout(timer));
      socket.once('connect', () => {
        clearTimeout(timer);
        attempt.connected = true;
        attempt.target.events.upstreamConnected?.(attempt.backend, secondsSince(attempt.startedAt));
      });
    };
    if (proxyRequest.socket) watchSocket(proxyRequest.socket);
    else proxyRequest.once('socket', watchSocket);
    // Timed from the request's last byte: a client slow to send its body must not count against the task.
    const responseTimeoutMs = limits.responseTimeoutMs ?? 0;
    if (responseTimeoutMs > 0) {
      proxyRequest.once('finish', () => proxyRequest.setTimeout(responseTimeoutMs, () => {
        attempt.timedOut = true;
        proxyRequest.destroy(new Error(`no answer within ${responseTimeoutMs}ms`));
      }));
    }
  }

  #answered(proxyResponse: http.IncomingMessage, request: http.IncomingMessage, response: http.ServerResponse): void {
    const attempt = this.#attempts.get(request);
    if (!attempt) return;
    const status = proxyResponse.statusCode ?? 502;
    attempt.target.events.answered?.(attempt.backend, status);
    // The client's connection is the mesh's to keep or close, and to frame: Node does both from here.
    response.writeHead(status, proxyResponse.statusMessage, clientResponseHeaders(proxyResponse.rawHeaders, proxyResponse.headers.connection));
    // A task that dies mid-body: the client's reply is cut as well, not left waiting for the rest. (A
    // client that leaves mid-answer takes the task's request with it: see #attempt.)
    proxyResponse.once('error', () => response.destroy());
    proxyResponse.pipe(response);
  }

  /**
   * One agent per task keeps its connections alive between requests: idle for at most a minute, and less
   * when the task announces a shorter limit (`Keep-Alive: timeout=5`: Node's agent then closes them a
   * second early, so a request rarely meets a connection the task is closing).
   */
  #agentOf(backend: Backend): http.Agent {
    let agent = this.#agents.get(backend);
    if (!agent) this.#agents.set(backend, (agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', timeout: TASK_IDLE_MS })));
    return agent;
  }

  /** `backend` has left its pool, or takes no new requests: its idle connections are closed now. */
  retire(backend: Backend): void {
    const agent = this.#agents.get(backend);
    if (!agent) return;
    this.#agents.delete(backend);
    // Connections busy with a request finish it; the agent then closes them (it is no longer kept alive).
    (agent as unknown as { keepAlive: boolean }).keepAlive = false;
    for (const sockets of Object.values(agent.freeSockets)) for (const socket of sockets ?? []) socket.destroy();
  }

  close(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

/** A request refused before any task saw it: the answer says why, and the connection closes after it. */
function refuse(response: http.ServerResponse, refusal: Refusal, target: HttpTarget): void {
  target.events.failed?.('refused', `a request from ${response.req.socket.remoteAddress}: ${refusal.reason}`);
  // Its body is read and dropped: a close with unread bytes would be a reset, which can take the answer with it.
  response.req.resume();
  response.shouldKeepAlive = false;
  reply(response, refusal.status, refusal.reason);
}

/** The same, on a connection no parser reads (its first head is refused, or it asks to upgrade). */
function refuseOnSocket(socket: net.Socket, refusal: Refusal, target: HttpTarget): void {
  target.events.failed?.('refused', `a request from ${socket.remoteAddress}: ${refusal.reason}`);
  socket.resume();
  socket.end(rawReply(refusal.status, refusal.reason, refusal.allow));
  // A client that keeps its side open is not waited on.
  socket.setTimeout(1000, () => socket.destroy());
}

function reply(response: http.ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The first `length` bytes the client sends after the request's head: what of them came along, then the rest. */
function bodyAfterHead(head: Buffer, socket: net.Socket, length: number): Readable {
  const body = new PassThrough();
  let left = length;
  const take = (chunk: Buffer): void => {
    const part = chunk.subarray(0, left);
    left -= part.length;
    if (part.length) body.write(part);
    if (left > 0) return;
    socket.off('data', take);
    body.end();
  };
  take(head);
  if (left > 0) {
    socket.on('data', take);
    // Cut short, not failed: the request to the task is dropped with the client's answer (see #attempt).
    socket.once('close', () => { if (left > 0) body.destroy(); });
  }
  return body;
}

/** An answer written straight on a socket no parser answers on (no ServerResponse exists for it). */
function rawReply(status: number, message: string, allow?: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${allow ? `allow: ${allow}\r\n` : ''}` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
