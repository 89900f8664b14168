// http mode (label routemesh.lb.mode=http), end to end through a real cluster: one kept-alive client
// spreads over every task (and in tcp mode it does not); tasks see who the client is in X-Forwarded-*
// and Forwarded, never what the client claimed; a service without tasks answers 503; a task answering
// 5xx is ejected; a service switches mode on the same port; planned changes fail no request; a task
// silent past routemesh.lb.response-timeout gets the client a 504.
import http from 'node:http';
import type net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { updateService as update } from './support/load.js';
import { hostnameOf, httpGet } from './support/net.js';

const BLOCK = 230; // nodes 127.230.0.x, tasks 127.231/16, VIPs 127.232/16
const CLIENT = '127.230.0.77';
const HTTP = { 'routemesh.lb.mode': 'http' };

interface Answer {
  status: number;
  body: string;
  /** The client's socket the request went out on: one object per connection. */
  socket: net.Socket;
}

interface GetOptions {
  agent?: http.Agent | false;
  localAddress?: string;
  headers?: Record<string, string>;
  path?: string;
}

/** One GET; rejects on a connection error or after 5 s without a whole answer (a hang is a failure, not a wait). */
function get(host: string, port: number, options: GetOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({
      host, port, path: options.path ?? '/', agent: options.agent ?? false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket: req.socket! }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5s')));
    req.on('error', reject);
  });
}


/** `total` requests one after another on `agent`: which task answered each, and the connections used. */
async function sequential(host: string, port: number, agent: http.Agent, total: number): Promise<{ counts: Map<string, number>; sockets: Set<net.Socket>; statuses: number[] }> {
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const statuses: number[] = [];
  for (let i = 0; i < total; i++) {
    const answer = await get(host, port, { agent });
    sockets.add(answer.socket);
    statuses.push(answer.status);
    const name = hostnameOf(answer.body);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return { counts, sockets, statuses };
}

/** A kept-alive agent, destroyed (its sockets closed) when the test ends. */
function keptAlive(t: Test, maxSockets: number): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  t.teardown(() => agent.destroy());
  return agent;
}

