// The dashboard, on every manager's engine API: its page under /ui/ (files of the package's ui/ folder, no
// build step, nothing fetched from elsewhere), and what it draws: /ui/state (a snapshot, JSON) and
// /ui/events, server-sent events: a `snapshot`, then a `changes` event per batch, each with its id, so
// that the browser's EventSource resumes after the last one it had (Last-Event-ID) when its stream breaks.
import { readFile } from 'node:fs/promises';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';
import type { DashboardBatch, DashboardFeed, DashboardSnapshot } from '../DashboardFeed.js';

const UI_DIRECTORY = new URL('../../../ui/', import.meta.url);
const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
/**
 * A page this far behind (bytes it has not read) when the next message comes is cut off; its EventSource
 * comes back and resumes. One that reads all it is sent is never cut off, however large a message.
 */
const MAX_UNREAD_BYTES = 8 << 20;
/** A comment down an idle stream now and then, so that nothing between takes it for dead. */
const KEEP_ALIVE_MS = 15_000;
/** How soon a browser tries again after its stream broke. */
const RETRY_MS = 1000;

export function dashboardRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/ui$/, (r) => {
    r.res.writeHead(301, { location: '/ui/' }).end();
    return undefined;
  });

  router.add('GET', /^\/ui\/(index\.html|app\.js|style\.css)?$/, async (r) => {
    const name = r.params[0] || 'index.html';
    const body = await readFile(new URL(name, UI_DIRECTORY));
    r.res.writeHead(200, {
      'content-type': FILES[name]!,
      'content-length': body.length,
      'cache-control': 'no-cache',
      // Its own files and its own events, nothing else: no inline script, no other site, no frame around it.
      'content-security-policy': "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
      'x-content-type-options': 'nosniff',
    });
    r.res.end(body);
    return undefined;
  });

  router.add('GET', /^\/ui\/state$/, (r) => ({ status: 200, body: feedOf(engine, r.req.socket.localPort).snapshot() }));

  router.add('GET', /^\/ui\/events$/, (r) => {
    const { req, res } = r;
    const feed = feedOf(engine, req.socket.localPort);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.socket?.setNoDelay(true);
    const send = (event: string, message: DashboardSnapshot | DashboardBatch): void => {
      if (res.destroyed) return;
      if (res.writableLength > MAX_UNREAD_BYTES) {
        res.destroy();
        return;
      }
      res.write(`event: ${event}\nid: ${message.id}\ndata: ${serialized(message)}\n\n`);
    };
    res.write(`retry: ${RETRY_MS}\n\n`);
    const last = req.headers['last-event-id'];
    const missed = typeof last === 'string' ? feed.since(last) : undefined;
    if (missed) for (const batch of missed) send('changes', batch);
    else send('snapshot', feed.snapshot());
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    const stop = feed.follow({ batch: (batch) => send('changes', batch), end: () => res.end() });
    res.once('close', () => {
      clearInterval(keepAlive);
      stop();
    });
    return undefined;
  });
}

/** Each batch as JSON, made once however many pages follow. */
const texts = new WeakMap<object, string>();
function serialized(message: DashboardSnapshot | DashboardBatch): string {
  let text = texts.get(message);
  if (text === undefined) texts.set(message, (text = JSON.stringify(message)));
  return text;
}

/** This manager's feed; elsewhere a 503 that says where the dashboard is (nodes share the API port). */
function feedOf(engine: EngineContext, port: number | undefined): DashboardFeed {
  const feed = engine.dashboard();
  if (!feed) {
    const managers = engine.remoteManagers().map((m) => `http://${m.Addr.replace(/:\d+$/, '')}:${port ?? 2375}/ui/`);
    throw new ApiError(503, engine.swarmState() === 'active/worker'
      ? `the dashboard is served by the swarm's managers${managers.length ? `: ${managers.join(', ')}` : ''}`
      : 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
  }
  return feed;
}
