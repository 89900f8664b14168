// POST /containers/{id}/attach, which the docker CLI sends as a connection upgrade (`Upgrade: tcp`): the
// daemon answers `101 UPGRADED` and the connection becomes the container's raw output, stdcopy-framed
// (no TTY), until the container exits. `docker run` attaches before it starts the container.
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { EngineContext } from './EngineContext.js';
import { API_VERSION, ApiError, ENGINE_VERSION, isTrue, statusOf } from './http.js';
import { requestTarget } from './Router.js';
import { notServedMessage } from './notServed.js';
import { refuseWebPage } from './webPageGuard.js';
import { frame } from './stdcopy.js';
import type { LogLine } from '../../runtime/index.js';

const ATTACH = /^\/containers\/([^/]+)\/attach$/;

function head(status: number, headers: Record<string, string | number>): string {
  const all = { 'Api-Version': API_VERSION, Server: `Docker/${ENGINE_VERSION} (linux)`, ...headers };
  return `HTTP/1.1 ${status} ${status === 101 ? 'UPGRADED' : STATUS_CODES[status]}\r\n${Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The handler of the engine API server's `upgrade` event: attach, or an error in Docker's shape. */
export function engineUpgrade(engine: EngineContext, transport: 'tcp' | 'unix'): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket) => {
    socket.on('error', () => socket.destroy());
    try {
      if (transport === 'tcp') refuseWebPage(req);
      const { path, query } = requestTarget(req);
      const match = ATTACH.exec(path);
      if (!match || req.method !== 'POST') throw new ApiError(404, notServedMessage(req.method ?? 'GET', `${path} (as a connection upgrade)`, []));
      const container = engine.containers.standalone(decodeURIComponent(match[1]!));
      const streams = { stdout: isTrue(query.get('stdout')), stderr: isTrue(query.get('stderr')) };
      if (isTrue(query.get('stdin'))) throw new ApiError(400, 'routemesh gives containers no stdin: attach without --stdin / -i');
      socket.write(head(101, { 'Content-Type': 'application/vnd.docker.multiplexed-stream', Connection: 'Upgrade', Upgrade: 'tcp' }));
      const write = (line: LogLine): void => {
        if (streams[line.stream] && !socket.writableEnded) socket.write(frame(line.stream, `${line.text}\n`));
      };
      if (isTrue(query.get('logs'))) for (const line of container.output()?.lines ?? []) write(line);
      container.attached();
      const stop = container.read(write, () => socket.end());
      socket.once('close', stop);
    } catch (error) {
      const { status, message } = statusOf(error);
      const body = JSON.stringify({ message });
      socket.end(head(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }) + body);
    }
  };
}
