// The long answers about one container: `docker logs [-f]` (stdcopy frames), `wait` (the exit code, once
// it comes: `docker run` waits so) and `docker stats` (StatsJSON, once or every interval).
import type { ServerResponse } from 'node:http';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';
import { parseTail } from './taskOutputRoute.js';
import { frame } from './stdcopy.js';
import type { LogLine } from '../../runtime/index.js';
import { StandaloneContainer, sampleStats, statsJson } from '../containers/index.js';
import type { ContainerFacts, NodeContainers, WaitCondition } from '../containers/index.js';

/** How often a task container's follower looks whether the task still runs (a standalone one is told). */
const TASK_FOLLOW_CHECK_MS = 1000;

/** `since`/`until`: Unix seconds, with a fraction, as the docker CLI sends them; 0 or absent: no bound. */
function timeBound(query: URLSearchParams, key: string): number | undefined {
  const raw = query.get(key);
  if (raw === null || raw === '' || raw === '0') return undefined;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds)) throw new ApiError(400, `invalid ${key} "${raw}": Unix seconds`);
  return seconds * 1000;
}

function lineWriter(res: ServerResponse, query: URLSearchParams): (line: LogLine) => void {
  const streams = { stdout: isTrue(query.get('stdout')), stderr: isTrue(query.get('stderr')) };
  if (!streams.stdout && !streams.stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  const timestamps = isTrue(query.get('timestamps'));
  const since = timeBound(query, 'since');
  const until = timeBound(query, 'until');
  return (line) => {
    const at = line.time.getTime();
    if (!streams[line.stream] || (since !== undefined && at < since) || (until !== undefined && at > until)) return;
    res.write(frame(line.stream, `${timestamps ? `${line.time.toISOString()} ` : ''}${line.text}\n`));
  };
}

/** Follows a container's new lines until it stops running or the client leaves. */
function follow(containers: NodeContainers, c: ContainerFacts, write: (line: LogLine) => void, res: ServerResponse): void {
  let stop: () => void;
  const end = (): void => {
    stop();
    res.end();
  };
  if (c instanceof StandaloneContainer) {
    stop = c.read(write, end);
  } else {
    const unsubscribe = c.output()?.onLog(write) ?? (() => {});
    const timer = setInterval(() => {
      const now = containers.list().find((x) => x.id === c.id);
      if (now?.state !== 'running') end();
    }, TASK_FOLLOW_CHECK_MS);
    stop = () => {
      clearInterval(timer);
      unsubscribe();
    };
  }
  res.once('close', () => stop());
}

const CONDITIONS: readonly WaitCondition[] = ['not-running', 'next-exit', 'removed'];

export function containerStreamRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/containers\/([^/]+)\/logs$/, (r) => {
    const c = engine.containers.find(r.params[0]!);
    const write = lineWriter(r.res, r.query);
    const tail = parseTail(r.query);
    r.res.on('error', () => {});
    r.res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    r.res.flushHeaders();
    // Read and subscribed in one turn: no line falls between the backlog and the following.
    const lines = c.output()?.lines ?? [];
    for (const line of tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail))) write(line);
    if (isTrue(r.query.get('follow')) && c.state === 'running') follow(engine.containers, c, write, r.res);
    else r.res.end();
    return undefined;
  });

  router.add('POST', /^\/containers\/([^/]+)\/wait$/, (r) => {
    const condition = (r.query.get('condition') || 'not-running') as WaitCondition;
    if (!CONDITIONS.includes(condition)) throw new ApiError(400, `invalid condition: "${condition}": one of not-running, next-exit, removed`);
    const c = engine.containers.find(r.params[0]!);
    if (!(c instanceof StandaloneContainer)) {
      throw new ApiError(409, `container ${c.name} is a task, which the swarm runs and restarts: wait on the service (docker service ps) instead`);
    }
    // The status goes out at once, the body once the condition holds (the docker CLI waits on it).
    r.res.on('error', () => {});
    r.res.writeHead(200, { 'content-type': 'application/json' });
    r.res.flushHeaders();
    void c.wait(condition).then((result) => r.res.end(`${JSON.stringify(result)}\n`));
    return undefined;
  });

  router.add('GET', /^\/containers\/([^/]+)\/stats$/, async (r) => {
    const containers = engine.containers;
    const first = containers.find(r.params[0]!);
    const stream = r.query.get('stream') === null || isTrue(r.query.get('stream'));
    const oneShot = isTrue(r.query.get('one-shot'));
    r.res.on('error', () => {});
    let previous = await sampleStats(first);
    if (!stream) {
      if (oneShot || first.state !== 'running') return { status: 200, body: statsJson(first, previous, undefined) };
      // As Docker's: a reading and the one an interval before it, so the CPU share can be computed.
      await new Promise((resolve) => setTimeout(resolve, containers.statsIntervalMs));
      const now = containers.list().find((c) => c.id === first.id) ?? first;
      return { status: 200, body: statsJson(now, await sampleStats(now), previous) };
    }
    r.res.writeHead(200, { 'content-type': 'application/json' });
    r.res.write(`${JSON.stringify(statsJson(first, previous, undefined))}\n`);
    const timer = setInterval(() => {
      const now = containers.list().find((c) => c.id === first.id);
      if (!now) {
        clearInterval(timer);
        r.res.end();
        return;
      }
      void sampleStats(now).then((current) => {
        if (r.res.writableEnded) return;
        r.res.write(`${JSON.stringify(statsJson(now, current, previous))}\n`);
        previous = current;
      });
    }, containers.statsIntervalMs);
    r.res.once('close', () => clearInterval(timer));
    return undefined;
  });
}
