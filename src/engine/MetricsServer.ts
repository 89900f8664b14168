// A node's Prometheus endpoint, http://<node addr>:9323/metrics (Docker's metrics-addr convention): the
// node's own registry, and whatever else this node serves beside it (the process's metrics, on one node
// of a process only, and its DNS server's, which count only while it holds the host's DNS).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { serverTimeouts } from './httpTimeouts.js';

/** Node's default keepAliveTimeout. */
const NODE_KEEP_ALIVE_MS = 5000;

export class MetricsServer {
  readonly #server: http.Server;
  readonly #address: string;
  #port: number;

  constructor(address: string, port: number, registries: () => readonly Registry[], requestHeadTimeoutMs: number) {
    this.#address = address;
    this.#port = port;
    // Node's keep-alive between scrapes (5 s); Prometheus scrapes each 15 s, and reconnects.
    this.#server = http.createServer(serverTimeouts(requestHeadTimeoutMs, NODE_KEEP_ALIVE_MS), (request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n');
        return;
      }
      if (path !== '/metrics') {
        response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`nothing at ${path}: the metrics are at /metrics\n`);
        return;
      }
      const all = registries();
      Promise.all(all.map((registry) => registry.metrics())).then((texts) => {
        response.writeHead(200, { 'content-type': all[0]?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' });
        response.end(texts.join(''));
      }, (error: Error) => {
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics could not be collected: ${error.message}\n`);
      });
    });
  }

  get listening(): boolean {
    return this.#server.listening;
  }

  get url(): string {
    return `http://${this.#address}:${this.#port}/metrics`;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.#address, port: this.#port }, () => {
        this.#server.off('error', reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
