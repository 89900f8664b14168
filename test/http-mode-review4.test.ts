// A fourth review of http mode, after its answers began to leave in one write (1aa75da), its header maps
// became plain objects again (8d472ad) and a client that takes none of its answer got a send timeout
// (6360dd2): slow clients, early answers and header names, on real sockets.
// Addresses: 127.184.0.0/16 (the front on 127.184.0.1, tasks from 127.184.0.10).
import type net from 'node:net';
import t from 'tap';
import { waitFor } from './support/cluster.js';
import { httpFixtures, rawClient as rawClientWith } from './support/httpFront.js';

const FRONT = '127.184.0.1';

const { front, rawTask, settled } = httpFixtures(FRONT);

t.test('a client whose answer backed up while it was still sending its body is let go once it stops reading, not held for ever', async (t) => {
  let taskClosed = false;
  const task = await rawTask(t, '127.184.0.10', (_n, socket) => {
    socket.once('close', () => { taskClosed = true; });
    // Answered at once, before the body is in (as a task refusing an upload does).
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 33554432\r\n\r\n');
    socket.write(Buffer.alloc(32 * 1024 * 1024, 'x'));
  });
  const mesh = await front(t, '127.184.0.10', task.port, { headerTimeoutMs: 200 });
  mesh.server.keepAliveTimeoutMs = 300;
  const client = rawClientWith(t, mesh.port, { host: FRONT, allowHalfOpen: true });
  client.socket.pause(); // reads nothing, and stays
  client.socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nfirst');
  await waitFor('the mesh to hold answer bytes the client has not taken', () => (mesh.clients[0]?.writableLength ?? 0) > 0, 5000);
  client.socket.write('-last'); // the body is whole: from now on only the answer is waited for
  await waitFor('the task to get the whole body', () => task.received().endsWith('first-last'), 3000);
  const meshSide = mesh.clients[0]!;
  const started = Date.now();
  await waitFor('the mesh to let the client go', () => meshSide.destroyed, 5000);
  t.ok(Date.now() - started < 3000, 'within a few looks past the 300 ms idle timeout');
  await waitFor('the task\'s request to go with it', () => taskClosed && mesh.backend().active === 0, 3000);
  await settled(mesh);
});
