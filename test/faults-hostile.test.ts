// Hostile tests of fault injection: requests no one should send (each refused with a 400 that says why,
// nothing added), faults that outlast setTimeout's reach, a crawling bandwidth cap holding megabytes, reset
// budgets under shaping, a refused UDP link, and faults meeting the data path as it changes (kept-alive
// http connections, a WebSocket, a second fault on a link, a lifted blackhole, a task that joins or leaves,
// a service or node that goes away while a fault names it, a partition between managers that lifts itself).
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { FaultProxy, FaultyLink, HttpForwarder, Pool, RoundRobin, UdpRelay } from '../src/lb/index.js';
import type { Backend, LinkFault } from '../src/lb/index.js';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import type { MeshReport } from '../src/mesh/index.js';

// Nodes 127.54.0.x, tasks 127.58/16, VIPs 127.59/16; anything else on 127.213.0.x.
const OTHER = '127.213.0';

/**
 * A task serving `serve` on `${OTHER}.(n+1)`, and a node's fault proxy on `${OTHER}.n`; `connect` opens a
 * connection to the task through a link carrying `fault`, as a forwarder would. All closed at the end.
 */
async function shapedTask(t: Test, n: number, serve: (socket: net.Socket) => void, fault: LinkFault) {
  const task = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    serve(socket);
  });
  await new Promise<void>((resolve) => task.listen(0, `${OTHER}.${n + 1}`, resolve));
  t.teardown(() => new Promise<void>((resolve) => task.close(() => resolve())));
  const proxy = new FaultProxy(`${OTHER}.${n}`);
  await proxy.listen();
  t.teardown(() => proxy.close());
  const link = new FaultyLink(fault, { proxy });
  const connect = (): net.Socket => {
    const socket = link.connect({ host: `${OTHER}.${n + 1}`, port: (task.address() as net.AddressInfo).port });
    t.teardown(() => socket.destroy());
    return socket;
  };
  return { link, connect };
}

t.test('a bandwidth cap of 1 B/s holds its 1 MiB, not a buffer view for every byte of it', async (t) => {
  const { connect } = await shapedTask(t, 1, (socket) => socket.write(Buffer.alloc(4 << 20)), { bytesPerSecond: 1 });
  const heapBefore = process.memoryUsage().heapUsed;
  const socket = connect();
  let received = 0;
  socket.on('data', (data: Buffer) => { received += data.length; });
  // The first byte comes out a second after the task's 4 MiB reached the relay, which has read its
  // high-water mark (1 MiB) by then and paused.
  await waitFor('the first byte at 1 B/s', () => received >= 1, 5000);
  const grew = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
  t.ok(grew < 40, `the heap grew by ${grew.toFixed(1)} MB holding one connection's 1 MiB`);
});

t.test('a reset budget spent under a bandwidth cap: the bytes it allowed reach the task before the reset', async (t) => {
  let received = '';
  const { connect } = await shapedTask(t, 10, (socket) => {
    socket.setEncoding('utf8').on('data', (text: string) => { received += text; });
    socket.pipe(socket);
  }, { resetAfterBytes: 12, bytesPerSecond: 100 });
  const socket = connect();
  const error = new Promise<string>((resolve) => socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)));
  socket.write('0123456789abcdef');
  t.equal(await error, 'ECONNRESET');
  // Paced in slices of 5 bytes, the echo of the first slice must not set the reset off before the rest.
  t.equal(received, '0123456789ab', 'the 12 bytes the budget allowed, all of them');
});

t.test('a reset budget spent by the task behind a latency: its bytes arrive before the reset, whatever the client sends meanwhile', async (t) => {
  const { connect } = await shapedTask(t, 12, (socket) => socket.write('x'.repeat(100)), { resetAfterBytes: 100, latencyMs: 200 });
  const socket = connect();
  let received = 0;
  socket.on('data', (data: Buffer) => { received += data.length; });
  const error = new Promise<string>((resolve) => socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)));
  // The client speaks while the 200 ms latency still holds the task's bytes: the time under test, not a wait.
  socket.once('connect', () => setTimeout(() => socket.write('one more byte'), 50));
  t.equal(await error, 'ECONNRESET');
  t.equal(received, 100, "the task's 100 bytes, all the budget allowed, came before the reset");
});

