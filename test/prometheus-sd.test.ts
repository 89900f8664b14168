// `up --prometheus-sd FILE` keeps a file_sd target file: every node in the swarm that serves metrics,
// written whole; a node that fails leaves it and comes back when it recovers; a path that cannot be
// written is said at start. examples/prometheus.yml is a valid configuration.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { PrometheusTargetsFile, targetGroups } from '../src/cli/PrometheusTargetsFile.js';
import { testCluster, waitFor } from './support/cluster.js';
import { requireTool } from './support/tools.js';

const BLOCK = 110; // nodes 127.110.0.x, tasks 127.111/16, VIPs 127.112/16

t.test('the target file follows nodes failing and coming back', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'routemesh-sd-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'targets.json');
  const cluster = await testCluster(t, BLOCK);
  const targets = new PrometheusTargetsFile(file, () => cluster.nodes, { everyMs: 20 });
  await targets.start();
  t.teardown(() => targets.stop());
  const read = async () => JSON.parse(await readFile(file, 'utf8')) as { targets: string[]; labels: Record<string, string> }[];

  t.same(await read(), [
    { targets: [`127.${BLOCK}.0.1:9323`], labels: { routemesh_node: 'node1', routemesh_role: 'manager' } },
    { targets: [`127.${BLOCK}.0.2:9323`], labels: { routemesh_node: 'node2', routemesh_role: 'worker' } },
    { targets: [`127.${BLOCK}.0.3:9323`], labels: { routemesh_node: 'node3', routemesh_role: 'worker' } },
  ], 'written at start, one group per node');

  await cluster.engines[2]!.fail();
  await waitFor('node3 to leave the file', async () => (await read()).length === 2);
  t.same((await read()).map((g) => g.labels.routemesh_node), ['node1', 'node2']);
  await cluster.engines[2]!.recover();
  await waitFor('node3 to come back', async () => (await read()).length === 3);
  t.same((await read()).map((g) => g.labels.routemesh_node), ['node1', 'node2', 'node3']);
});

t.test('nodes out of the swarm, or without metrics, are no targets', async (t) => {
  const node = (hostname: string, role: 'manager' | 'worker' | 'none', metricsUrl?: string) => ({
    hostname, address: '127.1.0.1', role, apiUrl: 'http://127.1.0.1:2375', socketUrl: 'unix:///run/routemesh/127.1.0.1.sock', nodeId: 'x', ...(metricsUrl ? { metricsUrl } : {}),
  });
  t.same(targetGroups([
    node('node1', 'manager', 'http://127.1.0.1:9323/metrics'),
    node('node2', 'none', 'http://127.1.0.2:9323/metrics'),
    node('node3', 'worker'),
    node('node4', 'worker', 'http://127.1.0.4:9400/metrics'),
  ]), [
    { targets: ['127.1.0.1:9323'], labels: { routemesh_node: 'node1', routemesh_role: 'manager' } },
    { targets: ['127.1.0.4:9400'], labels: { routemesh_node: 'node4', routemesh_role: 'worker' } },
  ]);
});

t.test('a file that cannot be written is said at start', async (t) => {
  const targets = new PrometheusTargetsFile('/nonexistent-dir/targets.json', () => []);
  t.teardown(() => targets.stop()); // were it to start after all, its refresh would run on
  await t.rejects(targets.start(), /--prometheus-sd \/nonexistent-dir\/targets\.json: cannot write it/);
});

t.test('examples/prometheus.yml is a configuration promtool accepts', async (t) => {
  if (!requireTool(t, 'promtool', 'prometheus')) return;
  const config = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'examples', 'prometheus.yml');
  const output = await new Promise<string>((resolve, reject) => {
    execFile('promtool', ['check', 'config', config], (error, stdout, stderr) => {
      if (error) reject(new Error(`${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
  t.match(output, /SUCCESS/);
});
