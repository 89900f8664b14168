// http mode: balances each request, not each connection, so one kept-alive client spreads over every task.
// Clients are read by Node's own (strict) HTTP server; each request goes to a task over a kept-alive
// connection of the mesh's (TaskConnections), written and read by the mesh itself (HttpExchange), which
// costs a fraction of Node's HTTP client per request (bench/README.md). What a client gets when things go
// wrong is a gateway's answer, never a hang: 503 when no task is in the pool, 502 when no task could be
// reached or one failed before answering, 504 when one stayed silent too long. A request without a body
// whose connect failed is tried on another task: nothing of it reached the first.
import http from 'node:http';
import type net from 'node:net';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';
import { secondsSince } from './TcpForwarder.js';
import type { ForwardEvents, ForwardLimits } from './TcpForwarder.js';
import { taskRequestHeaders } from './hopHeaders.js';
import { HttpExchange } from './HttpExchange.js';
import type { ExchangeRequest } from './HttpExchange.js';
import { rawReply, reply } from './meshAnswers.js';
import { originForm, requestHead } from './requestHead.js';
import { CONNECT_REFUSAL, gateFirstHead, parseErrorRefusal, refusalOf } from './requestRefusals.js';
import type { Refusal } from './requestRefusals.js';
import { TaskConnections } from './TaskConnections.js';
import { WebSocketTunnel } from './WebSocketTunnel.js';

/** What one listener balances over, read per request: a re-sync may swap it while clients stay connected. */
export interface HttpTarget {
  pool: Pool;
  balancer: Balancer;
  events: ForwardEvents;
  limits: ForwardLimits;
  /** Named in the answers the mesh writes itself. */
  serviceName: string;
}

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

export interface HttpForwarderOptions {
  /** Source address of connections to tasks (as in tcp mode, the node that forwarded). */
  localAddress?: string;
}

export class HttpForwarder {
  readonly #localAddress: string | undefined;
  readonly #connections: TaskConnections;

  constructor(options: HttpForwarderOptions = {}) {
    this.#localAddress = options.localAddress;
    this.#connections = new TaskConnections(options.localAddress);
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
    const { socket, headers } = request;
    const address = socket.remoteAddress ?? '';
    const forwarded = taskRequestHeaders(headers, {
      address, localPort: socket.localPort ?? 0, upgrade: false, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    const chunked = headers['transfer-encoding'] !== undefined;
    const exchange: ExchangeRequest = { request, response, body, chunked, forwarded, bodiless: !chunked && (headers['content-length'] ?? '0') === '0' };
    // A pipelined request waits for the answers before it (its response has no socket until then): one
    // request per client connection at a task at a time, as HAProxy and nginx do, so a client cannot
    // put more requests in flight than connections, and one that leaves has nothing queued at a task.
    if (response.socket) this.#attempt(exchange, target, undefined);
    else response.once('socket', () => this.#attempt(exchange, target, undefined));
  }

  #attempt(exchange: ExchangeRequest, target: HttpTarget, tried: Set<Backend> | undefined): void {
    const { request, response } = exchange;
    const backend = target.balancer.pick(target.pool, tried, request.socket.remoteAddress);
    if (!backend) {
      target.events.failed?.(tried ? 'connect_failed' : 'no_backend');
      if (tried) reply(response, 502, `no task of service ${target.serviceName} could be reached`);
      else reply(response, 503, `no task of service ${target.serviceName} is available`);
      return;
    }
    if (tried) target.events.retried?.();
    new HttpExchange(exchange, target, backend, tried, this.#connections, (next) => this.#attempt(exchange, target, next)).start();
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
    // Held for as long as the upgraded connection lasts.
    backend.active++;
    backend.total++;
    socket.once('close', () => { backend.active--; });
    const address = socket.remoteAddress ?? '';
    const headers = taskRequestHeaders(request.headers, {
      address, localPort: socket.localPort ?? 0, upgrade: true, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    const taskHead = requestHead('GET', originForm(request.url ?? '/'), headers, request.headers.connection ?? 'Upgrade', `${backend.host}:${backend.port}`);
    new WebSocketTunnel(socket, taskHead, head, backend, target, this.#localAddress);
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

  /** `backend` has left its pool, or takes no new requests: its idle connections are closed now. */
  retire(backend: Backend): void {
    this.#connections.retire(backend);
  }

  close(): void {
    this.#connections.close();
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