t.test('http mode: a WebSocket upgraded through a latency link is delayed, then passes straight once lifted', async (t) => {
  const task = http.createServer((_request, response) => response.end());
  task.on('upgrade', (_request: http.IncomingMessage, socket: net.Socket) => {
    socket.on('error', () => {});
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('data', (bytes) => socket.write(bytes));
  });
  const upgraded = new Set<net.Socket>();
  task.on('upgrade', (_request, socket: net.Socket) => upgraded.add(socket));
  await new Promise<void>((resolve) => task.listen(0, `${OTHER}.5`, resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of upgraded) socket.destroy();
    task.close(() => resolve());
  }));
  const proxy = new FaultProxy(`${OTHER}.4`);
  await proxy.listen();
  t.teardown(() => proxy.close());
  const pool = new Pool();
  pool.set([{ id: 'ws', host: `${OTHER}.5`, port: (task.address() as net.AddressInfo).port, state: 'up', label: 'ws' }]);
  const link = new FaultyLink({ latencyMs: 200 }, { proxy });
  (pool.get('ws') as Backend).link = link;
  const forwarder = new HttpForwarder({ localAddress: `${OTHER}.4` });
  t.teardown(() => forwarder.close());
  const events = { answered: () => {}, connectError: () => {}, failed: () => {}, retried: () => {} };
  const clients = forwarder.server(() => ({ pool, balancer: new RoundRobin(), serviceName: 'ws', limits: { maxAttempts: 1, connectTimeoutMs: 1000 }, events }));
  t.teardown(() => { clients.close(); });
  const front = net.createServer((socket) => clients.accept(socket));
  await new Promise<void>((resolve) => front.listen(0, `${OTHER}.4`, resolve));
  t.teardown(() => new Promise<void>((resolve) => front.close(() => resolve())));

  const client = net.connect({ host: `${OTHER}.4`, port: (front.address() as net.AddressInfo).port });
  t.teardown(() => client.destroy());
  let text = '';
  client.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const started = Date.now();
  client.write(['GET /chat HTTP/1.1', 'Host: ws', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', '', ''].join('\r\n'));
  await waitFor('the 101', () => text.includes('\r\n\r\n'));
  t.match(text, /^HTTP\/1\.1 101 /);
  t.ok(Date.now() - started >= 190, `switched after ${Date.now() - started} ms`);
  const echo = async (frame: string): Promise<number> => {
    const sent = Date.now();
    client.write(frame);
    await waitFor(`the echo of ${frame}`, () => text.endsWith(frame));
    return Date.now() - sent;
  };
  t.ok(await echo('slow frame') >= 190, 'a frame through the upgraded connection waits out the latency');
  link.lift();
  t.ok(await echo('quick frame') < 150, 'lifted: the next frame passes straight');
});

t.test('UDP: a refused link refuses datagrams as a closed port does, and the flow moves to another task', async (t) => {
  const tasks = ['6', '7'].map(() => dgram.createSocket('udp4'));
  const received: string[] = [];
  for (const [i, task] of tasks.entries()) {
    task.on('message', (message, from) => {
      received.push(`${i}:${message}`);
      task.send(message, from.port, from.address);
    });
  }
  await Promise.all(tasks.map((task, i) => new Promise<void>((resolve) => task.bind({ address: `${OTHER}.${6 + i}`, port: 0 }, resolve))));
  const relaySocket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => relaySocket.bind({ address: `${OTHER}.8`, port: 0 }, resolve));
  const client = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => client.bind({ address: `${OTHER}.9`, port: 0 }, resolve));
  const pool = new Pool();
  pool.set(tasks.map((task, i) => ({ id: `task${i}`, host: `${OTHER}.${6 + i}`, port: task.address().port, state: 'up' as const, label: `task${i}` })));
  pool.get('task0')!.link = new FaultyLink({ refused: true });
  const connectErrors: string[] = [];
  const events = { connectError: (backend: Backend, error: Error) => connectErrors.push(`${backend.id} ${(error as NodeJS.ErrnoException).code}`) };
  const balancer = new RoundRobin();
  const relay = new UdpRelay(relaySocket, () => ({ pool, balancer, events, limits: {} }), { localAddress: `${OTHER}.8` });
  t.teardown(() => {
    relay.close();
    for (const socket of [...tasks, relaySocket, client]) socket.close();
  });
  const answers: string[] = [];
  client.on('message', (message) => answers.push(String(message)));
  const port = relaySocket.address().port;
  client.send('first', port, `${OTHER}.8`);
  await waitFor('the refusal', () => connectErrors.length === 1);
  client.send('second', port, `${OTHER}.8`);
  await waitFor('an answer', () => answers.length === 1);
  t.same(received, ['1:second'], 'nothing reached the refusing task; the next datagram went to the other');
  t.same(connectErrors, ['task0 ECONNREFUSED'], "the refusal is the forwarder's connect error, as the kernel's would be");
});

