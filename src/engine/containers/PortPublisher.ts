// docker-proxy's part for a standalone container's `-p P:T`: a listener on the node's own address, port P,
// forwarding each connection to where the container really listens (its address, port T or the port the
// runtime moved T to). TCP only; a container on the host network publishes nothing (Docker discards -p there).
import net from 'node:net';
import { Pool, RoundRobin, TcpForwarder } from '../../lb/index.js';
import { ApiError } from '../api/http.js';

export interface PortRequest {
  /** The container's port, T. */
  targetPort: number;
  /** P; 0 picks a free one, as Docker does for `-p T`. */
  hostPort: number;
}

/** A port as it is published: the host port it got, the container's port, and where that really listens. */
export interface PublishedPort {
  hostPort: number;
  targetPort: number;
}

export class PortPublisher {
  readonly #servers: net.Server[] = [];
  readonly #sockets = new Set<net.Socket>();

  /**
   * Opens every listener or none: a port that cannot be opened closes those opened and refuses with
   * Docker's words. `listenPort(T)` says where the container serves its port T.
   */
  async open(nodeAddress: string, target: string, requests: readonly PortRequest[], listenPort: (targetPort: number) => number): Promise<PublishedPort[]> {
    const published: PublishedPort[] = [];
    const forwarder = new TcpForwarder({ maxAttempts: 1, connectTimeoutMs: 5000 });
    try {
      for (const { targetPort, hostPort } of requests) {
        const pool = new Pool();
        pool.set([{ id: `${target}:${targetPort}`, host: target, port: listenPort(targetPort), state: 'up' }]);
        const balancer = new RoundRobin();
        const server = net.createServer({ allowHalfOpen: true }, (socket) => {
          this.#sockets.add(socket);
          socket.once('close', () => this.#sockets.delete(socket));
          forwarder.forward(socket, pool, balancer);
        });
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host: nodeAddress, port: hostPort }, () => {
            server.off('error', reject);
            resolve();
          });
        }).catch((error: NodeJS.ErrnoException) => {
          const why = error.code === 'EADDRINUSE' ? 'address already in use'
            : error.code === 'EACCES' ? 'permission denied (ports below 1024 need root)' : error.message;
          throw new ApiError(500, `driver failed programming external connectivity on endpoint: Error starting userland proxy: listen tcp4 ${nodeAddress}:${hostPort}: bind: ${why}`);
        });
        this.#servers.push(server);
        published.push({ hostPort: (server.address() as net.AddressInfo).port, targetPort });
      }
      return published;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Stops listening and cuts the connections it forwards (the container is gone). */
  close(): void {
    for (const server of this.#servers.splice(0)) server.close();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}
