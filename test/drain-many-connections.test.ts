// A built-in image stopping with many kept-alive connections, each with a request in flight: every
// request is answered (with `Connection: close`) and every connection then closed with a FIN. Each
// answer's end checks only its own connection for idleness: how often the task's connections' byte counts
// are read while it drains is counted, and stays linear in the connections (a scan of all of them per
// answer, as before, made a drain of N connections cost N^2 and stall the node's event loop).
// Addresses: 127.72.0.0/16.
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { Runtime } from '../src/runtime/index.js';
import { deadline, until } from './support/dns.js';

const TASK = '127.72.0.2';
const CLIENT = '127.72.255.250';
const CONNECTIONS = 400;

interface Client {
  text: string;
  how?: string;
  closed: Promise<void>;
}

function connect(t: Test, request: string): Client {
  const socket = net.connect({ host: TASK, port: 5000, localAddress: CLIENT });
  t.teardown(() => { socket.destroy(); });
  socket.setEncoding('latin1');
  const client: Client = { text: '', closed: new Promise((resolve) => socket.once('close', () => resolve())) };
  socket.on('data', (chunk: string) => { client.text += chunk; });
  socket.on('end', () => { client.how ??= 'FIN'; });
  socket.on('error', (e: NodeJS.ErrnoException) => { client.how = e.code ?? e.message; });
  socket.write(request);
  return client;
}

/** Counts reads of `bytesRead` on the sockets servers accept from now on, while `counting` is set. */
function countBytesRead(t: Test): { reads: number; counting: boolean } {
  const count = { reads: 0, counting: false };
  const prototype = net.Server.prototype as unknown as { emit(event: string | symbol, ...args: unknown[]): boolean };
  const own = Object.hasOwn(prototype, 'emit');
  const emit = prototype.emit;
  const bytesRead = Object.getOwnPropertyDescriptor(net.Socket.prototype, 'bytesRead')!;
  prototype.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'connection' && args[0] instanceof net.Socket) {
      Object.defineProperty(args[0], 'bytesRead', { get(this: net.Socket) { if (count.counting) count.reads++; return bytesRead.get!.call(this); } });
    }
    return emit.call(this, event, ...args);
  };
  t.teardown(() => { if (own) prototype.emit = emit; else Reflect.deleteProperty(prototype, 'emit'); });
  return count;
}

t.test('a stopping task answers every in-flight request on many kept-alive connections, then closes each with a FIN', async (t) => {
  const runtime = new Runtime({ simplenode: { slowHealthMs: 2000 } });
  const task = await runtime.start({
    taskId: 'd1r2a3', taskName: 'web.1.d1r2a3', slot: 1, hostname: 'drainhost', address: TASK,
    image: 'madvirus/simplenode:0.2', ports: [{ protocol: 'tcp', targetPort: 5000 }],
  });
  t.teardown(() => task.stop(0));
  let arrived = 0;
  t.teardown(task.onLog((line) => { if (line.text === 'request arrived.') arrived++; }));
  const count = countBytesRead(t);

  const slow = connect(t, 'GET /?slow=true HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  await deadline('the slow switch to close', slow.closed);
  const clients = Array.from({ length: CONNECTIONS }, () => connect(t, 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
  await until('every request to arrive', () => arrived === CONNECTIONS + 1, 20_000);

  count.counting = true;
  task.fence?.();
  const stopped = task.stop(60_000);
  t.equal(await deadline('the task to stop', stopped, 30_000), 0, 'the task stops gracefully, with code 0');
  await deadline('every connection to close', Promise.all(clients.map((c) => c.closed)), 10_000);
  count.counting = false;

  const answered = clients.filter((c) => /^HTTP\/1\.1 200 OK\r\n/.test(c.text) && /\r\nConnection: close\r\n/i.test(c.text) && /\r\n\r\n(4\r\n)?SLOW/.test(c.text));
  t.equal(answered.length, CONNECTIONS, 'every request is answered SLOW, with Connection: close');
  t.same(clients.filter((c) => c.how !== 'FIN').map((c) => c.how), [], 'every connection ends with a FIN, none with a reset');
  t.ok(count.reads <= 10 * CONNECTIONS, `connections' byte counts are read ${count.reads} times for ${CONNECTIONS} connections: linear, not one scan per answer`);
});