t.test('faults against a live swarm, three managers and a worker', async (t) => {
  const cluster = await testCluster(t, 54, { nodes: 4, managers: 3, taskSubnet: '127.58.0.0/16', vipSubnet: '127.59.0.0/16', heartbeatPeriodMs: 100 });
  const [node1, node2, , node4] = cluster.nodes;
  const manager = node1!.apiUrl;
  const faults = async (): Promise<any[]> => (await api<any[]>(manager, 'GET', '/routemesh/faults')).body;
  const addFault = async (body: Record<string, unknown>): Promise<string> => {
    const { status, body: answer } = await api(manager, 'POST', '/routemesh/faults', body);
    if (status !== 201) throw new Error(`fault ${JSON.stringify(body)}: ${status} ${JSON.stringify(answer)}`);
    return answer.ID;
  };
  const removeFault = (id: string) => api(manager, 'DELETE', `/routemesh/faults/${id}`);
  const meshOf = async (address: string): Promise<MeshReport> => (await api<MeshReport>(`http://${address}:2375`, 'GET', '/routemesh/mesh')).body;
  const faultOn = async (address: string, service: string) =>
    (await meshOf(address)).pools.filter((pool) => pool.service === service).flatMap((pool) => pool.members).map((m) => m.fault);

  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Labels: { 'routemesh.lb.mode': 'http' }, Mode: { Replicated: { Replicas: 1 } }, ...published(80, 8080) }));
  await api(manager, 'POST', '/services/create', serviceSpec('glob', 'traefik/whoami', { Mode: { Global: {} }, ...published(80, 8081) }));
  await waitForRunning(manager, 'web', 1);
  await waitForRunning(manager, 'glob', 4);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  await t.test('hostile requests get a 400 that says why, and add nothing', async (t) => {
    const refused: [unknown, RegExp][] = [
      ['not json', /invalid JSON/],
      [[], /a fault is a JSON object/],
      [{ Kind: 'latency', Service: 'web', Latency: 100 }, /Latency 100 is not a duration/],
      [{ Kind: 'latency', Service: 'web', Latency: '9999999h' }, /is not a duration/],
      // setTimeout waits at most 2^31-1 ms: a longer latency or connect delay would not hold anything back.
      [{ Kind: 'latency', Service: 'web', Latency: '2000000h' }, /Latency "2000000h" is too long: at most 596h/],
      [{ Kind: 'latency', Service: 'web', Latency: '100ms', Jitter: '700h' }, /Jitter "700h" is too long/],
      [{ Kind: 'slow-connect', Service: 'web', Delay: '700h' }, /Delay "700h" is too long/],
      // Rounded to whole milliseconds these would be a fault with no effect, or one gone as it is made.
      [{ Kind: 'latency', Service: 'web', Latency: '1ns' }, /Latency "1ns" is not a duration: .* of 1ms or more/],
      [{ Kind: 'slow-connect', Service: 'web', Delay: '400us' }, /Delay "400us" is not a duration/],
      [{ Kind: 'refused', Service: 'web', Duration: '1ns' }, /Duration "1ns" is not a duration/],
      [{ Kind: 'bandwidth', Service: 'web', Rate: '1e999' }, /Rate "1e999" is not a rate/],
      [{ Kind: 'bandwidth', Service: 'web', Rate: 1e300 }, /is not a rate/],
      [{ Kind: 'bandwidth', Service: 'web', Rate: [1] }, /is not a rate/],
      [{ Kind: 'loss', Service: 'web', Percent: 'NaN' }, /Percent "NaN" must be a number/],
      [{ Kind: 'loss', Service: 'web', Percent: '30' }, /Percent "30" must be a number/],
      [{ Kind: 'partition', Between: ['node1', 'node2', 'node3'] }, /Between names two nodes/],
      [{ Kind: 'partition', Between: [1, 2] }, /Between\[0\] must be a name or ID/],
      [{ Kind: 'partition', Between: 'node1,node2' }, /Between names two nodes/],
      [{ Kind: 'refused', Task: 'web.' }, /service web has no task web\./],
      [{ Kind: 'refused', Task: '.3' }, /task \.3 is not a task name/],
      [{ Kind: 'refused', Task: 'web.0' }, /service web has no task web\.0/],
      [{ Kind: 'refused', Task: 'glob.' }, /task glob\. names no node: a global service's task is glob\.<node name or ID>/],
      [{ Kind: 'refused', Service: { Name: 'web' } }, /Service must be a name or ID/],
      [{ Kind: 'refused', Service: 'web', __proto__x: 1 }, /a fault has no field __proto__x/],
      [JSON.stringify({ Kind: 'refused', Service: 'web' }).replace('{', '{"__proto__":{"Between":["node1","node2"]},'), /a fault has no field __proto__/],
    ];
    for (const [body, message] of refused) {
      const { status, body: answer } = await api(manager, 'POST', '/routemesh/faults', body);
      t.match({ status, message: answer?.message }, { status: 400, message }, JSON.stringify(body).slice(0, 80));
    }
    t.equal((await api(manager, 'DELETE', '/routemesh/faults/%ZZ')).status, 400, 'a malformed ID in the path');
    t.same(await faults(), [], 'no fault was added');
    // A global task by its node's name or ID, and any task by its ID, are accepted.
    const globalTasks = await waitForRunning(manager, 'glob', 4);
    for (const task of [`glob.${node2!.nodeId}`, 'glob.node2', globalTasks[0].ID]) t.ok(await addFault({ Kind: 'refused', Task: task }), task);
    await Promise.all((await faults()).map((f) => removeFault(f.ID)));
  });

  await t.test('a fault that outlasts setTimeout waits it out, without firing at once over and over', async (t) => {
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => { warnings.push(warning.name); };
    process.on('warning', onWarning);
    t.teardown(() => { process.off('warning', onWarning); });
    const latency = await addFault({ Kind: 'latency', Service: 'glob', Latency: '1ms', Duration: '700h' });
    const partition = await addFault({ Kind: 'partition', Between: ['node2', 'node4'], Duration: '700h' });
    await waitFor('node4 to apply them', async () => (await faultOn(node4!.address, 'glob')).some((f) => f?.unreachable));
    await new Promise<void>((resolve) => setTimeout(resolve, 100)); // what a loop at setTimeout's 1 ms would fill with warnings
    t.same(warnings.filter((name) => name === 'TimeoutOverflowWarning'), [], 'no timer was cut short');
    t.equal((await faults()).length, 2, 'both faults still stand');
    await removeFault(latency);
    await removeFault(partition);
  });

  await t.test('http mode: a fault added or lifted reaches the next request on a kept-alive connection', async (t) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.teardown(() => agent.destroy());
    const timed = async (): Promise<number> => {
      const started = Date.now();
      await new Promise<void>((resolve, reject) => {
        http.get({ host: node1!.address, port: 8080, path: '/', agent }, (response) => {
          response.resume();
          response.on('end', resolve);
        }).on('error', reject);
      });
      return Date.now() - started;
    };
    await timed();
    const id = await addFault({ Kind: 'latency', Service: 'web', Latency: '300ms' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'web')).every((f) => f?.latencyMs === 300));
    t.ok(await timed() >= 280, 'the next request waits out the latency');
    await removeFault(id);
    await waitFor('node1 to lift it', async () => (await faultOn(node1!.address, 'web')).every((f) => !f));
    t.ok(await timed() < 250, 'and once lifted, the next one does not');
  });

  await t.test('a blackhole lifted closes the connections it swallowed', async (t) => {
    const id = await addFault({ Kind: 'blackhole', Service: 'glob', From: 'node1' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'glob')).every((f) => f?.blackhole));
    const socket = net.connect({ host: node1!.address, port: 8081 });
    t.teardown(() => socket.destroy());
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    let answered = false;
    socket.on('data', () => { answered = true; });
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    await removeFault(id);
    await closed;
    t.notOk(answered, 'nothing came back through the blackhole');
  });

  await t.test('a fault that names a service or a node goes with it', async (t) => {
    await api(manager, 'POST', '/services/create', serviceSpec('gone', 'traefik/whoami'));
    await waitForRunning(manager, 'gone', 1);
    await addFault({ Kind: 'refused', Task: 'gone.1' });
    await addFault({ Kind: 'partition', Between: ['node3', 'node4'] });
    await addFault({ Kind: 'latency', Service: 'web', From: 'node4', Latency: '10ms' });
    const kept = await addFault({ Kind: 'latency', Service: 'web', Latency: '1ms' });
    t.equal((await api(manager, 'DELETE', '/services/gone')).status, 200);
    t.equal((await api(manager, 'DELETE', `/nodes/${node4!.nodeId}?force=true`)).status, 200);
    t.same((await faults()).map((f) => f.ID), [kept], 'only the fault that names neither is left');
    await removeFault(kept);
  });

  await t.test('a service fault reaches the tasks that join after it, when none were there to take it', async (t) => {
    await api(manager, 'POST', '/services/create', serviceSpec('late', 'traefik/whoami', { Mode: { Replicated: { Replicas: 0 } }, ...published(80, 8082) }));
    const id = await addFault({ Kind: 'latency', Service: 'late', Latency: '50ms' });
    const { body: service } = await api(manager, 'GET', '/services/late');
    const spec = { ...service.Spec, Mode: { Replicated: { Replicas: 1 } } };
    t.equal((await api(manager, 'POST', `/services/late/update?version=${service.Version.Index}`, spec)).status, 200);
    await waitForRunning(manager, 'late', 1);
    await waitFor('node1 to pool it', async () => (await faultOn(node1!.address, 'late')).length === 1);
    await cluster.engines[0]!.mesh!.settled();
    t.same(await faultOn(node1!.address, 'late'), [{ latencyMs: 50 }], 'the new task is behind the fault');
    await removeFault(id);
  });

  await t.test('a second fault on a link that already has one: connections open through it take both', async (t) => {
    const first = await addFault({ Kind: 'latency', Service: 'glob', From: 'node1', Latency: '150ms' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'glob')).every((f) => f?.latencyMs === 150));
    const socket = net.connect({ host: node1!.address, port: 8081 });
    t.teardown(() => socket.destroy());
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
    const request = async (): Promise<number> => {
      const [sent, before] = [Date.now(), text.length];
      socket.write('GET / HTTP/1.1\r\nHost: glob\r\n\r\n');
      await waitFor('the answer', () => text.length > before && text.endsWith('\r\n'));
      return Date.now() - sent;
    };
    t.ok(await request() >= 140, 'the first request waits out the latency');
    const second = await addFault({ Kind: 'latency', Service: 'glob', Latency: '150ms' });
    await waitFor('node1 to apply both', async () => (await faultOn(node1!.address, 'glob')).every((f) => f?.latencyMs === 300));
    const took = await request();
    t.ok(took >= 290, `the next request on the same connection waits out both (${took} ms)`);
    await removeFault(first);
    await removeFault(second);
  });

  await t.test('a blackholed task that leaves the pool takes its link and the connections it swallowed', async (t) => {
    await api(manager, 'POST', '/services/create', serviceSpec('shrink', 'traefik/whoami', { Mode: { Replicated: { Replicas: 2 } }, ...published(80, 8083) }));
    await waitForRunning(manager, 'shrink', 2);
    await addFault({ Kind: 'blackhole', Task: 'shrink.2' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'shrink')).filter((f) => f?.blackhole).length === 1);
    const sockets = [0, 1].map(() => net.connect({ host: node1!.address, port: 8083 }).on('error', () => {}));
    t.teardown(() => sockets.forEach((socket) => socket.destroy()));
    const answered = sockets.map(() => false);
    const closed = sockets.map((socket) => new Promise<void>((resolve) => socket.once('close', () => resolve())));
    sockets.forEach((socket, i) => {
      socket.on('data', () => { answered[i] = true; });
      socket.write('GET / HTTP/1.1\r\nHost: shrink\r\n\r\n');
    });
    await waitFor('one answer', () => answered.filter(Boolean).length === 1);
    const swallowed = answered.indexOf(false);
    const { body: service } = await api(manager, 'GET', '/services/shrink');
    await api(manager, 'POST', `/services/shrink/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 1 } } });
    await waitFor('node1 to drop shrink.2', async () => (await faultOn(node1!.address, 'shrink')).length === 1);
    t.same(await faultOn(node1!.address, 'shrink'), [undefined], 'the task left has no fault');
    await closed[swallowed];
    t.pass('the swallowed connection was closed with its link');
    await Promise.all((await faults()).map((f) => removeFault(f.ID)));
  });

  await t.test('UDP through the mesh: a blackhole swallows datagrams, latency holds the answers, lifted they pass', async (t) => {
    await api(manager, 'POST', '/services/create', serviceSpec('echo', 'routemesh/echo', published(7, 9407, 'udp')));
    await waitForRunning(manager, 'echo', 1);
    await waitFor('node1 to pool it', async () => (await meshOf(node1!.address)).pools.some((p) => p.service === 'echo' && p.members.length));
    const client = dgram.createSocket('udp4');
    t.teardown(() => client.close());
    await new Promise<void>((resolve) => client.bind(0, `${OTHER}.3`, resolve));
    const answers: number[] = [];
    client.on('message', () => answers.push(Date.now()));
    const send = (): number => {
      client.send('ping', 9407, node1!.address);
      return Date.now();
    };
    send();
    await waitFor('an echo', () => answers.length === 1);
    const blackhole = await addFault({ Kind: 'blackhole', Service: 'echo' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'echo')).every((f) => f?.blackhole));
    send();
    const latency = await addFault({ Kind: 'latency', Service: 'echo', Latency: '200ms' });
    await removeFault(blackhole);
    await waitFor('node1 to have latency alone', async () => (await faultOn(node1!.address, 'echo')).every((f) => f?.latencyMs === 200 && !f.blackhole));
    t.equal(answers.length, 1, 'the blackholed datagram never came back');
    const sent = send();
    await waitFor('the delayed echo', () => answers.length === 2);
    t.ok(answers[1]! - sent >= 190, `answered ${answers[1]! - sent} ms later`);
    await removeFault(latency);
    await waitFor('node1 to lift it', async () => (await faultOn(node1!.address, 'echo')).every((f) => !f));
    const again = send();
    await waitFor('a prompt echo', () => answers.length === 3);
    t.ok(answers[2]! - again < 150, 'lifted: answered at once');
  });

  await t.test('a partition between two managers with a duration cuts them apart and heals by itself', async (t) => {
    await addFault({ Kind: 'partition', Between: ['node1', 'node2'], Duration: '1500ms' });
    const stateOf = async (node: string): Promise<string> => (await api(manager, 'GET', `/nodes/${node}`)).body.Status.State;
    await waitFor('node2 to be marked Down', async () => (await stateOf('node2')) === 'down');
    await waitFor('the fault to lift itself', async () => (await faults()).length === 0);
    await waitFor('node2 to be Ready again', async () => (await stateOf('node2')) === 'ready');
    t.pass('healed');
  });

  await t.test('the mesh closes at once with connections held by a latency link', async (t) => {
    await addFault({ Kind: 'latency', Service: 'glob', Latency: '5s' });
    await waitFor('node1 to apply it', async () => (await faultOn(node1!.address, 'glob')).every((f) => f?.latencyMs === 5000));
    const sockets = [0, 1].map(() => net.connect({ host: node1!.address, port: 8081 }).on('error', () => {}));
    t.teardown(() => sockets.forEach((s) => s.destroy()));
    for (const socket of sockets) socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
    const started = Date.now();
    await cluster.engines[0]!.mesh!.close();
    t.ok(Date.now() - started < 2000, `closed in ${Date.now() - started} ms`);
  });
});
