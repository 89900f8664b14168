// madvirus/simplenode:0.1: the tutorial's first app, a Node HTTP server on port 5000 that greets with
// its hostname. Version 0.2 (health checks, ?slow, ?stop) is SimpleNodeV02Image.

import http from 'node:http';
import { InProcessTask } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

export class SimpleNodeV01Image implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    const server = http.createServer((_req, res) => {
      task.log('request arrived.');
      res.write('Hello V0.1: ' + spec.hostname);
      res.end();
    });
    await task.serveHttp(server, 5000);
    return task;
  }
}
