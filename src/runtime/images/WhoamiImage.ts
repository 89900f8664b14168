// traefik/whoami: an HTTP server on port 80 (or --port / WHOAMI_PORT_NUMBER) that describes the task and
// echoes the request back, byte for byte as the Go original prints it; plus its /health endpoint.

import http from 'node:http';
import { InProcessTask } from '../InProcessTask.js';
import type { ProxiedSocket } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

/** Headers Go's Request.Write prints itself, ahead of the sorted rest (reqWriteExcludeHeader). */
const WRITTEN_FIRST = new Set(['Host', 'User-Agent', 'Content-Length', 'Transfer-Encoding', 'Trailer']);

export class WhoamiImage implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    let healthStatus = 200;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const path = (req.url ?? '/').split('?')[0];
        if (path === '/health') {
          if (req.method === 'POST') {
            const status = Number(body.toString().trim());
            if (!Number.isInteger(status) || status < 100 || status > 999) {
              res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('invalid status code\n');
              return;
            }
            healthStatus = status;
            task.log(`Update health check status code [${status}]`);
          }
          res.writeHead(req.method === 'POST' ? 200 : healthStatus).end();
          return;
        }
        const answer = () => {
          res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(Buffer.concat([Buffer.from(describe(spec, req, body.length)), body]));
        };
        const wait = durationMs(new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('wait'));
        if (wait > 0) task.setTimer(answer, wait);
        else answer();
      });
    });
    // Like a service behind a PROXY-speaking balancer: the header, if any, names the client to report.
    const port = await task.serveHttp(server, portOf(spec), { acceptProxyHeader: true });
    task.log(`${goLogTime(new Date())} Starting up on port ${port}`, 'stderr');
    return task;
  }
}

/** whoami's answer: Fprintln lines (plain \n), then the request as Go's Request.Write puts it (\r\n). */
function describe(spec: TaskRunSpec, req: http.IncomingMessage, bodyLength: number): string {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const key = canonicalKey(req.rawHeaders[i]!);
    const values = headers.get(key) ?? [];
    values.push(req.rawHeaders[i + 1]!.trim());
    headers.set(key, values);
  }
  const lines = [`${req.method} ${req.url} HTTP/1.1`, `Host: ${headers.get('Host')?.[0] ?? ''}`];
  const userAgent = headers.has('User-Agent') ? headers.get('User-Agent')![0]! : 'Go-http-client/1.1';
  if (userAgent !== '') lines.push(`User-Agent: ${userAgent}`);
  // Go's shouldSendContentLength: always, except for a bodiless GET or HEAD.
  if (bodyLength > 0 || (req.method !== 'GET' && req.method !== 'HEAD')) lines.push(`Content-Length: ${bodyLength}`);
  for (const key of [...headers.keys()].filter((k) => !WRITTEN_FIRST.has(k)).sort()) {
    for (const value of headers.get(key)!) lines.push(`${key}: ${value}`);
  }
  const socket: ProxiedSocket = req.socket;
  const client = socket.proxySource ?? { address: socket.remoteAddress, port: socket.remotePort };
  return (
    `Hostname: ${spec.hostname}\nIP: 127.0.0.1\nIP: ${spec.address}\n` +
    (spec.networkAddresses ?? []).map((n) => `IP: ${n.address}\n`).join('') +
    `RemoteAddr: ${client.address}:${client.port}\n` +
    lines.map((line) => `${line}\r\n`).join('') +
    '\r\n'
  );
}

/** Go's textproto.CanonicalMIMEHeaderKey: `x-forwarded-for` → `X-Forwarded-For`; odd keys stay as sent. */
function canonicalKey(key: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(key)) return key;
  return key.toLowerCase().replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
}

function portOf(spec: TaskRunSpec): number {
  const args = spec.args ?? [];
  for (const [i, arg] of args.entries()) {
    const value = arg === '--port' || arg === '-port' ? args[i + 1] : /^--?port=(.*)$/.exec(arg)?.[1];
    if (value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  const fromEnv = (spec.env ?? []).find((e) => e.startsWith('WHOAMI_PORT_NUMBER='))?.split('=')[1];
  return fromEnv && /^\d+$/.test(fromEnv) ? Number(fromEnv) : 80;
}

/** `?wait=` takes a Go duration; a single-unit one (`300ms`, `2s`) covers what people type. */
function durationMs(text: string | null): number {
  const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(text ?? '');
  if (!m) return 0;
  const scale: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };
  return Number(m[1]) * scale[m[2]!]!;
}

/** Go's log package prefix, `2006/01/02 15:04:05`, in UTC as a container's clock is. */
function goLogTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/-/g, '/').replace('T', ' ');
}
