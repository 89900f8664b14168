// Balancing chosen with service labels, end to end: a task ten times slower than the others gets its
// share under round robin, and under 10% with least connections or power of two choices; a task that
// refuses connections is ejected (and the clients never notice); a bad label is refused at create.
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { httpGet } from './support/net.js';

const BLOCK = 216; // nodes 127.216.0.x, tasks 127.217/16, VIPs 127.218/16

/**
 * Answers with its task's name, after 200 ms in slot 1 and 10 ms elsewhere: with a new connection through
 * the mesh costing about 10 ms more here, slot 1 is about ten times slower end to end. Slot 2 of
 * `refusing` never listens.
 */
const SERVER = `
  const { HOST, PORT, TASK_NAME, TASK_SLOT, REFUSING } = process.env;
  if (REFUSING && TASK_SLOT === '2') setInterval(() => {}, 1 << 30);
  else require('node:http').createServer((q, s) => setTimeout(() => s.end(TASK_NAME), TASK_SLOT === '1' ? 200 : 10)).listen(Number(PORT), HOST);
`;

function execService(name: string, published: number, labels: Record<string, string>, env: string[] = []): Record<string, unknown> {
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: [process.execPath], Args: ['-e', SERVER], Env: env } },
    Mode: { Replicated: { Replicas: 4 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: published, PublishMode: 'ingress' }] },
  };
}

/** A running process is not yet a listening server: wait until each task answers on its own address. */
async function listening(tasks: any[]): Promise<void> {
  await Promise.all(tasks.map((task) => waitFor(`${task.Name} to listen`, () => httpGet(task.Endpoint.Addr, 8080).then(() => true, () => undefined))));
}

/** `total` requests, each on a new connection, `concurrency` at a time: how many each task answered. */
async function load(host: string, port: number, total: number, concurrency: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      const { body } = await httpGet(host, port);
      counts.set(body, (counts.get(body) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

t.test('a slow task under each algorithm', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const node = cluster.nodes[1]!.address;
  const cases: [string, number, (share: number) => boolean, string][] = [
    ['round-robin', 9101, (share) => share > 0.2 && share < 0.3, 'about its 25% under round robin: every fourth connection'],
    ['least-conn', 9102, (share) => share < 0.1, 'under 10% with least connections'],
    ['p2c', 9103, (share) => share < 0.1, 'under 10% with power of two choices'],
  ];
  for (const [algorithm, port, expected, what] of cases) {
    const created = await api(manager, 'POST', '/services/create', execService(`slow-${algorithm}`, port, { 'routemesh.lb.algorithm': algorithm }));
    t.equal(created.status, 201, JSON.stringify(created.body));
    const tasks = await waitForRunning(manager, `slow-${algorithm}`, 4);
    await listening(tasks);
    await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
    const slow = tasks.find((task) => task.Slot === 1)!.Name;
    const counts = await load(node, port, 400, 8);
    const share = (counts.get(slow) ?? 0) / 400;
    t.equal([...counts.values()].reduce((a, b) => a + b, 0), 400, `${algorithm}: every request answered`);
    t.ok(expected(share), `${algorithm}: the slow task got ${(share * 100).toFixed(1)}%, ${what}`);
  }
});

t.test('a task that refuses connections is ejected; clients never see it', async (t) => {
  const log: string[] = [];
  const cluster = await testCluster(t, BLOCK, { log: (line) => log.push(line) });
  const manager = cluster.nodes[0]!.apiUrl;
  const labels = { 'routemesh.lb.outlier.consecutive-failures': '3', 'routemesh.lb.outlier.base-ejection': '1m' };
  await api(manager, 'POST', '/services/create', execService('refusing', 9104, labels, ['REFUSING=1']));
  // Slot 2 runs but never listens: the task is "running" and in the pool, yet every connect to it fails.
  const tasks = await waitForRunning(manager, 'refusing', 4);
  await listening(tasks.filter((task) => task.Slot !== 2));
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const node = cluster.nodes[0]!.address;
  const counts = await load(node, 9104, 40, 1);
  t.equal([...counts.values()].reduce((a, b) => a + b, 0), 40, 'all 40 requests answered: a refused connect moves on to the next task');
  t.notOk([...counts.keys()].some((name) => name.startsWith('refusing.2.')), 'none by the task that refuses');
  const ejections = log.filter((line) => /refusing\.2\.\S+ \(127\.217\.\d+\.\d+:8080\) in node1's pool of refusing:8080 is ejected for 60s after 3 failures in a row \(failed connects, or 5xx answers in http mode\) \(ejection 1\)/.test(line));
  t.equal(ejections.length, 1, `node1 ejected it once, and said so (${ejections[0] ?? log.join(' | ')})`);
});

t.test('a bad label is refused at create and update, naming the label and what it may be', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const refused = await api(manager, 'POST', '/services/create', execService('bad', 9105, { 'routemesh.lb.algorithm': 'fastest' }));
  t.equal(refused.status, 400);
  t.match(refused.body.message, /label routemesh\.lb\.algorithm=fastest: must be one of round-robin, weighted, least-conn, p2c, source-hash/);
  const { body: services } = await api<any[]>(manager, 'GET', '/services');
  t.same(services, [], 'nothing was created');

  await api(manager, 'POST', '/services/create', execService('good', 9105, {}));
  const { body: good } = await api(manager, 'GET', '/services/good');
  const update = await api(manager, 'POST', `/services/good/update?version=${good.Version.Index}`, { ...good.Spec, Labels: { 'routemesh.lb.retries': 'many' } });
  t.equal(update.status, 400);
  t.match(update.body.message, /label routemesh\.lb\.retries=many: must be a whole number from 0 to 10/);
  const { body: after } = await api(manager, 'GET', '/services/good');
  t.same(after.Spec.Labels, {}, 'the service is as it was');
});
