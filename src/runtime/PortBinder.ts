// Binds a task's sockets on the task's own address. A port below 1024 that the OS refuses (routemesh
// run without root or CAP_NET_BIND_SERVICE) moves to an unprivileged one; callers report where it landed.

import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { UNPRIVILEGED_PORT_SHIFT } from '../swarm/index.js';
import { RuntimeError } from './TaskRun.js';
import type { TransportProtocol } from './TaskRun.js';

/** Tries to bind one port (0 = any free port); resolves with the port actually bound. */
export type BindAttempt = (port: number) => Promise<number>;

export interface PortBinderOptions {
  /** Where a refused low port goes; default port + UNPRIVILEGED_PORT_SHIFT. If that is taken too, any free port. */
  lowPortFallback?: (port: number) => number;
  /**
   * Whether ports below 1024 may be bound. Unset: try, and fall back on EACCES. `false` skips straight
   * to the fallback, which is also how tests exercise it while running as root.
   */
  canBindLowPorts?: boolean;
}

export class PortBinder {
  readonly #fallback: (port: number) => number;
  readonly #canBindLowPorts: boolean | undefined;

  constructor(options: PortBinderOptions = {}) {
    this.#fallback = options.lowPortFallback ?? ((port) => port + UNPRIVILEGED_PORT_SHIFT);
    this.#canBindLowPorts = options.canBindLowPorts;
  }

  /** The policy alone, over any way of binding; errors other than the fallback's reach the caller raw. */
  async bind(port: number, attempt: BindAttempt): Promise<number> {
    if (port <= 0 || port >= 1024) return attempt(port);
    if (this.#canBindLowPorts !== false) {
      try {
        return await attempt(port);
      } catch (err) {
        if (errnoOf(err) !== 'EACCES') throw err;
      }
    }
    try {
      return await attempt(this.#fallback(port));
    } catch (err) {
      const code = errnoOf(err);
      if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    }
    return attempt(0);
  }

  /** Listens with a TCP (or HTTP) server; bind failures become START_FAILED with a sentence to act on. */
  async listen(server: net.Server, host: string, port: number): Promise<number> {
    try {
      return await this.bind(port, (p) => listenOnce(server, host, p));
    } catch (err) {
      throw bindFailure(err, host, port, 'tcp');
    }
  }

  /** Binds a fresh UDP socket per attempt, since a socket that failed to bind cannot be reused. */
  async bindUdp(host: string, port: number): Promise<{ socket: dgram.Socket; port: number }> {
    let bound: dgram.Socket | undefined;
    try {
      const actual = await this.bind(port, async (p) => {
        const socket = dgram.createSocket('udp4');
        const got = await bindUdpOnce(socket, host, p);
        bound = socket;
        return got;
      });
      return { socket: bound!, port: actual };
    } catch (err) {
      throw bindFailure(err, host, port, 'udp');
    }
  }

  /**
   * Finds the port a child process should use for `port`: binds it and lets go at once. The child binds
   * it a moment later; another program could slip in between, and the child would then say so itself.
   */
  async probe(host: string, port: number, protocol: TransportProtocol): Promise<number> {
    if (protocol === 'udp') {
      const { socket, port: actual } = await this.bindUdp(host, port);
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      return actual;
    }
    const server = net.createServer();
    const actual = await this.listen(server, host, port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return actual;
  }
}

function listenOnce(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

function bindUdpOnce(socket: dgram.Socket, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off('listening', onListening);
      try {
        socket.close();
      } catch {
        // Already closed by the failed bind; nothing left to release.
      }
      reject(err);
    };
    const onListening = () => {
      socket.off('error', onError);
      resolve(socket.address().port);
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    socket.bind({ address: host, port });
  });
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

function bindFailure(err: unknown, host: string, port: number, protocol: TransportProtocol): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const where = `${host}:${port}/${protocol}`;
  switch (errnoOf(err)) {
    case 'EADDRINUSE':
      return new RuntimeError(
        'START_FAILED',
        `Cannot listen on ${where}: the port is already in use by another task or program there; stop it or give this task another address.`,
      );
    case 'EADDRNOTAVAIL':
      return new RuntimeError(
        'START_FAILED',
        `Cannot listen on ${where}: ${host} is not an address of this machine; task addresses must lie in 127.0.0.0/8.`,
      );
    case 'EACCES':
      return new RuntimeError(
        'START_FAILED',
        `Cannot listen on ${where}: permission denied; run routemesh as root or grant it CAP_NET_BIND_SERVICE.`,
      );
    default: {
      const reason = err instanceof Error ? err.message : String(err);
      return new RuntimeError('START_FAILED', `Cannot listen on ${where}: ${reason}.`);
    }
  }
}
