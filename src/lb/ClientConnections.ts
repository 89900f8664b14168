// The client connections of one http-mode port, and their clock: each connection keeps a deadline for
// its current phase (a head, a body, an idle keep-alive, an answer its client stopped taking), and one
// timer looks at them all, as Node's own server does (connectionsCheckingInterval), so no request sets or
// clears a timer of its own. The look comes every quarter of the header timeout, at most once a second:
// a 10 s limit is kept within 1 s, and the short limits tests use within a quarter of theirs.
import type net from 'node:net';
import { ClientConnection } from './ClientConnection.js';
import type { ClientPort } from './ClientConnection.js';
import type { ClientRequest } from './clientRequest.js';
import type { HttpTarget } from './HttpForwarder.js';

/** A head's limit when the target names none (the mesh always names the service's: lbSettings holds the default). */
export const DEFAULT_HEADER_TIMEOUT_MS = 60_000;
/** The client idles this long between requests before the mesh closes its connection (nginx's keepalive_timeout). */
export const CLIENT_KEEP_ALIVE_MS = 75_000;
/** A whole request (head and body) must arrive within this (Node's own server's limit). */
const REQUEST_TIMEOUT_MS = 300_000;
/** A client may take none of what it is sent for this long (nginx's send_timeout). */
export const SEND_TIMEOUT_MS = 60_000;
const LONGEST_LOOK_MS = 1000;
const SHORTEST_LOOK_MS = 10;

export interface ClientTimeouts {
  /** A whole request's limit (a longer header timeout stands for it). */
  requestTimeout?: number;
  /** How often deadlines are looked at; by default a quarter of the header timeout, at most a second. */
  connectionsCheckingInterval?: number;
}

export interface Forwarding {
  forward(client: ClientConnection, request: ClientRequest, target: HttpTarget): void;
  upgrade(socket: net.Socket, request: ClientRequest, rest: Buffer, target: HttpTarget): void;
}

export class ClientConnections implements ClientPort {
  readonly #connections = new Set<ClientConnection>();
  readonly #target: () => HttpTarget;
  readonly #forwarding: Forwarding;
  readonly #lookEveryMs: number | undefined;
  readonly requestTimeoutMs: number;
  keepAliveTimeoutMs = CLIENT_KEEP_ALIVE_MS;
  sendTimeoutMs = SEND_TIMEOUT_MS;
  closing = false;
  /** The port the clients reached (X-Forwarded-Port): every connection of a port has it, so it is asked once (a getsockname). */
  #localPort: number | undefined;
  #look: NodeJS.Timeout | undefined;

  constructor(target: () => HttpTarget, forwarding: Forwarding, timeouts: ClientTimeouts = {}) {
    this.#target = target;
    this.#forwarding = forwarding;
    this.requestTimeoutMs = timeouts.requestTimeout ?? REQUEST_TIMEOUT_MS;
    this.#lookEveryMs = timeouts.connectionsCheckingInterval;
  }

  /** Takes a client's connection; the port's service is read per connection and per request. */
  accept(socket: net.Socket): void {
    this.#localPort ??= socket.localPort;
    this.#connections.add(new ClientConnection(socket, this));
    this.#look ??= this.#scheduleLook();
  }

  /** The header timeout of the current target: what a connection's head is held to. */
  get headerTimeoutMs(): number {
    return this.headerTimeoutOf(this.#target());
  }

  get localPort(): number {
    return this.#localPort ?? 0;
  }

  target(): HttpTarget {
    return this.#target();
  }

  headerTimeoutOf(target: HttpTarget): number {
    return target.limits.headerTimeoutMs || DEFAULT_HEADER_TIMEOUT_MS;
  }

  forward(client: ClientConnection, request: ClientRequest, target: HttpTarget): void {
    this.#forwarding.forward(client, request, target);
  }

  upgrade(socket: net.Socket, request: ClientRequest, rest: Buffer, target: HttpTarget): void {
    this.#forwarding.upgrade(socket, request, rest, target);
  }

  gone(client: ClientConnection): void {
    this.#connections.delete(client);
  }

  /** The port is gone: idle clients are closed now, a busy one after its answer. */
  close(): void {
    this.closing = true;
    for (const client of this.#connections) client.closeIfIdle();
  }

  #scheduleLook(): NodeJS.Timeout {
    const every = this.#lookEveryMs ?? Math.min(LONGEST_LOOK_MS, Math.max(SHORTEST_LOOK_MS, this.headerTimeoutMs / 4));
    return setTimeout(() => {
      const now = Date.now();
      for (const client of this.#connections) if (client.deadline <= now) client.timedOut();
      this.#look = this.#connections.size > 0 ? this.#scheduleLook() : undefined;
    }, every).unref();
  }
}
