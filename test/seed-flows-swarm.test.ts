// Seeds 000, 002 and 003 as typed there, through the real docker CLI (test/fixtures/seed-commands.ts): bare
// engines made a swarm with init and join as the tutorials' VMs are, nginx published on port 80 and scaled
// to 6, and seed 003's five nodes: drain, the leader leaving, a worker promoted. Each seed on a cluster of
// its own, nodes 127.17.0.x (the seeds' 192.168.x.y), tasks 127.18/16, VIPs 127.19/16.
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { httpGet } from './support/net.js';
import { isRoot, rows, seedFlow } from './support/seeds.js';
import { missingTool } from './support/tools.js';
import type { CliResult } from './support/cli.js';

const BLOCK = 17;
const skip = missingTool('docker', 'docker.io');

const JOINED_WORKER = 'This node joined a swarm as a worker.\n';
const ID = '[0-9a-z]{25}';

/** The worker join command `swarm init` printed: its token. */
function workerToken(init: CliResult): string {
  return /docker swarm join --token (SWMTKN-1-\S+) /.exec(init.stdout)?.[1] ?? '';
}

/** `docker node ls` as hostname → the row's other columns joined by one space (ID and ENGINE VERSION left out). */
function nodeTable(ls: CliResult): Record<string, string> {
  return Object.fromEntries(ls.stdout.trimEnd().split('\n').slice(1).map((line) => {
    const [, self, hostname, rest] = /^[0-9a-z]{25} (\*?) +(\S+) +(.*?) +28\.2\.2$/.exec(line) ?? [];
    return [hostname ?? line, `${self ? '* ' : ''}${rest?.split(/ {2,}/).join(' ')}`];
  }));
}

t.test('seed 000: three VMs made a swarm, nginx published on 80 on every node, scaled to 6', { skip: skip || (!isRoot && 'port 80 needs root') }, async (t) => {
  const cluster = await testCluster(t, BLOCK, { bare: true });
  const seed = seedFlow(cluster.nodes.map((n) => n.address));
  const init = await seed.run('000-01');
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, new RegExp(`^Swarm initialized: current node \\(${ID}\\) is now a manager\\.\n`));
  seed.vars.workerToken = workerToken(init);
  for (const node of [2, 3]) t.same(await seed.run('000-02', node), { code: 0, stdout: JOINED_WORKER, stderr: '' }, `node${node} joins`);
  t.same(nodeTable(await seed.run('000-03')), { node1: '* Ready Active Leader', node2: 'Ready Active', node3: 'Ready Active' });

  const create = await seed.run('000-04');
  t.equal(create.code, 0, create.stderr);
  t.match(create.stdout, new RegExp(`^${ID}\n[^]*verify: Service ${ID} converged\n$`));
  for (const node of cluster.nodes) t.match((await httpGet(node.address, 80)).body, /<title>Welcome to nginx!<\/title>/, `${node.hostname}:80 serves nginx`);
  t.match(rows((await seed.run('000-05')).stdout), [[/^[0-9a-z]{12}$/, 'my-web', 'replicated', '1/1', 'nginx:latest', '*:80->80/tcp']]);
  t.match(rows((await seed.run('000-06')).stdout), [[/^[0-9a-z]{12}$/, 'my-web.1', 'nginx:latest', /^node[123]$/, 'Running', /^Running /]]);

  const scale = await seed.run('000-07');
  t.equal(scale.code, 0, scale.stderr);
  t.match(scale.stdout, /^my-web scaled to 6\n[^]*verify: Service my-web converged\n$/);
  const tasks = rows((await seed.run('000-08')).stdout);
  t.same(tasks.map((row) => row[1]).sort(), [1, 2, 3, 4, 5, 6].map((slot) => `my-web.${slot}`));
  t.ok(tasks.every((row) => row[4] === 'Running' && row[5]!.startsWith('Running ')), 'all six Running');
  const perNode = new Map<string, number>();
  for (const row of tasks) perNode.set(row[3]!, (perNode.get(row[3]!) ?? 0) + 1);
  t.same(Object.fromEntries(perNode), { node1: 2, node2: 2, node3: 2 }, 'two on each node, as the seed shows');
});

t.test('seed 002: docker-machine default, default-2, default-3 made a swarm; promote and demote', { skip }, async (t) => {
  const cluster = await testCluster(t, BLOCK, { bare: true });
  const seed = seedFlow(cluster.nodes.map((n) => n.address));
  const init = await seed.run('002-01');
  t.equal(init.code, 0, init.stderr);
  seed.vars.workerToken = workerToken(init);
  t.same(await seed.run('002-02'), { code: 0, stdout: JOINED_WORKER, stderr: '' });
  t.same(await seed.run('002-03'), { code: 0, stdout: JOINED_WORKER, stderr: '' });
  const ls = await seed.run('002-04');
  t.match(ls.stdout, /^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION\n/);
  t.same(nodeTable(ls), { node1: '* Ready Active Leader', node2: 'Ready Active', node3: 'Ready Active' });
  t.same(await seed.run('002-05'), { code: 0, stdout: 'Node node2 promoted to a manager in the swarm.\n', stderr: '' });
  t.equal(nodeTable(await seed.run('002-04')).node2, 'Ready Active Reachable');
  t.same(await seed.run('002-06'), { code: 0, stdout: 'Manager node2 demoted in the swarm.\n', stderr: '' });
  t.equal(nodeTable(await seed.run('002-04')).node2, 'Ready Active');
});

