// Hands one accepted TCP connection to a backend chosen by the balancer and pipes bytes both ways.
// A backend that refuses the connection is skipped for the next one (bounded), so a task that just
// died costs the client nothing; with no backend left the client is closed at once, never left hanging.
import net from 'node:net';
import type { Backend } from './Backend.js';
import type { Pool } from './Pool.js';
import type { Balancer } from './Balancer.js';
import { pipeWithPreface } from './proxyPreface.js';
import type { ProxyVersion } from './proxyHeader.js';

export interface ForwardEvents {
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
    const idleTimeoutMs = limits.idleTimeoutMs ?? 0;
    client.pause();
    client.on('error', () => client.destroy());
    let tried: Set<Backend> | undefined;
    let connecting: net.Socket | undefined;
    // A client that leaves while we are still connecting takes the half-made upstream with it.
    const abandon = (): void => { connecting?.destroy(); };
    client.once('close', abandon);
    const attempt = (): void => {
      if (client.destroyed) return; // the client left while we were still trying
      const backend = balancer.pick(pool, tried, client.remoteAddress);
      if (!backend) {
        client.destroy();
        events.failed?.(tried ? 'connect_failed' : 'no_backend');
        return;
      }
      if (tried) events.retried?.();
      const started = events.upstreamConnected ? process.hrtime.bigint() : 0n;
      const upstream = net.connect({
        host: backend.host, port: backend.port, allowHalfOpen: true, noDelay: true,
        localAddress: this.localAddress,
      });
      connecting = upstream;
      // Counted from the pick, so least-conn and p2c see connections still connecting (a burst spreads).
      backend.active++;
      upstream.once('close', () => { backend.active--; });
      upstream.setTimeout(connectTimeoutMs);
      const onEarlyError = (error: Error): void => {
        upstream.destroy();
        events.connectError?.(backend, error);
        (tried ??= new Set()).add(backend);
        if (tried.size >= maxAttempts) {
          client.destroy();
          events.failed?.('connect_failed');
        } else {
          attempt();
        }
      };
      upstream.once('error', onEarlyError);
      upstream.once('timeout', () => onEarlyError(new Error(`connect to ${backend.host}:${backend.port} timed out`)));
      upstream.once('connect', () => {
        connecting = undefined;
        client.off('close', abandon);
        upstream.off('error', onEarlyError);
        upstream.removeAllListeners('timeout');
        upstream.setTimeout(0);
        backend.total++;
        events.upstreamConnected?.(backend, secondsSince(started));
        // A side that closes cleanly lets the other flush what it still holds; an error resets both.
        upstream.on('error', () => upstream.destroy());
        upstream.once('close', (hadError) => {
          if (hadError) client.destroy();
          else if (!client.destroyed && !client.writableEnded) client.end();
        });
        client.once('close', (hadError) => {
          if (hadError) upstream.destroy();
          else if (!upstream.destroyed && !upstream.writableEnded) upstream.end();
        });
        if (idleTimeoutMs > 0) {
          // Bytes either way pass through the client socket, so its silence is the connection's.
          client.setTimeout(idleTimeoutMs, () => {
            client.destroy();
            upstream.destroy();
          });
        }
        upstream.pipe(client);
        const trusted = limits.trustsProxy?.(client.remoteAddress ?? '') ?? false;
        pipeWithPreface(client, upstream, { proxyProtocol: limits.proxyProtocol, trusted }, (reason) => {
          client.destroy();
          upstream.destroy();
          events.failed?.('refused', reason);
        });
        client.resume();
        events.connected?.(backend, (tried?.size ?? 0) + 1);
      });
    };
    attempt();
  }
}

/** Seconds since a `process.hrtime.bigint()` reading. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
