// One task's output as the engine API's log routes read it: from this node's runtime, or from the node
// that runs the task, over that node's engine API (GET /routemesh/tasks/{id}/output), as a Swarm manager
// gets its logs from the nodes.
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { LogLine, TaskOutput } from '../runtime/index.js';
import type { TaskOutputFeed, TaskOutputOptions } from './api/index.js';

/** How long a node has to send a task's last lines: a node that does not answer is said, not waited for. */
const NODE_ANSWER_MS = 3000;

/** Lines said before the reader follows are kept for it; a break before then is told when it does. */
class OutputFeed implements TaskOutputFeed {
  readonly lines: readonly LogLine[];
  #stop: () => void = () => {};
  #queued: LogLine[] = [];
  #broken: string | undefined;
  #reader: { onLine: (line: LogLine) => void; broken: (reason: string) => void } | undefined;
  #closed = false;

  constructor(lines: readonly LogLine[]) {
    this.lines = lines;
  }

  stopWith(stop: () => void): void {
    this.#stop = stop;
  }

  push(line: LogLine): void {
    if (this.#reader) this.#reader.onLine(line);
    else this.#queued.push(line);
  }

  break(reason: string): void {
    if (this.#closed || this.#broken !== undefined) return;
    this.#broken = reason;
    this.#reader?.broken(reason);
  }

  follow(onLine: (line: LogLine) => void, broken: (reason: string) => void): void {
    this.#reader = { onLine, broken };
    for (const line of this.#queued.splice(0)) onLine(line);
    if (this.#broken !== undefined) broken(this.#broken);
  }

  close(): void {
    this.#closed = true;
    this.#stop();
  }
}

function tailOf(lines: readonly LogLine[], tail: number | undefined): readonly LogLine[] {
  return tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail));
}

/** A task that ran in this node's runtime. */
export function localOutputFeed(output: TaskOutput, options: TaskOutputOptions): TaskOutputFeed {
  const feed = new OutputFeed(tailOf(output.lines, options.tail));
  if (options.follow) feed.stopWith(output.onLog((line) => feed.push(line)));
  return feed;
}

/**
 * A task on another node, read from `apiUrl` (that node's engine API), connecting from `localAddress`
 * (this node's). Undefined when that node has no output of it; rejects, saying why, when it cannot be read.
 */
export function remoteOutputFeed(apiUrl: string, path: string, localAddress: string, nodeName: string, options: TaskOutputOptions): Promise<TaskOutputFeed | undefined> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => reject(new Error(`node ${nodeName} did not send the logs of its tasks (${why}): is its process running? (start it again with routemesh node start)`));
    const request = http.get(`${apiUrl}${path}`, { agent: false, localAddress }, (res) => {
      if (res.statusCode === 404) {
        res.resume();
        clearTimeout(timer);
        resolve(undefined);
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        clearTimeout(timer);
        fail(`its engine API at ${apiUrl} answered ${res.statusCode}`);
        request.destroy();
        return;
      }
      let feed: OutputFeed | undefined;
      let closing = false;
      const take = (text: string): void => {
        if (feed) {
          feed.push(parsed(JSON.parse(text) as LogLine));
          return;
        }
        clearTimeout(timer);
        const first = JSON.parse(text) as { lines: LogLine[] };
        feed = new OutputFeed(first.lines.map(parsed));
        feed.stopWith(() => { closing = true; request.destroy(); });
        resolve(feed);
      };
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      lines.on('error', () => {}); // the response's own, told by its 'close'
      lines.on('line', (text) => {
        try {
          take(text);
        } catch (error) {
          fail(`its answer from ${apiUrl} is not a task's output: ${(error as Error).message}`);
          feed?.break(`node ${nodeName} sent something that is not a log line: its logs end here`);
          request.destroy();
        }
      });
      res.on('error', () => {}); // told by 'close'
      // A stream that ends without being closed here: the node's process went away.
      res.on('close', () => {
        if (!feed) fail(`its answer from ${apiUrl} ended before the lines`);
        else if (options.follow && !closing) feed.break(`node ${nodeName} stopped sending the logs of its tasks: its process is gone (start it again with routemesh node start)`);
      });
    });
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${NODE_ANSWER_MS / 1000} s`)), NODE_ANSWER_MS);
    request.on('error', (error) => {
      clearTimeout(timer);
      fail(`${apiUrl}: ${error.message}`);
    });
  });
}

/** A line as JSON carried it: its time a string again. */
function parsed(line: LogLine): LogLine {
  return { time: new Date(line.time), stream: line.stream, text: line.text };
}
