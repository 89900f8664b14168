// routemesh/echo: sends back whatever arrives, on every target port of the service (TCP streams and
// UDP datagrams alike), or on port 7 (the echo service) when the service names none.

import net from 'node:net';
import { InProcessTask } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

export class EchoImage implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    const ports = spec.ports.length > 0 ? spec.ports : [{ protocol: 'tcp' as const, targetPort: 7 }];
    for (const { protocol, targetPort } of ports) {
      if (protocol === 'udp') {
        const port = await task.serveUdp(targetPort, (socket, msg, from) => socket.send(msg, from.port, from.address));
        task.log(`echo: listening on ${spec.address}:${port}/udp`);
      } else {
        const server = net.createServer((socket) => {
          socket.on('error', () => socket.destroy());
          socket.pipe(socket);
        });
        const port = await task.serveTcp(server, targetPort);
        task.log(`echo: listening on ${spec.address}:${port}/tcp`);
      }
    }
    return task;
  }
}
