// A bare engine started by itself (`routemesh node start`) joins a swarm of node processes over the
// cluster port with the real docker CLI, as a new machine joins Swarm: docker node ls shows it, services
// spread to it, its port 8080 reaches the mesh. A wrong token is refused with Swarm's words, and the
// engine stays usable. Nodes 127.243.0.x, tasks 127.244/16, VIPs 127.245/16.
import { rmSync } from 'node:fs';
import t from 'tap';
import { api, testBlock, waitFor } from './support/cluster.js';
import { docker, spawnRoutemesh, tempDataDir, upProcess } from './support/cli.js';
import { whoamiHost } from './support/net.js';
import { requireTool } from './support/tools.js';

const BLOCK = testBlock(243);
const address = (n: number): string => `127.${BLOCK}.0.${n}`;
/** What every node of the swarm is given alike. */
const CLUSTER_WIDE = ['--task-subnet', `127.${BLOCK + 1}.0.0/16`, '--vip-subnet', `127.${BLOCK + 2}.0.0/16`, '--dns', `127.${BLOCK}.0.250`,
  '--dns-upstream', `127.${BLOCK}.0.251`, '--metrics-port', 'off'];

t.test('routemesh node start, then docker swarm join: node4 is in the swarm, gets tasks, and serves the mesh', async (t) => {
  if (!requireTool(t, 'docker', 'docker.io')) return;
  const up = await upProcess(t, ['--nodes', '2', '--demo', '--subnet', `127.${BLOCK}.0.0/24`, ...CLUSTER_WIDE]);
  const { root, dataDir } = tempDataDir();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const node4 = spawnRoutemesh(['node', 'start', '--address', address(4), '--hostname', 'node4', '--data-dir', dataDir, ...CLUSTER_WIDE]);
  t.teardown(() => { node4.kill('SIGKILL'); });
  let said = '';
  node4.stdout!.on('data', (chunk) => { said += chunk; });
  node4.stderr!.resume();
  await waitFor('node4 to start', () => said.includes('Ctrl-C'));

  const tokens = (await api(`http://${address(1)}:2375`, 'GET', '/swarm')).body.JoinTokens;
  // The right swarm (its CA's digest) with a wrong secret: Swarm's manager refuses it, in its words.
  const wrong = `${tokens.Worker.slice(0, tokens.Worker.lastIndexOf('-'))}-${'b'.repeat(25)}`;
  const refused = await docker(address(4), 'swarm', 'join', '--token', wrong, `${address(1)}:2377`);
  t.equal(refused.code, 1, 'a wrong token is refused');
  t.match(refused.stderr, 'Error response from daemon: rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster',
    'with Swarm\'s message');
  const malformed = await docker(address(4), 'swarm', 'join', '--token', 'SWMTKN-1-not-a-token', `${address(1)}:2377`);
  t.same([malformed.code, malformed.stderr.trim()], [1, 'Error response from daemon: invalid join token'], 'so is one not of Swarm\'s form');
  const after = await docker(address(4), 'info', '--format', '{{.Swarm.LocalNodeState}}');
  t.same([after.code, after.stdout.trim()], [0, 'inactive'], 'the engine still answers, not in a swarm');

  const joined = await docker(address(4), 'swarm', 'join', '--token', tokens.Worker, `${address(1)}:2377`);
  t.same([joined.code, joined.stdout.trim()], [0, 'This node joined a swarm as a worker.'], `the worker token joins it ${joined.stderr}`);
  const nodes = await docker(address(1), 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}');
  t.same(nodes.stdout.trim().split('\n').sort(), ['node1 Ready', 'node2 Ready', 'node4 Ready'], 'docker node ls shows node4 Ready');

  // Scaled from 6 on two nodes to 8: the scheduler spreads the new tasks to node4, which has none.
  const scaled = await docker(address(1), 'service', 'scale', '--detach', 'my-web=8');
  t.equal(scaled.code, 0, `docker service scale my-web=8 ${scaled.stderr}`);
  const node4Id = (await api(`http://${address(1)}:2375`, 'GET', '/nodes/node4')).body.ID;
  const onNode4 = await waitFor('a running task of my-web on node4', async () => {
    const running = (await api<any[]>(`http://${address(1)}:2375`, 'GET', '/tasks')).body.filter((task) => task.NodeID === node4Id && task.Status.State === 'running');
    return running.length ? running : undefined;
  });
  t.pass(`node4 runs ${onNode4.length} of the 8 tasks`);
  t.match(await waitFor('node4\'s port 8080 to answer', () => whoamiHost(address(4), 8080).catch(() => undefined)), /^[0-9a-f]{12}$/,
    'node4\'s port 8080 reaches the service');
  t.equal(up.child.exitCode, null, 'up runs on');
});
