// Hands one accepted TCP connection to a backend chosen by the balancer and pipes bytes both ways.
// A backend that refuses the connection is skipped for the next one (bounded), so a task that just
// died costs the client nothing; with no backend left the client is closed at once, never left hanging.
import type net from 'node:net';
import type { Backend } from './Backend.js';
import { dial } from './FaultyLink.js';
import type { Pool } from './Pool.js';
import type { Balancer } from './Balancer.js';
import { pipeWithPreface } from './proxyPreface.js';
import { endWriting, relay } from './relay.js';
import type { ProxyVersion } from './proxyHeader.js';

export interface ForwardEvents {
  /**
   * The balancer chose `backend` for the client at `client` (address:port), on this try of a connection,
   * request or flow. Only a trace listens: without one, the forwarders do not even build `client`.
   */
  picked?(backend: Backend, client: string, attempt: number): void;
  /** The connection reached `backend` (after `attempts` tries). */
  connected?(backend: Backend, attempts: number): void;
  /** No backend could be reached, or the client was refused; it was closed. */
  failed?(reason: 'no_backend' | 'connect_failed' | 'refused', detail?: string): void;
  connectError?(backend: Backend, error: Error): void;
  /** A failed connect is followed by a try on another backend. */
  retried?(): void;
  /** A new connection to `backend` took this long to open. */
  upstreamConnected?(backend: Backend, seconds: number): void;
  /** http mode: `backend` answered a request with `status`, or the mesh did for it (502 when it failed, 504 when silent). */
  answered?(backend: Backend, status: number): void;
  /** http mode: a request's answer is done (or cut), this long after its head was read. */
  finished?(seconds: number): void;
  /** UDP: a client's new flow is pinned to `backend`. */
  flowOpened?(backend: Backend): void;
  /** UDP: a datagram of this many bytes went in (client to task) or out. */
  transferred?(direction: 'in' | 'out', bytes: number): void;
}

/** Per service: how hard to try, and how long a quiet connection may stay. */
export interface ForwardLimits {
  /** Backends tried for one connection before giving up. */
  maxAttempts?: number;
  connectTimeoutMs?: number;
  /** No bytes either way for this long closes both sides (never a silent drop); 0 or absent: never. */
  idleTimeoutMs?: number;
  /** UDP: flows one listener holds at once (tcp's cap is the listener's own maxConnections); 0 or absent: the default. */
  maxConnections?: number;
  /** http mode: a request's head must arrive within this (then 408); 0 or absent: Node's own 60 s. */
  headerTimeoutMs?: number;
  /** http mode: the longest a task may stay silent while a request waits on it; 0 or absent: no limit. */
  responseTimeoutMs?: number;
  /** Send a PROXY header of this version ahead of the client's bytes, so the task sees the real client. */
  proxyProtocol?: ProxyVersion | undefined;
  /** Whose own PROXY header is believed (a load balancer in front); anyone else's is refused. */
  trustsProxy?: (address: string) => boolean;
}

export interface TcpForwarderOptions extends Pick<ForwardLimits, 'maxAttempts' | 'connectTimeoutMs'> {
  /** Source address of upstream connections: what a backend sees as its client (Swarm's ingress SNAT). */
  localAddress?: string;
}

export class TcpForwarder {
  readonly maxAttempts: number;
  readonly connectTimeoutMs: number;
  readonly localAddress: string | undefined;

  constructor(options: TcpForwarderOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.localAddress = options.localAddress;
  }

  /** `limits` override the forwarder's own for this connection (they come from the service's settings). */
  forward(client: net.Socket, pool: Pool, balancer: Balancer, events: ForwardEvents = {}, limits: ForwardLimits = {}): void {
    const maxAttempts = limits.maxAttempts ?? this.maxAttempts;
    const connectTimeoutMs = limits.connectTimeoutMs ?? this.connectTimeoutMs;
    client.pause();
    client.on('error', destroyItself);
    let tried: Set<Backend> | undefined;
    /** The upstream connection: still connecting until `connected`. */
    let upstream: net.Socket | undefined;
    let connected = false;
    // A client that leaves while we are still connecting takes the half-made upstream with it; once
    // connected, a side that closes cleanly lets the other flush what it still holds; an error resets both.
    client.once('close', (hadError) => {
      if (!upstream) return;
      if (!connected || hadError) upstream.destroy();
      else endWriting(upstream);
    });
    const attempt = (): void => {
      if (client.destroyed) return; // the client left while we were still trying
      const backend = balancer.pick(pool, tried, balancer.usesClientAddress ? client.remoteAddress : undefined);
      if (!backend) {
        client.destroy();
        events.failed?.(tried ? 'connect_failed' : 'no_backend');
        return;
      }
      if (tried) events.retried?.();
      if (events.picked) events.picked(backend, `${client.remoteAddress}:${client.remotePort}`, (tried?.size ?? 0) + 1);
      const started = events.upstreamConnected ? process.hrtime.bigint() : 0n;
      const socket = dial(backend, {
        host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true,
        localAddress: this.localAddress,
      });
      upstream = socket;
      // Counted from the pick, so least-conn and p2c see connections still connecting (a burst spreads).
      backend.active++;
      let failed = false;
      const failedToConnect = (error: Error): void => {
        // A timeout and the error of the same connect (its socket destroyed by the first) count once.
        if (failed) return;
        failed = true;
        socket.destroy();
        events.connectError?.(backend, error);
        (tried ??= new Set()).add(backend);
        if (tried.size >= maxAttempts) {
          client.destroy();
          events.failed?.('connect_failed');
        } else {
          attempt();
        }
      };
      const timer = setTimeout(() => failedToConnect(new Error(`connect to ${backend.host}:${backend.port} timed out`)), connectTimeoutMs);
      socket.on('error', (error) => {
        if (connected) socket.destroy();
        else failedToConnect(error);
      });
      socket.once('close', (hadError) => {
        clearTimeout(timer);
        backend.active--;
        // A try given up on may close late (a connect still held in its lookup): by then another may carry the connection.
        if (!connected || upstream !== socket) return;
        // A task's reset reaches the client as a reset, as through Swarm's NAT: a clean close would pass for a whole answer.
        if (hadError) client.resetAndDestroy();
        else endWriting(client);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        connected = true;
        backend.total++;
        events.upstreamConnected?.(backend, secondsSince(started));
        const idleTimeoutMs = limits.idleTimeoutMs ?? 0;
        if (idleTimeoutMs > 0) {
          // Bytes either way pass through the client socket, so its silence is the connection's.
          client.setTimeout(idleTimeoutMs, () => {
            client.destroy();
            socket.destroy();
          });
        }
        relay(socket, client);
        const trusted = limits.trustsProxy?.(client.remoteAddress ?? '') ?? false;
        pipeWithPreface(client, socket, { proxyProtocol: limits.proxyProtocol, trusted }, (reason) => {
          client.destroy();
          socket.destroy();
          events.failed?.('refused', reason);
        });
        client.resume();
        events.connected?.(backend, (tried?.size ?? 0) + 1);
      });
    };
    attempt();
  }
}

/** An 'error' listener: the socket it fires on is closed (its 'close' handler tells the other side). */
function destroyItself(this: net.Socket): void {
  this.destroy();
}

/** Seconds since a `process.hrtime.bigint()` reading. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
