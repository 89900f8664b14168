// A scenario's load: requests (or datagrams) at a steady rate through one node's published port, each
// timed, and each failure kept with why. HTTP over a new connection each, or kept alive over one
// connection (what a browser or a connection pool does, and what pins Swarm's L4 balancing to one task);
// UDP as one flow (one client port), each datagram waiting for its echo.
import dgram from 'node:dgram';
import http from 'node:http';
import type { LoadDecl } from './scenarioFile.js';

export interface LoadResult {
  sent: number;
  failed: number;
  /** Why requests failed, and how many for each reason. */
  failures: Map<string, number>;
  /** When the first and the last failed request were sent, from the scenario's start (ms). */
  failedBetween?: [number, number];
  /** Milliseconds of each answered request. */
  latencies: number[];
  /** Who answered (whoami's `Hostname:`), and how often: what a client behind the mesh sees. */
  answeredBy: Map<string, number>;
}

/** Requests issued per tick are what the rate owes by then: late ticks catch up, none run ahead. */
const TICK_MS = 10;

export async function runLoad(load: LoadDecl, address: string, port: number): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, failed: 0, failures: new Map(), latencies: [], answeredBy: new Map() };
  const started = performance.now();
  const failed = (why: string, sentAt: number): void => {
    result.failed++;
    result.failures.set(why, (result.failures.get(why) ?? 0) + 1);
    const at = Math.round(load.atMs + sentAt - started);
    result.failedBetween = [result.failedBetween?.[0] ?? at, at];
  };
  const send = load.connection === 'flow' ? udpFlow(address, port, load.timeoutMs, result, failed) : httpSender(load, address, port, result, failed);
  const inFlight = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(Math.floor((elapsed / 1000) * load.rate), Math.floor((load.durationMs / 1000) * load.rate));
      while (result.sent < due) {
        result.sent++;
        const request = send.request();
        inFlight.add(request);
        void request.then(() => inFlight.delete(request));
      }
      if (elapsed >= load.durationMs) {
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(inFlight);
  send.close();
  return result;
}

interface Sender {
  request(): Promise<void>;
  close(): void;
}

function httpSender(load: LoadDecl, address: string, port: number, result: LoadResult, failed: (why: string, sentAt: number) => void): Sender {
  // Kept alive: one connection, as one browser tab or one pooled client holds.
  const agent = load.connection === 'keep-alive' ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
  return {
    request: () => new Promise<void>((resolve) => {
      const started = performance.now();
      const req = http.get({
        host: address, port, path: '/', timeout: load.timeoutMs,
        ...(agent ? { agent } : { agent: false, headers: { Connection: 'close' } }),
      }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => { if (body.length < 4096) body += chunk; });
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 500) failed(`HTTP ${res.statusCode}`, started);
          else {
            result.latencies.push(performance.now() - started);
            const host = /^Hostname: (.+)$/m.exec(body)?.[1]?.trim();
            if (host) result.answeredBy.set(host, (result.answeredBy.get(host) ?? 0) + 1);
          }
          resolve();
        });
        res.on('error', (error) => { failed(error.message, started); resolve(); });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${load.timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) => {
        failed(error.code ?? error.message, started);
        resolve();
      });
    }),
    close: () => agent?.destroy(),
  };
}

function udpFlow(address: string, port: number, timeoutMs: number, result: LoadResult, failed: (why: string, sentAt: number) => void): Sender {
  const socket = dgram.createSocket('udp4');
  socket.bind({ address: '127.0.0.1', port: 0 });
  const waiting = new Map<string, { started: number; done: () => void }>();
  let next = 0;
  socket.on('message', (message) => {
    const wait = waiting.get(String(message));
    if (!wait) return; // a duplicate, or an answer past its time
    waiting.delete(String(message));
    result.latencies.push(performance.now() - wait.started);
    wait.done();
  });
  return {
    request: () => new Promise<void>((resolve) => {
      const id = `datagram ${next++}`;
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        waiting.delete(id);
        failed(`no echo within ${timeoutMs} ms`, sentAt);
        resolve();
      }, timeoutMs);
      waiting.set(id, { started: sentAt, done: () => { clearTimeout(timer); resolve(); } });
      socket.send(id, port, address);
    }),
    close: () => socket.close(),
  };
}
