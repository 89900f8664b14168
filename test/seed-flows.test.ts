// Flows of the seeds end to end: seed 004's rolling update to a new image and back, with the history
// `service ps` shows; a global service that follows a node leaving and a node joining; and seed 004's
// commands as typed there through the real docker CLI (test/fixtures/seed-commands.ts). The other seeds:
// test/seed-flows-swarm.test.ts (000, 002, 003), seed-flows-reference.test.ts and seed-flows-parts.test.ts (001).
import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';
import { SEED_COMMANDS } from './fixtures/seed-commands.js';
import { api, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh } from './support/cli.js';
import type { CliResult } from './support/cli.js';
import { connectAndWait, httpGet } from './support/net.js';
import { rows, seedFlow } from './support/seeds.js';
import { missingTool } from './support/tools.js';

const BLOCK = 190; // nodes 127.190.0.x, tasks 127.191/16, VIPs 127.192/16
const UPDATE_BLOCK = 3; // seed 004's update section beside the rest: 127.3.0.x, 127.4/16, 127.5/16

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

t.test('seed 004 as typed there: simplenode published on 8000, scaled, removed, updated to 0.2; health checks', { skip: missingTool('docker', 'docker.io') }, async (t) => {
  // Three swarms side by side (each create, scale and update waits its monitor, the update its 10 s delay):
  // the tutorial's scaling and removal on 127.190.0.x, its update section (which starts from the service line
  // 5 creates) on 127.3.0.x, and its health-check and publish examples on 127.200.0.x, each wanting
  // the name simple and port 8000.
  const [cluster, updating, second] = await Promise.all([testCluster(t, BLOCK), testCluster(t, UPDATE_BLOCK), testCluster(t, BLOCK + 10)]);
  const tasksOf = async (manager: string): Promise<any[]> => (await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"simple":true}}')}`)).body;
  const createdAs = /^[0-9a-z]{25}\n[^]*verify: Service [0-9a-z]{25} converged\n$/;
  const first = async (): Promise<void> => {
    const seed = seedFlow(cluster.nodes.map((n) => n.address));
    const manager = cluster.nodes[0]!.apiUrl;
    const create = await seed.run('004-01');
    t.match(create, { code: 0, stdout: createdAs }, `004-01 ${create.stderr}`);
    for (const node of cluster.nodes) t.match((await httpGet(node.address, 8000)).body, /^Hello V0\.1: [0-9a-f]{12}$/, `${node.hostname}:8000 answers`);
    const running = (ps: CliResult, image: string): string[] => rows(ps.stdout).filter((row) => row[4] === 'Running' && row[2] === image).map((row) => row[1]!).sort();
    t.same(running(await seed.run('004-02'), 'madvirus/simplenode:0.1'), ['simple.1', 'simple.2']);
    t.match(await seed.run('004-03'), { code: 0, stdout: /^simple scaled to 4\n[^]*verify: Service simple converged\n$/ });
    t.same(running(await seed.run('004-04'), 'madvirus/simplenode:0.1'), ['simple.1', 'simple.2', 'simple.3', 'simple.4']);
    t.match(await seed.run('004-05'), { code: 0, stdout: /^simple scaled to 1\n[^]*verify: Service simple converged\n$/ });
    await waitFor('the scaled-down tasks to be gone', async () => (await tasksOf(manager)).length === 1);
    t.same(rows((await seed.run('004-06')).stdout).map((row) => row.slice(1, 3).concat(row[4]!)), [['simple.1', 'madvirus/simplenode:0.1', 'Running']], 'the oldest task stays');
    t.same(await seed.run('004-07'), { code: 0, stdout: 'simple\n', stderr: '' });
    await waitFor('simple\'s tasks to be gone', async () => (await tasksOf(manager)).length === 0);
    await waitFor('port 8000 to close with the service', async () => (await connectAndWait(cluster.nodes[1]!.address, 8000, 1000)) === 'refused');
  };
  const update = async (): Promise<void> => {
    const seed = seedFlow(updating.nodes.map((n) => n.address));
    const manager = updating.nodes[0]!.apiUrl;
    t.match(await seed.run('004-01'), { code: 0, stdout: createdAs });
    const updated = await seed.run('004-08');
    t.match(updated, { code: 0, stdout: /^simple\n[^]*verify: Service simple converged\n$/ }, `004-08 ${updated.stderr}`);
    t.match((await httpGet(updating.nodes[1]!.address, 8000)).body, /^Hello V0\.2: /);
    await waitFor('the old tasks to have stopped', async () => (await tasksOf(manager)).filter((task) => task.Status.State === 'shutdown').length === 2);
    const history = rows((await seed.run('004-09')).stdout).map((row) => `${row[1]} ${row[2]} ${row[4]}`);
    t.same(history, ['simple.1 madvirus/simplenode:0.2 Running', '\\_ simple.1 madvirus/simplenode:0.1 Shutdown', 'simple.2 madvirus/simplenode:0.2 Running', '\\_ simple.2 madvirus/simplenode:0.1 Shutdown'],
      '0.2 running, 0.1 shut down under each slot, as the seed shows');
  };
  const health = async (): Promise<void> => {
    const seed = seedFlow(second.nodes.map((n) => n.address));
    const manager = second.nodes[0]!.apiUrl;
    const create = await seed.run('004-10');
    t.match(create, { code: 0, stdout: createdAs }, `004-10 ${create.stderr}`);
    t.match((await api(manager, 'GET', '/services/simple')).body.Spec.TaskTemplate.ContainerSpec.Healthcheck,
      { Test: ['CMD-SHELL', 'curl -f http://localhost:5000/health'], Interval: 10e9, Timeout: 3e9, Retries: 3, StartPeriod: 10e9 }, 'the health check as given');
    t.same(rows((await seed.run('004-11')).stdout).map((row) => `${row[1]} ${row[2]} ${row[4]}`).sort(),
      ['simple.1 madvirus/simplenode:0.2 Running', 'simple.2 madvirus/simplenode:0.2 Running'], 'both tasks healthy and running');
    t.match((await httpGet(second.nodes[2]!.address, 8000)).body, /^Hello V0\.2: /);
    t.same(await seed.run('004-07'), { code: 0, stdout: 'simple\n', stderr: '' });
    await waitFor('port 8000 to close', async () => (await connectAndWait(second.nodes[0]!.address, 8000, 1000)) === 'refused');
    t.equal((await seed.run('004-12')).code, 0);
    for (const node of second.nodes) t.match((await httpGet(node.address, 8000)).body, /^Hello V0\.2: /, `${node.hostname}:8000 answers`);
  };
  await Promise.all([first(), update(), health()]);
});

t.test('every command of the seed inventory is run by a seed flow, those using a part of issue 16 in seed-flows-parts', async (t) => {
  const ids = SEED_COMMANDS.map((c) => c.id);
  t.same([...new Set(ids)], ids, 'each ID once');
  const dir = new URL('.', import.meta.url);
  const runBy = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((name) => /^seed-flows.*\.test\.ts$/.test(name))) {
    for (const [, id] of readFileSync(new URL(file, dir), 'utf8').matchAll(/'(\d{3}-\d{2})'/g)) runBy.set(id!, [...runBy.get(id!) ?? [], file]);
  }
  t.same(ids.filter((id) => !runBy.has(id)), [], 'none left out');
  t.same([...runBy.keys()].filter((id) => !ids.includes(id)), [], 'none run that the inventory lacks');
  const inParts = (id: string): boolean => runBy.get(id)!.every((file) => file === 'seed-flows-parts.test.ts');
  t.same(SEED_COMMANDS.filter((c) => (c.needs !== undefined) !== inParts(c.id)).map((c) => c.id), [],
    'a command names a part exactly when only seed-flows-parts runs it');
});