t.test('seed 003: five nodes, three managers; drain, the leader leaves, node5 promoted; node rm, update --force, force-new-cluster', { skip }, async (t) => {
  const cluster = await testCluster(t, BLOCK, { bare: true, nodes: 5 });
  const seed = seedFlow(cluster.nodes.map((n) => n.address));
  const init = await seed.run('003-01');
  t.equal(init.code, 0, init.stderr);
  const joinLine = (out: CliResult, role: string): string | undefined =>
    new RegExp(`^To add a ${role} to this swarm, run the following command:\n\n {4}docker swarm join --token (SWMTKN-1-\\S+) ${cluster.nodes[0]!.address}:2377\n\n$`).exec(out.stdout)?.[1];
  const managerToken = joinLine(await seed.run('003-02'), 'manager');
  const worker = joinLine(await seed.run('003-03'), 'worker');
  t.ok(managerToken && worker && managerToken !== worker, 'join-token manager and worker print their join commands');
  seed.vars.managerToken = managerToken!;
  seed.vars.workerToken = worker!;
  for (const node of [2, 3]) t.same(await seed.run('003-04', node), { code: 0, stdout: 'This node joined a swarm as a manager.\n', stderr: '' }, `node${node} joins as a manager`);
  for (const node of [4, 5]) t.same(await seed.run('003-05', node), { code: 0, stdout: JOINED_WORKER, stderr: '' }, `node${node} joins as a worker`);
  t.same(nodeTable(await seed.run('003-06')), {
    node1: '* Ready Active Leader', node2: 'Ready Active Reachable', node3: 'Ready Active Reachable', node4: 'Ready Active', node5: 'Ready Active',
  });
  // Not a seed command: the service seed 003's last hint (`service update --force`) spreads again.
  const manager = cluster.nodes[0]!.apiUrl;
  t.equal((await api(manager, 'POST', '/services/create', { Name: 'spread', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 4 } } })).status, 201);
  await waitForRunning(manager, 'spread', 4);

  t.same(await seed.run('003-07'), { code: 0, stdout: 'node5\n', stderr: '' });
  t.same(await seed.run('003-08'), { code: 0, stdout: 'node3\n', stderr: '' });
  t.same(nodeTable(await seed.run('003-09')), {
    node1: '* Ready Active Leader', node2: 'Ready Active Reachable', node3: 'Ready Drain Reachable', node4: 'Ready Active', node5: 'Ready Drain',
  });

  t.same(await seed.run('003-10'), { code: 0, stdout: 'Node left the swarm.\n', stderr: '' });
  const node2 = cluster.nodes[1]!.apiUrl;
  await waitFor('a new leader among node2 and node3', async () => (await api(node2, 'GET', '/nodes')).status === 200);
  t.same(await seed.run('003-11'), { code: 0, stdout: 'node5\n', stderr: '' });
  t.same(await seed.run('003-12'), { code: 0, stdout: 'Node node5 promoted to a manager in the swarm.\n', stderr: '' });
  const after = nodeTable(await seed.run('003-13'));
  t.equal(after.node1, 'Down Active Unreachable', 'node1 Down and Unreachable, as the seed shows');
  t.match(after, { node3: /^Ready Drain (Reachable|Leader)$/, node4: 'Ready Active', node5: 'Ready Active Reachable' });
  t.match(after.node2, /^\* Ready Active (Leader|Reachable)$/);

  const rmManager = await seed.run('003-14');
  t.equal(rmManager.code, 1, 'node1 is still a manager: node rm refuses it');
  t.match(rmManager.stderr, new RegExp(`^Error response from daemon: rpc error: code = FailedPrecondition desc = node ${ID} is a cluster manager and is a member of the raft cluster\\. It must be demoted to worker before removal\n$`));
  t.same(await seed.run('003-15'), { code: 0, stdout: 'Manager node1 demoted in the swarm.\n', stderr: '' });
  t.same(await seed.run('003-14'), { code: 0, stdout: 'node1\n', stderr: '' }, 'demoted and Down, node1 goes');
  t.notOk('node1' in nodeTable(await seed.run('003-13')), 'node ls no longer lists node1');

  const before = new Set((await waitForRunning(node2, 'spread', 4)).map((task) => task.ID));
  const forced = await seed.run('003-16');
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, /^spread\n[^]*verify: Service spread converged\n$/);
  const replaced = await waitForRunning(node2, 'spread', 4);
  t.notOk(replaced.some((task) => before.has(task.ID)), 'every task replaced');
  const { body: nodes } = await api<any[]>(node2, 'GET', '/nodes');
  const drained = nodes.filter((n) => n.Spec.Availability === 'drain').map((n) => n.ID);
  t.notOk(replaced.some((task) => drained.includes(task.NodeID)), 'none on the drained node3');

  const fresh = await seed.run('003-17');
  t.equal(fresh.code, 0, fresh.stderr);
  t.match(fresh.stdout, new RegExp(`^Swarm initialized: current node \\(${cluster.nodes[1]!.nodeId}\\) is now a manager\\.\n`));
  const alone = nodeTable(await seed.run('003-13'));
  t.equal(alone.node2, '* Ready Active Leader');
  t.same(Object.entries(alone).filter(([, row]) => /Reachable|Leader/.test(row)).map(([name]) => name), ['node2'], 'node2 the only manager');
  t.equal((await waitForRunning(node2, 'spread', 4)).length, 4, 'the service is kept');
});
