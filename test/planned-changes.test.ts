// Planned changes under load: a steady stream of new connections through all three nodes while the
// service scales down, rolls to a new image and loses a node to drain. Not one request may fail.
import http from 'node:http';
import t from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { steadyLoad, updateService as update } from './support/load.js';

const BLOCK = testBlock(170); // nodes 127.170.0.x, tasks 127.171/16, VIPs 127.172/16

t.test('scale-down, a rolling update and a drain under steady load fail no request', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const hosts = cluster.nodes.map((n) => n.address);
  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', {
    Mode: { Replicated: { Replicas: 6 } },
    UpdateConfig: { Parallelism: 2, Delay: 0, Monitor: 200_000_000, Order: 'stop-first', FailureAction: 'pause' },
    ...published(80, 8080),
  }));
  await waitForRunning(manager, 'web', 6);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const load = steadyLoad(hosts, 8080, 500);
  t.teardown(() => load.stop());
  await waitFor('the load to get going', () => load.ok >= 200);

  await update(manager, 'web', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 2 } } }));
  await waitForRunning(manager, 'web', 2);
  const afterScale = load.ok;
  await waitFor('requests after the scale-down', () => load.ok >= afterScale + 200);

  await update(manager, 'web', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 4 } }, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Env: ['VERSION=2'] } } }));
  await waitFor('the rolling update to complete', async () => (await api(manager, 'GET', '/services/web')).body.UpdateStatus?.State === 'completed', 30_000);
  const afterUpdate = load.ok;
  await waitFor('requests after the update', () => load.ok >= afterUpdate + 200);

  const { body: node } = await api(manager, 'GET', '/nodes/node2');
  await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' });
  await waitFor('no task left on node2', async () => {
    const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks');
    return !tasks.some((task) => task.NodeID === cluster.nodes[1]!.nodeId && task.Status.State === 'running');
  });
  await waitForRunning(manager, 'web', 4);
  const afterDrain = load.ok;
  await waitFor('requests after the drain', () => load.ok >= afterDrain + 200);

  await load.stop();
  t.ok(load.ok > 800, `${load.ok} requests answered`);
  t.same(load.failures.map((f) => f.what), [], 'no request failed');
});

t.test('a crashed task costs at most the requests in flight on it; new connections never go to it', async (t) => {
  const cluster = await testCluster(t, BLOCK + 3); // nodes 127.173.0.x, tasks 127.174/16, VIPs 127.175/16
  const manager = cluster.nodes[0]!.apiUrl;
  const hosts = cluster.nodes.map((n) => n.address);
  await api(manager, 'POST', '/services/create', serviceSpec('simple', 'madvirus/simplenode:0.2', {
    Mode: { Replicated: { Replicas: 3 } },
    TaskTemplate: { ContainerSpec: { Image: 'madvirus/simplenode:0.2' }, RestartPolicy: { Delay: 100_000_000 } },
    ...published(5000, 8000),
  }));
  const before = await waitForRunning(manager, 'simple', 3);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const load = steadyLoad(hosts, 8000, 300);
  t.teardown(() => load.stop());
  await waitFor('the load to get going', () => load.ok >= 100);

  const stop = await new Promise<string>((resolve, reject) => {
    http.get({ host: hosts[0], port: 8000, path: '/?stop=true', agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  t.match(stop, /^Process down: /);
  await waitFor('the task to be replaced', async () => {
    const running = await waitForRunning(manager, 'simple', 3);
    return running.some((task) => !before.some((b) => b.ID === task.ID)) ? running : undefined;
  });
  const afterCrash = load.ok;
  await waitFor('requests after the replacement', () => load.ok >= afterCrash + 300);
  await load.stop();
  t.ok(load.failures.length <= 3, `at most the few requests in flight at the crash failed (${load.failures.length}: ${load.failures.map((f) => f.what).join(', ')})`);
});
