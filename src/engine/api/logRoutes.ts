// GET /services/{ref}/logs and /tasks/{ref}/logs: what `docker service logs [-f]` reads. The output of
// each task of the service (or the one task), read wherever it runs, in Docker's multiplexed framing (an
// 8-byte header per line: stream, then length), each line led by the details the docker CLI turns into
// `web.1.<task>@node2    | `. Not hijacked: a plain streamed 200.
import type { ServerResponse } from 'node:http';
import type { ApiRequest, Router } from './Router.js';
import type { EngineContext, TaskOutputFeed } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';
import { parseTail } from './taskOutputRoute.js';
import { frame } from './stdcopy.js';
import type { Manager, StoreChange, Task } from '../../swarm/index.js';
import type { LogLine } from '../../runtime/index.js';

interface LogOptions {
  stdout: boolean;
  stderr: boolean;
  details: boolean;
  timestamps: boolean;
  /** Lines per task from the end; undefined: all. */
  tail: number | undefined;
}

function logOptions(query: URLSearchParams): LogOptions {
  const options = {
    stdout: isTrue(query.get('stdout')), stderr: isTrue(query.get('stderr')),
    details: isTrue(query.get('details')), timestamps: isTrue(query.get('timestamps')), tail: parseTail(query),
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

/** Swarm's words when some tasks' logs cannot be read (their node is down, or does not answer). */
function incomplete(reasons: readonly string[]): string {
  return `warning: incomplete log stream. some logs could not be retrieved for the following reasons: ${reasons.join(', ')}`;
}

/**
 * Streams the output of the tasks `tasksNow` names (undefined once what they belong to is gone), wherever
 * each runs. Tasks whose node cannot be read end the stream with moby's error frame, once the others' lines are out.
 */
async function streamLogs(r: ApiRequest, engine: EngineContext, manager: Manager, tasksNow: () => readonly Task[] | undefined): Promise<void> {
  const options = logOptions(r.query);
  const follow = isTrue(r.query.get('follow'));
  r.res.on('error', () => {}); // a client gone mid-stream; 'close' ends the following
  r.res.writeHead(200, { 'content-type': 'application/vnd.docker.multiplexed-stream' });
  // Sent now, not with the first line: a follower of a quiet service must know it is connected.
  r.res.flushHeaders();

  // Each task's feed once opened; a task being opened, or whose node could not be read, is marked so.
  const feeds = new Map<string, TaskOutputFeed | 'opening' | 'unreadable'>();
  let done = false;
  const finish = (reasons: readonly string[] = []): void => {
    if (done) return;
    done = true;
    manager.store.off('change', onChange);
    for (const feed of feeds.values()) if (typeof feed !== 'string') feed.close();
    if (reasons.length) r.res.write(frame('systemerr', `Error grabbing logs: ${incomplete(reasons)}\n`));
    r.res.end();
  };
  const open = async (task: Task, tail: number | undefined): Promise<TaskOutputFeed | undefined> => {
    feeds.set(task.ID, 'opening');
    let feed: TaskOutputFeed | undefined;
    try {
      feed = await engine.taskOutput(task, { tail, follow });
    } catch (error) {
      feeds.set(task.ID, 'unreadable');
      throw error;
    }
    // None yet (not started): tried again when the task changes.
    if (!feed) feeds.delete(task.ID);
    else if (done) feed.close();
    else feeds.set(task.ID, feed);
    return done ? undefined : feed;
  };
  const followed = (feed: TaskOutputFeed, write: (line: LogLine) => void): void => feed.follow(write, (reason) => finish([reason]));

  // Following: tasks started from now on are followed too, until the client leaves or what they belong to goes.
  const since = new Date();
  const onChange = (change: StoreChange): void => {
    const tasks = tasksNow();
    if (!tasks) {
      finish();
      return;
    }
    if (change.kind !== 'task' || change.op !== 'put' || feeds.has(change.id)) return;
    const task = tasks.find((t) => t.ID === change.id);
    if (!task) return;
    open(task, undefined).then((feed) => {
      if (!feed) {
        // Not in its node's runtime yet: the change that puts it there may have come while we asked.
        if (!done && manager.store.task(task.ID)?.Version.Index !== task.Version.Index) onChange(change);
        return;
      }
      const write = writer(r.res, task, options);
      // Its lines said since the client began to follow are new to it.
      for (const line of feed.lines) if (line.time >= since) write(line);
      followed(feed, write);
    }, (error: Error) => finish([error.message]));
  };
  if (follow) {
    manager.store.on('change', onChange);
    r.res.once('close', () => finish());
  }

  // What each task has said so far, the last `tail` lines of each, in the order it was said.
  const tasks = tasksNow() ?? [];
  const opened = await Promise.allSettled(tasks.map((task) => open(task, options.tail)));
  if (done) return;
  const backlog: { line: LogLine; write: (line: LogLine) => void }[] = [];
  const reasons: string[] = [];
  const live: (() => void)[] = [];
  opened.forEach((result, i) => {
    if (result.status === 'rejected') {
      reasons.push((result.reason as Error).message);
      return;
    }
    const feed = result.value;
    if (!feed) return;
    const write = writer(r.res, tasks[i]!, options);
    for (const line of feed.lines) backlog.push({ line, write });
    live.push(() => followed(feed, write));
  });
  backlog.sort((a, b) => a.line.time.getTime() - b.line.time.getTime());
  for (const { line, write } of backlog) write(line);
  if (reasons.length || !follow) {
    finish(reasons);
    return;
  }
  for (const start of live) start();
}

export function logRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/services\/([^/]+)\/logs$/, async (r) => {
    const manager = engine.requireManager();
    const service = manager.resolveService(r.params[0]!);
    await streamLogs(r, engine, manager, () => manager.store.service(service.ID) ? manager.store.tasksOfService(service.ID) : undefined);
    return undefined;
  });

  // `docker service logs TASK`: one task's output.
  router.add('GET', /^\/tasks\/([^/]+)\/logs$/, async (r) => {
    const manager = engine.requireManager();
    const ref = r.params[0]!;
    const task = manager.store.task(ref) ?? manager.store.tasks().find((t) => t.ID.startsWith(ref));
    if (!task) throw new ApiError(404, `task ${ref} not found`);
    await streamLogs(r, engine, manager, () => {
      const now = manager.store.task(task.ID);
      return now && [now];
    });
    return undefined;
  });
}
