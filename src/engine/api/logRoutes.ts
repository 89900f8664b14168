// GET /services/{ref}/logs: what `docker service logs [-f]` reads. The output of each task of the service,
// in Docker's multiplexed framing (an 8-byte header per line: stream, then length), each line led by the
// details the docker CLI turns into `web.1.<task>@node2    | `. Not hijacked: a plain streamed 200.
import type { ServerResponse } from 'node:http';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';
import type { Task } from '../../swarm/index.js';
import type { LogLine } from '../../runtime/index.js';

const STREAM = { stdout: 1, stderr: 2 } as const;

/** One stdcopy frame: [stream, 0, 0, 0, length (big-endian u32)] and the payload. */
function frame(stream: LogLine['stream'], payload: string): Buffer {
  const body = Buffer.from(payload, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = STREAM[stream];
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  details: boolean;
  timestamps: boolean;
  /** Lines per task from the end; undefined: all. */
  tail: number | undefined;
}

function logOptions(query: URLSearchParams): LogOptions {
  const tailText = query.get('tail') ?? 'all';
  const tail = tailText === 'all' ? undefined : Number(tailText);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) {
    throw new ApiError(400, `invalid tail "${tailText}": a number of lines, or all`);
  }
  const options = {
    stdout: isTrue(query.get('stdout')), stderr: isTrue(query.get('stderr')),
    details: isTrue(query.get('details')), timestamps: isTrue(query.get('timestamps')), tail,
  };
  if (!options.stdout && !options.stderr) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  return options;
}

/** Writes one task's line as a frame, in the form the options ask for. */
function writer(res: ServerResponse, task: Task, options: LogOptions): (line: LogLine) => void {
  // The keys sorted, as Docker writes them; the CLI needs all three to name the line's task.
  const details = `com.docker.swarm.node.id=${task.NodeID},com.docker.swarm.service.id=${task.ServiceID},com.docker.swarm.task.id=${task.ID} `;
  return (line) => {
    if (!options[line.stream]) return;
    // The timestamp goes first, then the details: the order the docker CLI splits them in.
    const text = `${options.timestamps ? `${line.time.toISOString()} ` : ''}${options.details ? details : ''}${line.text}\n`;
    res.write(frame(line.stream, text));
  };
}

export function logRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/services\/([^/]+)\/logs$/, (r) => {
    const manager = engine.requireManager();
    const service = manager.resolveService(r.params[0]!);
    const options = logOptions(r.query);
    const follow = isTrue(r.query.get('follow'));
    r.res.on('error', () => {}); // a client gone mid-stream; 'close' ends the following
    r.res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
    // Sent now, not with the first line: a follower of a quiet service must know it is connected.
    r.res.flushHeaders();

    // What each task has said so far, the last `tail` lines of each, in the order it was said.
    const backlog: { line: LogLine; write: (line: LogLine) => void }[] = [];
    const seen = new Set<string>();
    const unsubscribes: (() => void)[] = [];
    const take = (task: Task, withBacklog: boolean): void => {
      const output = engine.taskOutput(task.ID);
      if (!output || seen.has(task.ID)) return;
      seen.add(task.ID);
      const write = writer(r.res, task, options);
      if (withBacklog) {
        const lines = output.lines;
        for (const line of options.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - options.tail))) backlog.push({ line, write });
      }
      if (follow) unsubscribes.push(output.onLog(write));
    };
    for (const task of manager.store.tasksOfService(service.ID)) take(task, true);
    backlog.sort((a, b) => a.line.time.getTime() - b.line.time.getTime());
    for (const { line, write } of backlog) write(line);
    if (!follow) {
      r.res.end();
      return undefined;
    }
    // Following: tasks started from now on are followed too, until the client leaves or the service goes.
    const onChange = (): void => {
      if (!manager.store.service(service.ID)) {
        r.res.end();
        return;
      }
      for (const task of manager.store.tasksOfService(service.ID)) take(task, false);
    };
    manager.store.on('change', onChange);
    r.res.once('close', () => {
      manager.store.off('change', onChange);
      for (const unsubscribe of unsubscribes) unsubscribe();
    });
    return undefined;
  });
}
