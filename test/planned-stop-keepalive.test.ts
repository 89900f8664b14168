// HTTP/1.1's idle-close race on a planned stop, in tcp mode (where no balancer can retry for the client):
// a kept-alive client whose task is scaled away asks again during the fence, or its next request is on
// its way as the stop comes. A built-in image answers it and says `Connection: close`, then closes with
// a FIN; never a reset, never a request lost. Both ways a built-in image serves HTTP are checked: whoami
// (behind its PROXY header reader) and simplenode (a plain http.Server).
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { deadline } from './support/dns.js';
import { hostnameOf } from './support/net.js';

const BLOCK = testBlock(69); // node 127.69.0.1, tasks 127.70/16, VIPs 127.71/16

/** One kept-alive client connection, read as latin1 text; how it ended is kept (a reset is an error). */
function keptAlive(t: Test, host: string, port: number) {
  const socket = net.connect({ host, port });
  t.teardown(() => { socket.destroy(); });
  socket.setEncoding('latin1');
  let text = '';
  let ended = false;
  let error: string | undefined;
  socket.on('data', (chunk: string) => { text += chunk; });
  socket.on('end', () => { ended = true; });
  socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    get text() { return text; },
    /** The connection closed, and how: `FIN` (cleanly, after all its answers) or the error it met. */
    async end(): Promise<string> {
      await deadline('the connection to close', closed, 15_000);
      return error ?? (ended ? 'FIN' : 'closed without a FIN');
    },
    /** Sends `request` and resolves with the head and body of the answer it gets. */
    async ask(request: string): Promise<{ head: string; body: string }> {
      const start = text.length;
      socket.write(request);
      return waitFor('an answer', () => answerIn(text.slice(start)));
    },
  };
}

/** The first whole answer in `text`: its body framed by Content-Length, or chunked (simplenode writes no length). */
function answerIn(text: string): { head: string; body: string } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = text.slice(0, end);
  let rest = text.slice(end + 4);
  if (!/^transfer-encoding:\s*chunked/im.test(head)) {
    const length = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
    return rest.length < length ? undefined : { head, body: rest.slice(0, length) };
  }
  let body = '';
  for (;;) {
    const line = rest.indexOf('\r\n');
    if (line < 0) return undefined;
    const size = parseInt(rest.slice(0, line), 16);
    if (rest.length < line + 2 + size + 2) return undefined;
    if (size === 0) return { head, body };
    body += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
}

const GET = 'GET / HTTP/1.1\r\nHost: keep\r\n\r\n';

/** Connects to `address:port` directly: refused once the task's listener has closed (its stop has begun). */
function refused(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect({ host: address, port });
    probe.once('connect', () => { probe.destroy(); resolve(false); });
    probe.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

/** Each image names the task in its answer: whoami as `Hostname: <name>`, simplenode as `Hello V0.2: <name>`. */
const IMAGES = [
  { image: 'traefik/whoami', port: 80, hostname: hostnameOf },
  { image: 'madvirus/simplenode:0.2', port: 5000, hostname: (body: string) => body.replace('Hello V0.2: ', '').trim() },
];

for (const { image, port, hostname } of IMAGES) {
  t.test(`${image}: kept-alive clients of a task scaled away get answers and a clean close, never a reset`, async (t) => {
    const cluster = await testCluster(t, BLOCK, { nodes: 1 });
    const manager = cluster.nodes[0]!.apiUrl;
    const node = cluster.nodes[0]!.address;
    await api(manager, 'POST', '/services/create', serviceSpec('keep', image, { Mode: { Replicated: { Replicas: 2 } }, ...published(port, 8090) }));
    const before = await waitForRunning(manager, 'keep', 2);
    await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

    // Six connections, round robin: three on each task, each named by its first answer.
    const clients: { client: ReturnType<typeof keptAlive>; task: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const client = keptAlive(t, node, 8090);
      const { head, body } = await client.ask(GET);
      t.match(head, /^HTTP\/1\.1 200 /, 'answered');
      t.notMatch(head, /^connection: close/im, 'and kept alive');
      clients.push({ client, task: hostname(body) });
    }

    const { body: service } = await api(manager, 'GET', '/services/keep');
    const scaled = await api(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 1 } } });
    t.equal(scaled.status, 200, 'scaled down to 1');
    const stopping = await waitFor('a task to be fenced', async () => {
      const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks');
      return tasks.find((task) => before.some((b) => b.ID === task.ID) && task.DesiredState !== 'running' && task.Status.State === 'running');
    });
    const name: string = stopping.Hostname ?? stopping.ID.slice(0, 12);
    const [during, split, quiet] = clients.filter((c) => c.task === name).map((c) => c.client);
    t.ok(during && split && quiet, `three connections reached the stopping task ${name}`);

    // During the fence: an answer, saying the connection closes after it; then a FIN.
    const answer = await during!.ask(GET);
    t.match(answer.head, /^HTTP\/1\.1 200 /, 'a request during the fence is answered');
    t.match(answer.head, /^connection: close/im, 'with Connection: close');
    t.equal(await during!.end(), 'FIN', 'then the connection closes cleanly');

    // A request on its way as the stop comes: its first bytes before, the rest after the listener closed.
    split!.socket.write(GET.slice(0, 10));
    await waitFor('the task to begin stopping (its listener closed)', () => refused(stopping.Endpoint.Addr, port), 10_000);
    const late = await split!.ask(GET.slice(10));
    t.match(late.head, /^HTTP\/1\.1 200 /, 'a request that was arriving as the stop came is answered');
    t.match(late.head, /^connection: close/im, 'with Connection: close');
    t.equal(await split!.end(), 'FIN', 'then the connection closes cleanly');

    // Idle through the whole fence: closed once the task stops, with a FIN.
    t.equal(await quiet!.end(), 'FIN', 'an idle connection is closed cleanly once the fence has passed');
    // Every connection is done with, so the stop ends now rather than at the 10 s grace period's SIGKILL.
    await waitFor('the task to shut down', async () => {
      const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks');
      const task = tasks.find((task) => task.ID === stopping.ID);
      return !task || task.Status.State === 'shutdown';
    }, 5000);
  });
}
