// GET /routemesh/tasks/{id}/output: routemesh's own, what a manager's log routes ask of the node that
// runs a task (its runtime holds the output, as a Swarm node's daemon holds its containers' logs). NDJSON:
// first `{"lines":[...]}`, the task's last lines; then, following, one `{time,stream,text}` a line.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';

export function taskOutputPath(taskId: string, options: { tail: number | undefined; follow: boolean }): string {
  const query = new URLSearchParams({ tail: options.tail === undefined ? 'all' : String(options.tail) });
  if (options.follow) query.set('follow', '1');
  return `/routemesh/tasks/${encodeURIComponent(taskId)}/output?${query}`;
}

/** `tail`: a count of lines from the end, or `all` (undefined). */
export function parseTail(query: URLSearchParams): number | undefined {
  const tailText = query.get('tail') ?? 'all';
  const tail = tailText === 'all' ? undefined : Number(tailText);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
    throw new ApiError(400, `invalid tail "${tailText}": a number of lines, or all`);
  }
  return tail;
}

export function taskOutputRoute(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/routemesh\/tasks\/([^/]+)\/output$/, (r) => {
    const taskId = r.params[0]!;
    const tail = parseTail(r.query);
    const output = engine.localTaskOutput(taskId);
    if (!output) throw new ApiError(404, `task ${taskId} has no output on ${engine.hostname}: it has not started here, or it ended long ago`);
    r.res.on('error', () => {}); // a reader gone mid-stream; 'close' ends the following
    r.res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const lines = output.lines;
    r.res.write(`${JSON.stringify({ lines: tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail)) })}\n`);
    if (!isTrue(r.query.get('follow'))) {
      r.res.end();
      return undefined;
    }
    // Subscribed in the same turn as the lines were read: no line falls between them.
    const unsubscribe = output.onLog((line) => r.res.write(`${JSON.stringify(line)}\n`));
    r.res.once('close', unsubscribe);
    return undefined;
  });
}
