// A node that fails (routemesh's fault injection): the managers mark it Down after the heartbeat
// timeout, replace its tasks on the nodes that are up, and the mesh keeps answering; recovered, it
// comes back Ready and empty (Swarm does not rebalance) and routes again.
import t from 'tap';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh } from './support/cli.js';
import { connectAndWait, whoamiHost } from './support/net.js';

const BLOCK = 180; // nodes 127.180.0.x, tasks 127.181/16, VIPs 127.182/16

t.test('node fail and node recover', async (t) => {
  const cluster = await testCluster(t, BLOCK, { heartbeatPeriodMs: 100 });
  const manager = cluster.nodes[0]!.apiUrl;
  const [node1, , node3] = cluster.nodes;
  const env = cliEnv(`tcp://${node1!.address}:2375`);
  t.equal((await api(manager, 'GET', '/swarm')).body.Spec.Dispatcher.HeartbeatPeriod, 100_000_000, 'the swarm shows the heartbeat period it uses, in ns');
  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 6 } }, ...published(80, 8080) }));
  const before = await waitForRunning(manager, 'web', 6);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const fail = await routemesh(['node', 'fail', 'node3'], env);
  t.equal(fail.code, 0, fail.stderr);
  t.equal(fail.stdout, 'node3\n');
  t.equal(await connectAndWait(node3!.address, 8080, 1000), 'refused', 'a failed node answers nothing');
  t.equal(await connectAndWait(node3!.address, 2375, 1000), 'refused', 'not even its engine API');

  // Polled through the API (a CLI process per poll would cost more than the wait); then the table once.
  await waitFor('node3 to be marked Down', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'down');
  t.match((await routemesh(['node', 'ls'], env)).stdout, /node3 +Down/, 'node ls shows it Down');
  const after = await waitForRunning(manager, 'web', 6);
  t.notOk(after.some((task) => task.NodeID === node3!.nodeId), 'its tasks were replaced on the nodes that are up');
  t.equal(after.filter((task) => before.some((b) => b.ID === task.ID)).length, 4, 'the other tasks stayed');
  const hosts = new Set<string>();
  for (let i = 0; i < 12; i++) hosts.add(await whoamiHost(node1!.address, 8080));
  t.equal(hosts.size, 6, 'the mesh serves from all six running tasks');

  const recover = await routemesh(['node', 'recover', 'node3'], env);
  t.equal(recover.code, 0, recover.stderr);
  await waitFor('node3 to be Ready', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'ready');
  t.match((await routemesh(['node', 'ls'], env)).stdout, /node3 +Ready/, 'node ls shows it Ready');
  const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks');
  t.notOk(tasks.some((task) => task.NodeID === node3!.nodeId && task.DesiredState === 'running'), 'it comes back empty: no rebalancing');
  const answer = await waitFor('node3 to route again', () => whoamiHost(node3!.address, 8080).catch(() => undefined));
  t.match(answer, /^[0-9a-f]{12}$/);

  const twice = await routemesh(['node', 'recover', 'node3'], env);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /node3 has not failed: nothing to recover/);
  const unknown = await routemesh(['node', 'fail', 'node9'], env);
  t.match(unknown.stderr, /node node9 not found/);
});
