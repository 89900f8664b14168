// Planned changes under load with every node its own process (`routemesh up`): a steady stream of new
// connections through all three nodes while the service scales down, rolls to a new image and loses a
// node to drain. Not one request may fail: a task stops only once every node's mesh, in its own process,
// has said it applied the view that fences it. Nodes 127.203.0.x, tasks 127.204/16, VIPs 127.205/16.
import t from 'tap';
import { api, published, serviceSpec, testBlock, waitFor, waitForRunning } from './support/cluster.js';
import { upProcess } from './support/cli.js';
import { steadyLoad, updateService } from './support/load.js';

const BLOCK = testBlock(203);

/** Waits until every task of `service` told to stop has stopped: the step's fences and stops are all behind the load. */
async function stopsDone(manager: string, service: string): Promise<void> {
  await waitFor(`the stopped tasks of ${service} to end`, async () => {
    const { body: tasks } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`);
    return !tasks.some((task) => task.DesiredState !== 'running' && ['running', 'starting', 'assigned', 'accepted', 'preparing'].includes(task.Status.State));
  }, 20_000);
}

t.test('as node processes, scale-down, a rolling update and a drain under steady load fail no request', async (t) => {
  // The in-process test's fence period: the meshes, in other processes, must each say they fenced a task first.
  const up = await upProcess(t, ['--nodes', '3', '--subnet', `127.${BLOCK}.0.0/24`, '--task-subnet', `127.${BLOCK + 1}.0.0/16`,
    '--vip-subnet', `127.${BLOCK + 2}.0.0/16`, '--dns', `127.${BLOCK}.0.250`, '--dns-upstream', `127.${BLOCK}.0.251`, '--metrics-port', 'off',
    '--fence-period', '500ms']);
  const hosts = [1, 2, 3].map((i) => `127.${BLOCK}.0.${i}`);
  const manager = `http://${hosts[0]}:2375`;
  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', {
    Mode: { Replicated: { Replicas: 6 } },
    UpdateConfig: { Parallelism: 2, Delay: 0, Monitor: 200_000_000, Order: 'stop-first', FailureAction: 'pause' },
    ...published(80, 8080),
  }));
  await waitForRunning(manager, 'web', 6);

  const load = steadyLoad(hosts, 8080, 300);
  t.teardown(() => load.stop());
  await waitFor('the load to get going', () => load.ok >= 200, 20_000);
  const said = (what: string): void => { t.comment(`${new Date().toISOString()} ${what} (${load.ok} answered)`); };

  said('scaling down to 2');
  await updateService(manager, 'web', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 2 } } }));
  await waitForRunning(manager, 'web', 2);
  await stopsDone(manager, 'web');
  const afterScale = load.ok;
  await waitFor('requests after the scale-down', () => load.ok >= afterScale + 200);

  said('rolling to VERSION=2 at 4 replicas');
  await updateService(manager, 'web', (spec) => ({ ...spec, Mode: { Replicated: { Replicas: 4 } }, TaskTemplate: { ...spec.TaskTemplate, ContainerSpec: { ...spec.TaskTemplate.ContainerSpec, Env: ['VERSION=2'] } } }));
  await waitFor('the rolling update to complete', async () => (await api(manager, 'GET', '/services/web')).body.UpdateStatus?.State === 'completed', 60_000);
  await stopsDone(manager, 'web');
  const afterUpdate = load.ok;
  await waitFor('requests after the update', () => load.ok >= afterUpdate + 200);

  said('draining node2');
  const { body: node } = await api(manager, 'GET', '/nodes/node2');
  await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' });
  await waitFor('no task left on node2', async () => {
    const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks');
    return !tasks.some((task) => task.NodeID === node.ID && task.Status.State === 'running');
  }, 20_000);
  await waitForRunning(manager, 'web', 4);
  await stopsDone(manager, 'web');
  const afterDrain = load.ok;
  await waitFor('requests after the drain', () => load.ok >= afterDrain + 200);

  await load.stop();
  said('done');
  t.ok(load.ok > 800, `${load.ok} requests answered`);
  t.same(load.failures, [], 'no request failed');
  t.notMatch(up.stderr(), /not every mesh said it applied view/, 'every stop waited for every mesh\'s acknowledgement, none for its timeout');
  if (load.failures.length) t.comment(`up's output:\n${up.stdout()}\n${up.stderr()}`);
});