/** `workers` clients sending requests back to back until stopped; counts the answers and what failed. */
function clientLoop(t: Test, host: string, port: number, agent: http.Agent | false, workers: number) {
  let ok = 0;
  let stopped = false;
  const failures: string[] = [];
  const tasks = new Set<string>();
  const worker = async (): Promise<void> => {
    while (!stopped) {
      try {
        const answer = await get(host, port, { agent });
        if (answer.status === 200) {
          ok++;
          tasks.add(hostnameOf(answer.body));
        } else {
          failures.push(`HTTP ${answer.status}: ${answer.body.slice(0, 120)}`);
        }
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  const stop = async (): Promise<void> => {
    stopped = true;
    await running;
  };
  t.teardown(stop);
  return {
    get ok() { return ok; },
    failures,
    tasks,
    stop,
  };
}

async function create(t: Test, manager: string, spec: Record<string, unknown>): Promise<void> {
  const created = await api(manager, 'POST', '/services/create', spec);
  t.equal(created.status, 201, `${String(spec['Name'])} created: ${JSON.stringify(created.body)}`);
}

/** What traefik/whoami prints as its Hostname: the task's, or its ID's first 12 characters (a container ID's short form). */
const hostnameOfTask = (task: any): string => task.Hostname ?? task.ID.slice(0, 12);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// One cluster for the whole file, each test with services and ports of its own. (A cluster per test on the
// same addresses would race fetch's pool: a kept-alive connection to the closed cluster's engine API can be
// picked for the next cluster's first call, and fail with "other side closed".)
const log: string[] = [];
const cluster = await testCluster(t, BLOCK, { log: (line) => log.push(line) });
const manager = cluster.nodes[0]!.apiUrl;

t.test('one kept-alive client: spread per request in http mode, pinned to one task in tcp mode; 503 with no task', async (t) => {
  const node = cluster.nodes[1]!.address;
  await create(t, manager, serviceSpec('spread', 'traefik/whoami', { Labels: HTTP, Mode: { Replicated: { Replicas: 6 } }, ...published(80, 9301) }));
  await create(t, manager, serviceSpec('sticky', 'traefik/whoami', { Mode: { Replicated: { Replicas: 6 } }, ...published(80, 9302) }));
  const spreadTasks = await waitForRunning(manager, 'spread', 6);
  await waitForRunning(manager, 'sticky', 6);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const agent = keptAlive(t, 1);
  const spread = await sequential(node, 9301, agent, 600);
  t.same([...new Set(spread.statuses)], [200], 'http mode: every request answered 200');
  t.equal(spread.sockets.size, 1, 'http mode: the client used one connection for all 600 requests');
  t.equal(spread.counts.size, 6, `http mode: all 6 tasks answered (${JSON.stringify([...spread.counts])})`);
  t.same(new Set(spread.counts.keys()), new Set(spreadTasks.map(hostnameOfTask)), 'http mode: the answers come from the service\'s 6 tasks');
  const counts = [...spread.counts.values()];
  t.ok(Math.max(...counts) / Math.min(...counts) <= 1.1, `http mode: evenly, max/min ${Math.max(...counts)}/${Math.min(...counts)} <= 1.1`);

  const tcpAgent = keptAlive(t, 1);
  const sticky = await sequential(node, 9302, tcpAgent, 600);
  t.same([...new Set(sticky.statuses)], [200], 'tcp mode: every request answered 200');
  t.equal(sticky.sockets.size, 1, 'tcp mode: one connection as well');
  t.equal(sticky.counts.size, 1, `tcp mode: balanced per connection, so one task answered all 600 (${JSON.stringify([...sticky.counts])})`);

  // With no task left, the mesh answers itself; the client's kept-alive connection is not cut for it.
  await update(manager, 'spread', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 0 } } }));
  await waitForRunning(manager, 'spread', 0);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const empty = await get(node, 9301, { agent });
  t.equal(empty.status, 503, `no task: 503 (${empty.body.trim()})`);
  t.ok(Buffer.byteLength(empty.body) < 200, `a short body (${Buffer.byteLength(empty.body)} bytes)`);
  t.match(empty.body, /\bspread\b/, 'naming the service');
  t.ok(spread.sockets.has(empty.socket), 'on the same kept-alive connection as before');
  const fresh = await get(cluster.nodes[2]!.address, 9301);
  t.equal(fresh.status, 503, 'and on a new connection to another node');
});

