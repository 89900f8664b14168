// Seed 001, the reference sheet, as far as routemesh serves it before issue 16's parts land: the swarm
// commands (init with and without an address, join, token rotation, leave, node rm, promote/demote), the
// service commands (create, scale, global mode, update, rollback, ls/ps/inspect, rm) and the node ones
// (availability, labels, every constraint kind), each through the real docker CLI as the sheet writes it,
// placeholders filled (test/fixtures/seed-commands.ts). The rest of the sheet (events, stats, df, ps, run,
// networks, secrets, configs, mounts) is test/seed-flows-parts.test.ts. Nodes 127.150.0.x, tasks
// 127.151/16, VIPs 127.152/16; node3 has the engine label disk=ssd.
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { rows, seedFlow } from './support/seeds.js';
import { missingTool } from './support/tools.js';
import type { CliResult } from './support/cli.js';

const BLOCK = 150;
const skip = missingTool('docker', 'docker.io');
const ID = '[0-9a-z]{25}';
const NOT_IN_SWARM = 'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.\n';

const converged = (out: CliResult, name: string): boolean => out.code === 0 && out.stdout.endsWith(`verify: Service ${name} converged\n`);

t.test('seed 001: swarm, services, nodes and constraints as the sheet writes them', { skip }, async (t) => {
  const cluster = await testCluster(t, BLOCK, { bare: true, engineLabels: { node3: { disk: 'ssd' } } });
  const seed = seedFlow(cluster.nodes.map((n) => n.address));
  const manager = cluster.nodes[0]!.apiUrl;
  const n1 = cluster.nodes[0]!.address;

  // The swarm.
  const init = await seed.run('001-10');
  t.equal(init.code, 0, init.stderr);
  const firstToken = /docker swarm join --token (SWMTKN-1-\S+) /.exec(init.stdout)?.[1] ?? '';
  seed.vars.workerToken = firstToken;
  for (const node of [2, 3]) t.same(await seed.run('001-11', node), { code: 0, stdout: 'This node joined a swarm as a worker.\n', stderr: '' }, `node${node} joins`);
  t.equal(rows((await seed.run('001-14')).stdout).length, 3, 'node ls: three nodes');

  const managerBefore = (await api(manager, 'GET', '/swarm')).body.JoinTokens.Manager;
  const rotation = (out: CliResult, role: string): string | undefined =>
    new RegExp(`^Successfully rotated ${role} join token\\.\n\nTo add a ${role} to this swarm, run the following command:\n\n {4}docker swarm join --token (SWMTKN-1-\\S+) ${n1.replace(/\./g, '\\.')}:2377\n\n$`).exec(out.stdout)?.[1];
  const worker = rotation(await seed.run('001-12'), 'worker');
  t.ok(worker && worker !== firstToken, 'join-token --rotate worker prints a new worker token');
  const managerToken = rotation(await seed.run('001-13'), 'manager');
  t.ok(managerToken && managerToken !== managerBefore, 'join-token --rotate manager prints a new manager token');

  t.same(await seed.run('001-15'), { code: 0, stdout: 'Node left the swarm.\n', stderr: '' }, 'swarm leave on node3');
  await waitFor('node3 Down', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'down');
  t.same(await seed.run('001-16'), { code: 0, stdout: 'node3\n', stderr: '' });
  t.notMatch((await seed.run('001-14')).stdout, /node3/, 'node ls no longer lists node3');
  const stale = await seed.run('001-11', 3);
  t.same([stale.code, stale.stderr], [1, 'Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster\n'],
    'the token rotated away no longer joins');
  seed.vars.workerToken = worker!;
  t.equal((await seed.run('001-11', 3)).code, 0, 'the new one does');

  t.same(await seed.run('001-18'), { code: 0, stdout: 'Node node2 promoted to a manager in the swarm.\n', stderr: '' });
  t.same(await seed.run('001-19'), { code: 0, stdout: 'Manager node2 demoted in the swarm.\n', stderr: '' });
  t.same(await seed.run('001-45'), { code: 0, stdout: 'node2\n', stderr: '' });
  t.same((await api(manager, 'GET', '/nodes/node2')).body.Spec.Labels, { env: 'dev' }, 'node2 labelled env=dev');

  // Services side by side (each create, scale, update and rollback waits the 5 s monitor of a service
  // without one): web is created, scaled, updated and rolled back while the others are created.
  seed.vars.node3Id = (await api(manager, 'GET', '/nodes/node3')).body.ID;
  const createdAs = (out: CliResult): boolean => out.code === 0 && new RegExp(`^${ID}\n[^]*verify: Service ${ID} converged\n$`).test(out.stdout);
  const web = async (): Promise<void> => {
    const create = await seed.run('001-20');
    t.ok(createdAs(create), `001-20 converges ${create.stderr}`);
    t.equal((await waitForRunning(manager, 'web', 2)).length, 2, 'web: 2 running');
    const scale = await seed.run('001-21');
    t.ok(scale.stdout.startsWith('web scaled to 3\n') && converged(scale, 'web'), scale.stdout + scale.stderr);
    await waitForRunning(manager, 'web', 3);
    const update = await seed.run('001-28');
    t.ok(update.stdout.startsWith('web\n') && converged(update, 'web'), update.stdout + update.stderr);
    t.ok((await waitForRunning(manager, 'web', 3)).every((task) => task.Spec.ContainerSpec.Image.startsWith('nginx:1.27')), 'every web task runs nginx:1.27');
    const rollback = await seed.run('001-30');
    t.ok(rollback.stdout.includes('rollback: manually requested rollback') && converged(rollback, 'web'), rollback.stdout + rollback.stderr);
    const image = (await api(manager, 'GET', '/services/web')).body.Spec.TaskTemplate.ContainerSpec.Image;
    t.match(image, /^nginx(:latest)?(@|$)/, 'back to nginx:latest');
  };
  const others = ['001-22', '001-29', '001-46', '001-47', '001-48', '001-49', '001-50', '001-51'];
  const [created] = await Promise.all([Promise.all(others.map((id) => seed.run(id))), web()]);
  for (const [i, out] of created.entries()) t.ok(createdAs(out), `${others[i]} docker ${seed.argv(others[i]!).join(' ')} converges ${out.stderr}`);
  const ids = Object.fromEntries((await api<any[]>(manager, 'GET', '/nodes')).body.map((n) => [n.ID, n.Description.Hostname]));
  const placed = async (service: string, count: number): Promise<string[]> => (await waitForRunning(manager, service, count)).map((task) => ids[task.NodeID]).sort();
  t.same(await placed('study', 3), ['node1', 'node2', 'node3'], 'study: one task on every node');
  t.same(await placed('c-label', 1), ['node2'], 'node.labels.env == dev: node2');
  t.same(await placed('c-id', 1), ['node3'], 'node.id == <node3\'s>: node3');
  t.same(await placed('c-host', 1), ['node2'], 'node.hostname == node2');
  t.same(await placed('c-manager', 1), ['node1'], 'node.role == manager: node1');
  t.notOk((await placed('c-worker', 4)).includes('node1'), 'node.role == worker: none on node1');
  t.same(await placed('c-engine', 1), ['node3'], 'engine.labels.disk == ssd: node3');
  const generated = (await api(manager, 'GET', `/services/${created[1]!.stdout.split('\n')[0]}`)).body;
  t.match(generated.Spec, { Name: /^[a-z]+_[a-z]+$/, Mode: { Replicated: { Replicas: 4 } }, UpdateConfig: { Parallelism: 3, Delay: 15e9, FailureAction: 'rollback' } },
    '--replicas 4 --update-delay 15s --update-parallelism 3 --update-failure-action rollback, under a name made up as dockerd makes one');

  const ls = rows((await seed.run('001-31')).stdout);
  t.same(ls.map((row) => row[1]).sort(), ['c-engine', 'c-host', 'c-id', 'c-label', 'c-manager', 'c-worker', generated.Spec.Name, 'study', 'web'].sort(), 'service ls: every service');
  t.match(ls.find((row) => row[1] === 'study'), [/./, 'study', 'global', '3/3']);
  const ps = rows((await seed.run('001-32')).stdout).filter((row) => row[4] === 'Running');
  t.same(ps.map((row) => `${row[1]} ${row[2]}`).sort(), ['web.1 nginx:latest', 'web.2 nginx:latest', 'web.3 nginx:latest'], 'service ps web: three running, nginx:latest again');
  const [inspected] = JSON.parse((await seed.run('001-33')).stdout);
  t.match(inspected, { ID: /^[0-9a-z]{25}$/, Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: /^nginx:latest@sha256:/ } } } });
  // The CLI asks this one without the defaults inserted (as Docker's does), so only the service is compared.
  const [typed] = JSON.parse((await seed.run('001-34')).stdout);
  t.same([typed.ID, typed.Spec.Name, typed.Spec.TaskTemplate.ContainerSpec.Image], [inspected.ID, 'web', inspected.Spec.TaskTemplate.ContainerSpec.Image],
    'docker inspect --type service shows the same service');

  // Availability: drain moves node2's tasks away, pause and active are kept as said.
  const node2Id = (await api(manager, 'GET', '/nodes/node2')).body.ID;
  t.same(await seed.run('001-42'), { code: 0, stdout: 'node2\n', stderr: '' });
  await waitFor('no task left running on the drained node2', async () =>
    !(await api<any[]>(manager, 'GET', '/tasks')).body.some((task) => task.NodeID === node2Id && task.Status.State === 'running'));
  t.equal((await waitForRunning(manager, 'web', 3)).filter((task) => task.NodeID === node2Id).length, 0, 'web\'s tasks moved off node2');
  for (const [id, availability] of [['001-43', 'pause'], ['001-44', 'active']] as const) {
    t.same(await seed.run(id), { code: 0, stdout: 'node2\n', stderr: '' });
    t.equal((await api(manager, 'GET', '/nodes/node2')).body.Spec.Availability, availability);
  }

  t.same(await seed.run('001-35'), { code: 0, stdout: 'web\n', stderr: '' });
  await waitFor('web\'s tasks gone', async () => (await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"web":true}}')}`)).body.length === 0);

  // The last manager leaves with --force; plain `swarm init` then makes a new swarm on node1's one address.
  t.same(await seed.run('001-17'), { code: 0, stdout: 'Node left the swarm.\n', stderr: '' });
  t.same(await seed.run('001-14'), { code: 1, stdout: '', stderr: NOT_IN_SWARM }, 'node ls: no longer a swarm manager');
  const again = await seed.run('001-09');
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, new RegExp(`^Swarm initialized: current node \\(${ID}\\) is now a manager\\.\n[^]* ${n1.replace(/\./g, '\\.')}:2377\n`), 'swarm init without --advertise-addr uses node1\'s address');
});
