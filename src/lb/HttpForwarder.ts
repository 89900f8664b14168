// http mode: balances each request, not each connection, so one kept-alive client spreads over every task.
// Clients are read by the mesh itself (ClientConnection, strictly: clientRequest.ts, RequestReader.ts);
// each request goes to a task over a kept-alive connection of the mesh's (TaskConnections), written and
// read by the mesh too (HttpExchange): no part of Node's HTTP server or client is on the path, which
// costs a fraction of theirs per request and per connection (bench/README.md). What a client gets when
// things go wrong is a gateway's answer, never a hang: 503 when no task is in the pool, 502 when no task
// could be reached or one failed before answering, 504 when one stayed silent too long. A request without
// a body whose connect failed is tried on another task: nothing of it reached the first.
import type net from 'node:net';
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { ClientConnection } from './ClientConnection.js';
import { ClientConnections } from './ClientConnections.js';
import type { ClientTimeouts } from './ClientConnections.js';
import type { ClientRequest } from './clientRequest.js';
import type { Pool } from './Pool.js';
import type { ForwardEvents, ForwardLimits } from './TcpForwarder.js';
import { taskRequestHeaders } from './hopHeaders.js';
import { HttpExchange } from './HttpExchange.js';
import type { ExchangeRequest } from './HttpExchange.js';
import { endWith, rawReply } from './meshAnswers.js';
import { originForm, requestHead } from './requestHead.js';
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
   * The client side of an http-mode port: the mesh hands it the port's accepted connections
   * (`accept`), so the port's listener stays the same when a service changes mode. `target` is read per
   * connection and per request. A request's head is timed by the target's `headerTimeoutMs`; `timeouts`
   * are the others (tests shorten them).
   */
  server(target: () => HttpTarget, timeouts: ClientTimeouts = {}): ClientConnections {
    return new ClientConnections(target, {
      forward: (client, request, lane) => this.#request(client, request, lane),
      upgrade: (socket, request, rest, lane) => this.#upgrade(socket, request, rest, lane),
    }, timeouts);
  }

  #request(client: ClientConnection, request: ClientRequest, target: HttpTarget): void {
    const address = client.socket.remoteAddress ?? '';
    const forwarded = taskRequestHeaders(request.headers, {
      address, localPort: client.localPort, upgrade: false, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    const exchange: ExchangeRequest = { client, request, forwarded, bodiless: !request.chunked && request.contentLength === 0 };
    this.#attempt(exchange, target, undefined);
  }

  #attempt(exchange: ExchangeRequest, target: HttpTarget, tried: Set<Backend> | undefined): void {
    const { client } = exchange;
    const backend = target.balancer.pick(target.pool, tried, client.socket.remoteAddress);
    if (!backend) {
      target.events.failed?.(tried ? 'connect_failed' : 'no_backend');
      if (tried) client.reply(502, `no task of service ${target.serviceName} could be reached`);
      else client.reply(503, `no task of service ${target.serviceName} is available`);
      return;
    }
    if (tried) target.events.retried?.();
    if (target.events.picked) target.events.picked(backend, `${client.socket.remoteAddress}:${client.socket.remotePort}`, (tried?.size ?? 0) + 1);
    new HttpExchange(exchange, target, backend, tried, this.#connections, (next) => this.#attempt(exchange, target, next)).start();
  }

  #upgrade(socket: net.Socket, request: ClientRequest, rest: Buffer, target: HttpTarget): void {
    if (request.method !== 'GET') {
      endWith(socket, rawReply(400, 'a WebSocket upgrade must be a GET request (RFC 6455)'));
      return;
    }
    const backend = target.balancer.pick(target.pool, undefined, socket.remoteAddress);
    if (!backend) {
      target.events.failed?.('no_backend');
      endWith(socket, rawReply(503, `no task of service ${target.serviceName} is available`));
      return;
    }
    if (target.events.picked) target.events.picked(backend, `${socket.remoteAddress}:${socket.remotePort}`, 1);
    // Held for as long as the upgraded connection lasts.
    backend.active++;
    backend.total++;
    socket.once('close', () => { backend.active--; });
    const address = socket.remoteAddress ?? '';
    const headers = taskRequestHeaders(request.headers, {
      address, localPort: socket.localPort ?? 0, upgrade: true, trusted: target.limits.trustsProxy?.(address) ?? false,
    });
    const taskHead = requestHead('GET', originForm(request.target), headers, request.headers.connection ?? 'Upgrade', `${backend.host}:${backend.port}`);
    new WebSocketTunnel(socket, taskHead, rest, backend, target, this.#localAddress);
  }

  /** `backend` has left its pool, or takes no new requests: its idle connections are closed now. */
  retire(backend: Backend): void {
    this.#connections.retire(backend);
  }

  close(): void {
    this.#connections.close();
  }
}
