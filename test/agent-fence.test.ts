// A mass stop through the agent's fence: every task waits out the whole fence period before it stops,
// and waiting costs no listener per stop (Node warned "MaxListenersExceededWarning ... abort listeners"
// when each stop waited on the agent's AbortSignal).
import t from 'tap';
import { api, serviceSpec, testBlock, testCluster, waitFor } from './support/cluster.js';

const BLOCK = testBlock(50);
const REPLICAS = 60;
/** Swarm's fixed fence period, which the agent keeps. */
const FENCE_MS = 2000;

t.test('many tasks stopped at once each wait out the fence, with no listener piled up per stop', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => { warnings.push(`${warning.name}: ${warning.message}`); };
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });

  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined });
  const base = cluster.nodes[0]!.apiUrl;
  t.equal((await api(base, 'POST', '/services/create', serviceSpec('many', 'traefik/whoami', { Mode: { Replicated: { Replicas: REPLICAS } } }))).status, 201);
  const store = cluster.engines[0]!.requireManager().store;
  const tasks = () => store.tasks().filter((task) => task.Spec.ContainerSpec.Image === 'traefik/whoami');
  await waitFor(`${REPLICAS} tasks running`, () => tasks().filter((task) => task.Status.State === 'running').length === REPLICAS, 30_000);

  const { body: service } = await api(base, 'GET', '/services/many');
  const scaledAt = Date.now();
  t.equal((await api(base, 'POST', `/services/many/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 0 } } })).status, 200);
  await waitFor('every task shut down', () => tasks().every((task) => task.Status.State === 'shutdown'), 30_000);

  const early = tasks().filter((task) => Date.parse(task.Status.Timestamp) - scaledAt < FENCE_MS);
  t.same(early.map((task) => task.Name), [], `every task stopped at least ${FENCE_MS} ms after the scale-down`);
  t.same(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), [], 'no listener piled up per stop');
});
