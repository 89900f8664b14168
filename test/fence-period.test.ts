// The timings a cluster takes from its options. The fence of a planned stop: the task leaves every pool
// at once, keeps serving for Swarm's fixed 2 s, then stops; this is the one test that waits the real 2 s
// (the others shorten it through test/support/cluster.ts). And madvirus/simplenode's delays.
import t from 'tap';
import type { Test } from 'tap';
import { api, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import type { ApiResponse } from './support/cluster.js';
import { httpGet } from './support/net.js';

const BLOCK = 79; // nodes 127.79.0.x, tasks 127.80/16, VIPs 127.81/16

const tasksOf = async (manager: string, service: string): Promise<any[]> =>
  (await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`)).body;

/** Scales `service` to 0 and returns, with the response, the time its request was sent. */
async function scaleToZero(manager: string, service: string): Promise<{ sentAt: number; response: ApiResponse }> {
  const { body } = await api(manager, 'GET', `/services/${service}`);
  const sentAt = performance.now();
  const response = await api(manager, 'POST', `/services/${body.ID}/update?version=${body.Version.Index}`, { ...body.Spec, Mode: { Replicated: { Replicas: 0 } } });
  return { sentAt, response };
}

/** A one-task whoami service scaled to 0: how long after the request its task stopped running. */
async function fencedStop(t: Test, fencePeriodMs: number | undefined): Promise<{ stoppedAfterMs: number; servedWhileFenced: string }> {
  const cluster = await testCluster(t, BLOCK, { fencePeriodMs });
  const manager = cluster.nodes[0]!.apiUrl;
  t.equal((await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami'))).status, 201);
  const [task] = await waitForRunning(manager, 'web', 1);
  const { sentAt, response } = await scaleToZero(manager, 'web');
  t.equal(response.status, 200, JSON.stringify(response.body));
  const fenced = (await tasksOf(manager, 'web')).find((x) => x.ID === task.ID);
  t.match(fenced, { DesiredState: 'remove', Status: { State: 'running' } }, 'fenced at once: to be removed, still running');
  const servedWhileFenced = (await httpGet(task.Endpoint.Addr, 80)).body;
  await waitFor('the task to stop', async () => !(await tasksOf(manager, 'web')).some((x) => x.ID === task.ID && x.Status.State === 'running'));
  return { stoppedAfterMs: performance.now() - sentAt, servedWhileFenced };
}

t.test("a planned stop waits Swarm's 2 s fence by default, serving what reaches the task meanwhile", async (t) => {
  const { stoppedAfterMs, servedWhileFenced } = await fencedStop(t, undefined); // the cluster's own default
  t.match(servedWhileFenced, /^Hostname: /, 'the fenced task still answers a connection that reaches it');
  t.ok(stoppedAfterMs >= 2000, `stopped ${Math.round(stoppedAfterMs)} ms after the scale-down: not before the 2 s fence`);
});

t.test('fencePeriodMs shortens the fence', async (t) => {
  const { stoppedAfterMs } = await fencedStop(t, 300);
  t.ok(stoppedAfterMs >= 300 && stoppedAfterMs < 2000, `stopped ${Math.round(stoppedAfterMs)} ms after the scale-down: after the 300 ms fence, before Swarm's 2 s`);
});

t.test("simplenode's delays come from the options: a slow /health, and the wait before ?stop=true exits", async (t) => {
  const cluster = await testCluster(t, BLOCK, { simplenode: { slowHealthMs: 300, stopDelayMs: 50 } });
  const manager = cluster.nodes[0]!.apiUrl;
  await api(manager, 'POST', '/services/create', serviceSpec('simple', 'madvirus/simplenode:0.2', { TaskTemplate: { ContainerSpec: { Image: 'madvirus/simplenode:0.2' }, RestartPolicy: { Condition: 'none' } } }));
  const [task] = await waitForRunning(manager, 'simple', 1);
  const address = task.Endpoint.Addr;
  t.equal((await httpGet(address, 5000, '/?slow=true')).body, 'Health check slowdown');
  let start = performance.now();
  t.equal((await httpGet(address, 5000, '/health')).body, 'SLOW');
  const healthMs = performance.now() - start;
  t.ok(healthMs >= 300 && healthMs < 5000, `/health answered after ${Math.round(healthMs)} ms: the 300 ms asked for, not the app's 5 s`);

  start = performance.now();
  t.match((await httpGet(address, 5000, '/?stop=true')).body, /^Process down: /);
  await waitFor('the task to exit', async () => (await tasksOf(manager, 'simple')).find((x) => x.ID === task.ID && x.Status.State === 'failed'));
  const exitMs = performance.now() - start;
  t.ok(exitMs >= 50 && exitMs < 1000, `exited ${Math.round(exitMs)} ms after ?stop=true: the 50 ms asked for, not the app's 1 s`);
});
