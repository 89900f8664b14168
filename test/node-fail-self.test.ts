// `routemesh node fail` sent to the very node it powers off: the engine answers before it goes
// (nodes 127.25.1.x, tasks 127.26.1.0/24, VIPs 127.27.1.0/24).
import t from 'tap';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';
import { cliEnv, routemesh } from './support/cli.js';
import { connectAndWait } from './support/net.js';

const B = testBlock(25);

t.test('a node failed through its own engine API answers, then powers off', async (t) => {
  const cluster = await testCluster(t, B, {
    nodes: 2, heartbeatPeriodMs: 100, metricsPort: undefined,
    subnet: `127.${B}.1.0/24`, taskSubnet: `127.${B + 1}.1.0/24`, vipSubnet: `127.${B + 2}.1.0/24`, dns: `127.${B}.1.250`,
  });
  const [node1, node2] = cluster.nodes;
  const fail = await routemesh(['node', 'fail', 'node2'], cliEnv(`tcp://${node2!.address}:2375`));
  t.same(fail, { code: 0, stdout: 'node2\n', stderr: '' }, 'no "Cannot connect"');
  t.equal(await connectAndWait(node2!.address, 2375, 1000), 'refused', 'and its engine API is off');
  await waitFor('node2 to be marked Down', async () => (await api(node1!.apiUrl, 'GET', '/nodes/node2')).body.Status.State === 'down');

  const again = await routemesh(['node', 'recover', 'node2'], cliEnv(`tcp://${node1!.address}:2375`));
  t.equal(again.code, 0, again.stderr);
  const leader = await routemesh(['node', 'fail', 'node1'], cliEnv(`tcp://${node1!.address}:2375`));
  t.same(leader, { code: 0, stdout: 'node1\n', stderr: '' }, 'the manager too');
});
