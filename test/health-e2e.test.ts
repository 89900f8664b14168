// Seed 004's health flow end to end: tasks enter the pool only once healthy; `?slow=true` makes one
// fail its checks, leave the pool and be replaced; `?stop=true` makes one exit 1 and be replaced.
import t from 'tap';
import { api, published, serviceSpec, testCluster, waitFor } from './support/cluster.js';
import { httpGet } from './support/net.js';

const BLOCK = 176; // nodes 127.176.0.x, tasks 127.177/16, VIPs 127.178/16
const MS = 1_000_000;

t.test('health checks, self-healing and crashes, as in seed 004', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const node1 = cluster.nodes[0]!.address;
  const created = await api(manager, 'POST', '/services/create', serviceSpec('simple', 'madvirus/simplenode:0.2', {
    Mode: { Replicated: { Replicas: 2 } },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'madvirus/simplenode:0.2',
        Healthcheck: { Test: ['CMD-SHELL', 'curl -f http://localhost:5000/health'], Interval: 100 * MS, Timeout: 50 * MS, Retries: 2, StartPeriod: 0 },
      },
      RestartPolicy: { Condition: 'any', Delay: 100 * MS },
    },
    ...published(5000, 8000),
  }));
  t.equal(created.status, 201);
  const tasksOf = async () => (await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"simple":true}}')}`)).body;
  const healthy = () => waitFor('two healthy running tasks', async () => {
    const running = (await tasksOf()).filter((task) => task.DesiredState === 'running' && task.Status.State === 'running');
    return running.length === 2 && running.every((task) => task.Status.Health === 'healthy') ? running : undefined;
  });
  const first = await healthy();
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  t.match((await httpGet(node1, 8000)).body, /^Hello V0\.2: [0-9a-f]{12}$/);

  await t.test('a task that fails its checks leaves the pool, fails as unhealthy and is replaced', async (t) => {
    const { body } = await httpGet(node1, 8000, '/?slow=true');
    t.equal(body, 'Health check slowdown');
    const failed = await waitFor('the slow task to fail its checks', async () =>
      (await tasksOf()).find((task) => task.Status.State === 'failed' && first.some((f) => f.ID === task.ID)));
    t.equal(failed.Status.Err, 'task: non-zero exit (143): dockerexec: unhealthy container');
    t.equal(failed.Status.Health, 'unhealthy');
    const now = await healthy();
    const replacement = now.filter((task) => task.Slot === failed.Slot);
    t.equal(replacement.length, 1, 'its slot runs one task');
    t.notOk(first.some((task) => task.ID === replacement[0]?.ID), 'a new one');
    for (let i = 0; i < 6; i++) t.match((await httpGet(node1, 8000)).body, /^Hello V0\.2/, 'every answer comes from a healthy task');
  });

  await t.test('a task whose process exits is replaced after the restart delay', async (t) => {
    const before = await healthy();
    const { body } = await httpGet(node1, 8000, '/?stop=true');
    t.match(body, /^Process down: [0-9a-f]{12}$/);
    const crashed = await waitFor('the task to exit', async () =>
      (await tasksOf()).find((task) => task.Status.State === 'failed' && before.some((b) => b.ID === task.ID)));
    t.equal(crashed.Status.Err, 'task: non-zero exit (1)');
    const after = await healthy();
    const replacement = after.find((task) => task.Slot === crashed.Slot);
    t.ok(replacement && !before.some((task) => task.ID === replacement.ID), 'a new task took its slot');
  });
});
