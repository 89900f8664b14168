// GET /routemesh/trace: this node's balancing decisions as they happen, one JSON record a line (`routemesh
// trace` reads every node's). `?service=NAME` keeps one service's. A reader that falls behind does not slow
// the mesh: past 1 MiB of records waiting for it, new ones are dropped, and once it catches up a `dropped`
// record says how many it missed.
import type { TraceRecord } from '../../mesh/index.js';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';

/** Records held for a reader that cannot take more now. */
const MAX_WAITING_BYTES = 1 << 20;

export function traceRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/routemesh\/trace$/, (r) => {
    const service = r.query.get('service') || undefined;
    const { res } = r;
    let waiting: string[] | undefined;
    let waitingBytes = 0;
    let dropped = 0;
    const send = (line: string): void => {
      if (!res.write(line) && !waiting) {
        waiting = [];
        res.once('drain', flush);
      }
    };
    const flush = (): void => {
      const lines = waiting ?? [];
      waiting = undefined;
      waitingBytes = 0;
      if (dropped) lines.push(`${JSON.stringify({ type: 'dropped', at: new Date().toISOString(), node: engine.hostname, count: dropped })}\n`);
      dropped = 0;
      for (const line of lines) send(line);
    };
    const record = (traced: TraceRecord): void => {
      const line = `${JSON.stringify(traced)}\n`;
      if (!waiting) return send(line);
      if (waitingBytes + line.length > MAX_WAITING_BYTES) {
        dropped++;
        return;
      }
      waiting.push(line);
      waitingBytes += line.length;
    };
    const stop = engine.meshTrace({ ...(service ? { service } : {}), record, end: () => res.end() });
    if (!stop) throw new ApiError(503, 'This node is not part of a swarm, so it balances nothing: "docker swarm init" or "docker swarm join" it first');
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    res.flushHeaders();
    res.once('close', stop);
    return undefined;
  });
}