t.test('the task sees the client in X-Forwarded-* and Forwarded, never what the client claimed', async (t) => {
  const node = cluster.nodes[1]!.address;
  await create(t, manager, serviceSpec('headers', 'traefik/whoami', { Labels: HTTP, ...published(80, 9303) }));
  await waitForRunning(manager, 'headers', 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const host = 'shop.example:9303';
  const { status, body } = await get(node, 9303, {
    localAddress: CLIENT,
    headers: {
      Host: host,
      'X-Forwarded-For': '6.6.6.6',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'evil.example',
      Forwarded: 'for=6.6.6.6;proto=https',
    },
  });
  t.equal(status, 200, 'answered by the task');
  const lines = body.split(/\r?\n/);
  const header = (name: string): string[] => lines.filter((line) => line.startsWith(`${name}: `)).map((line) => line.slice(name.length + 2));
  t.same(header('X-Forwarded-For'), [CLIENT], 'X-Forwarded-For is the client\'s address, replacing what it sent');
  t.same(header('X-Forwarded-Proto'), ['http'], 'X-Forwarded-Proto: http');
  t.same(header('X-Forwarded-Host'), [host], 'X-Forwarded-Host: the Host the client sent');
  t.same(header('X-Forwarded-Port'), ['9303'], 'X-Forwarded-Port: the published port');
  t.same(header('Forwarded'), [`for=${CLIENT};host="${host}";proto=http`], 'one Forwarded element, the mesh\'s (RFC 7239: host:port quoted)');
  t.same(header('Host'), [host], 'the Host header reaches the task as sent');
  t.notMatch(body, /6\.6\.6\.6|evil\.example|https/, 'nothing the client claimed reaches the task');
  t.equal(/^RemoteAddr: (\S+)$/m.exec(body)?.[1]?.split(':')[0], node, 'the connection comes from the node that forwarded, as behind Swarm\'s SNAT');
});

/** Answers every request with its task's name: 500 in slot 2, 200 elsewhere. */
const FAILING_SERVER = `
  const { HOST, PORT, TASK_NAME, TASK_SLOT } = process.env;
  require('node:http').createServer((q, s) => { s.statusCode = TASK_SLOT === '2' ? 500 : 200; s.end(TASK_NAME); }).listen(Number(PORT), HOST);
`;

t.test('a task answering 500 is ejected after 3 in a row, said once', async (t) => {
  const node = cluster.nodes[0]!.address;
  await create(t, manager, {
    Name: 'failing',
    Labels: { ...HTTP, 'routemesh.lb.outlier.consecutive-failures': '3', 'routemesh.lb.outlier.base-ejection': '1m' },
    TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: [process.execPath], Args: ['-e', FAILING_SERVER] } },
    Mode: { Replicated: { Replicas: 3 } },
    ...published(8080, 9304),
  });
  const tasks = await waitForRunning(manager, 'failing', 3);
  // A running process is not yet a listening server: each task answers on its own address first.
  await Promise.all(tasks.map((task) => waitFor(`${task.Name} to listen`, () => httpGet(task.Endpoint.Addr, 8080).then(() => true, () => undefined))));
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const bad = tasks.find((task) => task.Slot === 2)!.Name as string;
  const good = tasks.filter((task) => task.Slot !== 2).map((task) => task.Name as string);

  const agent = keptAlive(t, 1);
  const answers: Answer[] = [];
  for (let i = 0; i < 60; i++) answers.push(await get(node, 9304, { agent }));
  const errors = answers.filter((a) => a.status !== 200);
  t.equal(errors.length, 3, `the 3 answers that eject it are the only 5xx the client sees (${errors.length})`);
  t.ok(errors.every((a) => a.status === 500 && a.body === bad), 'each of them the failing task\'s own 500, passed on as it was');
  const lastError = answers.map((a) => a.status !== 200).lastIndexOf(true);
  t.ok(lastError < 10, `no 500 after the first few requests (last at request ${lastError + 1})`);
  t.ok(answers.filter((a) => a.status === 200).every((a) => good.includes(a.body)), 'every 200 from a healthy task');
  t.same(new Set(answers.slice(lastError + 1).map((a) => a.body)), new Set(good), 'after the ejection both healthy tasks share the requests');

  const ejection = new RegExp(`${escape(bad)} \\(127\\.231\\.\\d+\\.\\d+:8080\\) in node1's pool of failing:8080 is ejected for 60s after 3 failures in a row \\(failed connects, or 5xx answers in http mode\\) \\(ejection 1\\)`);
  const ejections = log.filter((line) => / pool of failing:8080 is ejected for /.test(line));
  t.equal(ejections.filter((line) => ejection.test(line)).length, 1, `node1 ejected the failing task once, and said so (${ejections.join(' | ') || log.join(' | ')})`);
  t.equal(ejections.length, 1, 'and no other task of the service was ejected, on any node');
});

