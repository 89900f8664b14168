// node-http-proxy as most people first write it: `createProxyServer({ target })` and `proxy.web(req, res)`,
// nothing else. Without an agent it opens a new connection to the task for every request: the baseline
// the mesh's http mode (an agent per task, kept alive) is measured against.
import http from 'node:http';
import type net from 'node:net';
import httpProxy from 'http-proxy';

export interface NaiveProxy {
  url: string;
  close(): Promise<void>;
}

export async function startNaiveProxy(target: string, host: string): Promise<NaiveProxy> {
  const proxy = httpProxy.createProxyServer({ target });
  const server = http.createServer((req, res) => proxy.web(req, res, {}, () => {
    // Its one concession: a failed request gets a 502 rather than crashing the bench.
    if (!res.headersSent) res.writeHead(502);
    res.end();
  }));
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
