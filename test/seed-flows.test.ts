// Two flows of the seeds end to end: seed 004's rolling update to a new image and back, with the
// history `service ps` shows; and a global service that follows a node leaving and a node joining.
import t from 'tap';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh } from './support/cli.js';
import { httpGet } from './support/net.js';

const BLOCK = 190; // nodes 127.190.0.x, tasks 127.191/16, VIPs 127.192/16

t.test('seed 004: rolling update to simplenode:0.2, history in service ps, rollback', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const env = cliEnv(`tcp://${cluster.nodes[0]!.address}:2375`);
  const node2 = cluster.nodes[1]!.address;
  const create = await routemesh(['service', 'create', '--name', 'simple', '--publish', 'published=8000,target=5000', '--replicas', '2', '--update-monitor', '100ms', '--rollback-monitor', '100ms', 'madvirus/simplenode:0.1'], env);
  t.equal(create.code, 0, create.stderr);
  t.match((await httpGet(node2, 8000)).body, /^Hello V0\.1: /);

  const update = await routemesh(['service', 'update', '--update-parallelism', '1', '--update-delay', '200ms', '--update-order', 'start-first', '--image', 'madvirus/simplenode:0.2', 'simple'], env);
  t.equal(update.code, 0, update.stderr);
  t.match(update.stdout, /^simple\n/);
  t.match(update.stdout, /verify: Service simple converged/);
  t.match((await httpGet(node2, 8000)).body, /^Hello V0\.2: /);
  // The old tasks were fenced and are stopping (after the fence period): wait until they have, through the
  // API (a CLI process per poll would cost more than the wait), then read the history as `service ps` shows it.
  await waitFor('the old tasks to have stopped', async () => {
    const { body: tasks } = await api<any[]>(cluster.nodes[0]!.apiUrl, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"simple":true}}')}`);
    return tasks.filter((task) => task.DesiredState === 'shutdown' && task.Status.State === 'shutdown').length === 2;
  });
  const ps = await routemesh(['service', 'ps', 'simple'], env);
  const rows = ps.stdout.trimEnd().split('\n').slice(1);
  t.equal(rows.length, 4);
  t.match(rows[0], /^[0-9a-z]{12} +simple\.1 +madvirus\/simplenode:0\.2 +node\d +Running +Running /);
  t.match(rows[1], /^[0-9a-z]{12} +\\_ simple\.1 +madvirus\/simplenode:0\.1 +node\d +Shutdown +Shutdown /);
  t.match(rows[2], /^[0-9a-z]{12} +simple\.2 +madvirus\/simplenode:0\.2 /);
  t.match(rows[3], /^[0-9a-z]{12} +\\_ simple\.2 +madvirus\/simplenode:0\.1 +node\d +Shutdown +Shutdown /);

  const rollback = await routemesh(['service', 'rollback', 'simple'], env);
  t.equal(rollback.code, 0, rollback.stderr);
  t.match(rollback.stdout, /rollback: manually requested rollback/);
  t.match(rollback.stdout, /verify: Service simple converged/);
  await waitFor('the rollback to complete', async () =>
    (await api(cluster.nodes[0]!.apiUrl, 'GET', '/services/simple')).body.UpdateStatus?.State === 'rollback_completed');
  t.match((await httpGet(node2, 8000)).body, /^Hello V0\.1: /);
});

t.test('a global service: one task per node, none left on a node that leaves, one on a node that joins', async (t) => {
  const cluster = await testCluster(t, BLOCK + 10); // nodes 127.200.0.x
  const manager = cluster.nodes[0]!.apiUrl;
  const node3 = cluster.nodes[2]!;
  await api(manager, 'POST', '/services/create', serviceSpec('study', 'nginx', { Mode: { Global: {} } }));
  await waitForRunning(manager, 'study', 3);

  t.equal((await api(node3.apiUrl, 'POST', '/swarm/leave')).status, 200);
  await waitForRunning(manager, 'study', 2);
  const { body: nodes } = await api<any[]>(manager, 'GET', '/nodes');
  t.match(nodes.find((n) => n.Description.Hostname === 'node3'), { Status: { State: 'down' } }, 'a worker that leaves stays listed, Down');
  t.equal((await api(manager, 'DELETE', '/nodes/node3')).status, 200);

  const { body: swarm } = await api(manager, 'GET', '/swarm');
  const join = await api(node3.apiUrl, 'POST', '/swarm/join', { RemoteAddrs: [`${cluster.nodes[0]!.address}:2377`], JoinToken: swarm.JoinTokens.Worker });
  t.equal(join.status, 200);
  const tasks = await waitForRunning(manager, 'study', 3);
  const { body: joined } = await api(manager, 'GET', '/nodes/node3');
  t.ok(tasks.some((task) => task.NodeID === joined.ID), 'the node that joined got a task');
});
