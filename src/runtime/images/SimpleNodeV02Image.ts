// madvirus/simplenode:0.2 (also :latest): the tutorial's app.js, answer for answer, including its
// slow /health after ?slow=true and its exit(1) a second after ?stop=true. Timings come from the host.

import http from 'node:http';
import { InProcessTask } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

export class SimpleNodeV02Image implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    const { slowHealthMs, stopDelayMs } = host.simplenode;
    let slow = false;
    const server = http.createServer();
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      task.log('request arrived.');
      const query = queryOf(req.url ?? '/');
      if (query('stop') === 'true') {
        res.write('Process down: ' + spec.hostname);
        res.end();
        task.setTimer(() => task.exit(1), stopDelayMs);
      } else if (query('slow') === 'true') {
        slow = true;
        res.write('Health check slowdown');
        res.end();
      } else if (req.url === '/health') {
        if (slow) {
          task.setTimer(() => {
            res.write('SLOW');
            res.end();
          }, slowHealthMs);
        } else {
          res.write('OK');
          res.end();
        }
      } else {
        res.write('Hello V0.2: ' + spec.hostname);
        res.end();
      }
    });
    server.on('connection', () => task.log('Connected'));
    await task.serveHttp(server, 5000);
    return task;
  }
}

/**
 * app.js reads `url.parse(req.url, true).query`, where a repeated key becomes an array and so never
 * equals 'true'; this keeps that, without the deprecated parser.
 */
function queryOf(url: string): (key: string) => string | undefined {
  let params: URLSearchParams;
  try {
    params = new URL(url, 'http://localhost').searchParams;
  } catch {
    // url.parse never throws; a request-target WHATWG rejects simply has no query.
    params = new URLSearchParams();
  }
  return (key) => {
    const values = params.getAll(key);
    return values.length === 1 ? values[0] : undefined;
  };
}