t.test('tcp mode to http mode on the same port, with no failed request while switching', async (t) => {
  const node = cluster.nodes[1]!.address;
  await create(t, manager, serviceSpec('switch', 'traefik/whoami', { Mode: { Replicated: { Replicas: 4 } }, ...published(80, 9305) }));
  await waitForRunning(manager, 'switch', 4);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const before = await sequential(node, 9305, keptAlive(t, 1), 20);
  t.equal(before.counts.size, 1, 'tcp mode: a kept-alive client stays on one task');

  // New connections and a kept-alive one, back to back, all through the switch.
  const fresh = clientLoop(t, node, 9305, false, 2);
  const kept = clientLoop(t, node, 9305, keptAlive(t, 2), 2);
  await waitFor('the clients to get going', () => fresh.ok >= 50 && kept.ok >= 50);
  await update(manager, 'switch', (spec) => ({ ...spec, Labels: { ...spec.Labels, ...HTTP } }));
  // Balanced per request now: a new kept-alive connection meets more than one task.
  await waitFor('http mode on the port', async () => (await sequential(node, 9305, keptAlive(t, 1), 8)).counts.size > 1);
  const afterSwitch = fresh.ok + kept.ok;
  await waitFor('requests after the switch', () => fresh.ok + kept.ok >= afterSwitch + 200);
  await fresh.stop();
  await kept.stop();
  t.same(fresh.failures, [], `no request on a new connection failed (${fresh.ok} answered)`);
  t.same(kept.failures, [], `no request on a kept-alive connection failed (${kept.ok} answered)`);

  const { body: tasks } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { switch: true } }))}`);
  t.equal(tasks.length, 4, 'a label change rolled no task');
  const after = await sequential(node, 9305, keptAlive(t, 1), 40);
  t.equal(after.sockets.size, 1, 'http mode: one connection');
  t.equal(after.counts.size, 4, `http mode: the same client now meets all 4 tasks (${JSON.stringify([...after.counts])})`);
  const states = cluster.engines.map((e) => e.mesh!.listenerStates().get('9305/tcp'));
  t.ok(states.every((s) => s?.state === 'open' && s.failures === 0), `every node's listener of 9305 stayed open (${JSON.stringify(states)})`);
});

t.test('http mode: a scale-down and a rolling update fail no request', async (t) => {
  const node = cluster.nodes[2]!.address;
  await create(t, manager, serviceSpec('planned', 'traefik/whoami', {
    Labels: HTTP,
    Mode: { Replicated: { Replicas: 4 } },
    UpdateConfig: { Parallelism: 1, Delay: 0, Monitor: 200_000_000, Order: 'stop-first', FailureAction: 'pause' },
    ...published(80, 9306),
  }));
  const first = await waitForRunning(manager, 'planned', 4);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const load = clientLoop(t, node, 9306, keptAlive(t, 4), 4);
  await waitFor('the load to get going', () => load.ok >= 100);
  t.same(load.tasks, new Set(first.map(hostnameOfTask)), 'four connections at most, yet all 4 tasks answer');

  await update(manager, 'planned', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 2 } } }));
  await waitForRunning(manager, 'planned', 2);
  const afterScale = load.ok;
  await waitFor('requests after the scale-down', () => load.ok >= afterScale + 100);

  await update(manager, 'planned', (spec) => ({
    ...spec, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Env: ['X=1'] } },
  }));
  await waitFor('the rolling update to complete', async () => (await api(manager, 'GET', '/services/planned')).body.UpdateStatus?.State === 'completed', 30_000);
  const rolled = await waitForRunning(manager, 'planned', 2);
  t.notOk(rolled.some((task) => first.some((old: any) => old.ID === task.ID)), 'every task was replaced');
  const afterUpdate = load.ok;
  load.tasks.clear();
  await waitFor('requests after the update', () => load.ok >= afterUpdate + 100);
  await load.stop();

  t.ok(load.ok >= 300, `${load.ok} requests answered`);
  t.same(load.failures, [], 'every request got 200');
  t.same(load.tasks, new Set(rolled.map(hostnameOfTask)), 'after the update the 2 new tasks, and only they, answer');
});

t.test('a task silent past routemesh.lb.response-timeout: 504, naming the task and the service', async (t) => {
  const node = cluster.nodes[1]!.address;
  await create(t, manager, serviceSpec('silent', 'traefik/whoami', { Labels: { ...HTTP, 'routemesh.lb.response-timeout': '300ms' }, ...published(80, 9307) }));
  const [task] = await waitForRunning(manager, 'silent', 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const quick = await get(node, 9307, { path: '/?wait=20ms' });
  t.equal(quick.status, 200, 'an answer within the timeout passes');
  // whoami's ?wait= holds its answer back for that long.
  const started = Date.now();
  const slow = await get(node, 9307, { path: '/?wait=3s' });
  const elapsed = Date.now() - started;
  t.equal(slow.status, 504, `silent for longer: 504 (${slow.body.trim()})`);
  t.match(slow.body, `task ${task.Name} of service silent did not answer within 0.3s`, 'naming the task, the service and the timeout');
  t.ok(elapsed >= 250 && elapsed < 2500, `after about the timeout, not the task's 3s (${elapsed}ms)`);
});
