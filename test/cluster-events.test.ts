// The cluster's events in its log, one line each and once per swarm however many managers it has:
// services created, scaled, updated and removed, nodes joining, drained, down and back, tasks failed and
// rejected, a burst of failures in a line a second; and each change costs the watcher a look-up, never a
// scan of the store.
import t from 'tap';
import { ClusterEvents } from '../src/engine/ClusterEvents.js';
import { Store } from '../src/swarm/index.js';
import type { SwarmNode } from '../src/swarm/index.js';
import { api, serviceSpec, testCluster, waitFor } from './support/cluster.js';
import { node, service, task } from './support/swarmObjects.js';

const BLOCK = 90; // nodes 127.90.0.x, tasks 127.91/16, VIPs 127.92/16

/** The lines logged so far that are events (the log also says other things, such as where DNS went). */
function eventLines(log: string[]): string[] {
  return log.filter((line) => /^(node|service|task) /.test(line));
}

t.test('a cluster logs each event once, with two managers', async (t) => {
  const log: string[] = [];
  // Heartbeats of 500 ms, not 100: on a loaded machine a 100 ms period marked every node down before the first create.
  const cluster = await testCluster(t, BLOCK, { managers: 2, heartbeatPeriodMs: 500, log: (line) => log.push(line) });
  const manager = cluster.nodes[0]!.apiUrl;
  const logged = (what: string, pattern: RegExp) => waitFor(what, () => eventLines(log).some((line) => pattern.test(line)));

  t.same(eventLines(log), [
    'node node1 joined the swarm as a manager (127.90.0.1)',
    'node node1 is the leader',
    'node node2 joined the swarm as a manager (127.90.0.2)',
    'node node3 joined the swarm as a worker (127.90.0.3)',
  ], 'the swarm forming');

  const created = await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } } }));
  t.equal(created.status, 201);
  const update = async (change: (spec: any) => void) => {
    const { body: service } = await api(manager, 'GET', `/services/${created.body.ID}`);
    change(service.Spec);
    t.equal((await api(manager, 'POST', `/services/${created.body.ID}/update?version=${service.Version.Index}`, service.Spec)).status, 200);
  };
  await update((spec) => { spec.Mode.Replicated.Replicas = 1; });
  await update((spec) => { spec.TaskTemplate.ContainerSpec.Image = 'nginx'; });

  const failing = await api(manager, 'POST', '/services/create', serviceSpec('crash', 'routemesh/exec', {
    // On node1, which stays: a task on the node drained below would be replaced, and fail a second time.
    TaskTemplate: {
      ContainerSpec: { Image: 'routemesh/exec', Command: ['sh', '-c', 'exit 3'] },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: ['node.hostname==node1'] },
    },
  }));
  t.equal(failing.status, 201);
  await logged('the crash task to fail', /^task crash\.1\./);
  const missing = await api(manager, 'POST', '/services/create', serviceSpec('ghost', 'nosuch', { TaskTemplate: { ContainerSpec: { Image: 'nosuch' }, RestartPolicy: { Condition: 'none' } } }));
  t.equal(missing.status, 201);
  await logged('the ghost task to be rejected', /^task ghost\.1\./);

  const node3 = (await api(manager, 'GET', '/nodes')).body.find((n: SwarmNode) => n.Description.Hostname === 'node3');
  t.equal((await api(manager, 'POST', `/nodes/${node3.ID}/update?version=${node3.Version.Index}`, { ...node3.Spec, Availability: 'drain' })).status, 200);
  await cluster.engines[1]!.fail();
  await logged('node2 to be down', /^node node2 is down$/);
  await cluster.engines[1]!.recover();
  await logged('node2 to be back', /^node node2 is ready again$/);
  for (const id of [created.body.ID, failing.body.ID, missing.body.ID]) t.equal((await api(manager, 'DELETE', `/services/${id}`)).status, 200);
  await logged('ghost to be removed', /^service ghost removed$/);

  const lines = eventLines(log).slice(4);
  const once = (line: string | RegExp) => t.equal(lines.filter((l) => (typeof line === 'string' ? l === line : line.test(l))).length, 1, `once: ${line}`);
  once(/^service web created \(traefik\/whoami(:latest)?, 3 replicas\)$/);
  once('service web scaled from 3 to 1');
  once('service web updated');
  once(/^task crash\.1\.[0-9a-z]{25} failed on node1: task: non-zero exit \(3\)/);
  once(/^task ghost\.1\.[0-9a-z]{25} rejected on node[1-3]: No such image: nosuch(:latest)?$/);
  once('node node3 is drained');
  once('node node2 is down');
  once('node node2 is ready again');
  for (const name of ['web', 'crash', 'ghost']) once(`service ${name} removed`);
});

t.test('each change costs the watcher a look-up: no scan of the store, whatever its size', async (t) => {
  const store = new Store();
  const log: string[] = [];
  const events = new ClusterEvents(store, (line) => log.push(line));
  t.teardown(() => events.close());
  let scans = 0;
  for (const method of ['nodes', 'services', 'tasks', 'tasksOfService'] as const) {
    const real = store[method].bind(store);
    (store as any)[method] = (...args: [string]) => { scans++; return real(...args); };
  }
  const big = (replicas: number) => { const s = service('s', 'big'); s.Spec.Mode = { Replicated: { Replicas: replicas } }; return s; };
  const failed = (id: string, slot: number) => { const f = task(id, 's', { slot, state: 'failed', name: `big.${slot}.${id}` }); f.Status.Err = 'task: non-zero exit (1)'; return f; };
  store.putNode(node('n1'));
  store.putService(big(2000));
  for (let slot = 1; slot <= 2000; slot++) store.putTask(task(`t${slot}`, 's', { slot }));
  store.putTask(failed('t7', 7));
  store.putTask(failed('t7', 7)); // written again in the same state: said once
  store.putService(big(10));
  for (let slot = 11; slot <= 2000; slot++) store.deleteTask(`t${slot}`);
  const drained = node('n1');
  drained.Spec.Availability = 'drain';
  store.putNode(drained);
  store.deleteService('s');
  t.equal(scans, 0, 'no change listed the store');
  t.same(log, [
    'node n1 joined the swarm as a worker (127.1.0.1)',
    'service big created (nginx, 2000 replicas)',
    'task big.7.t7 failed on n1: task: non-zero exit (1)',
    'service big scaled from 2000 to 10',
    'node n1 is drained',
    'service big removed',
  ]);
  events.close();
  store.putTask(failed('t8', 8));
  t.equal(log.length, 6, 'closed, it says nothing more');
});

t.test('a burst of task failures is said in a few lines: the first at once, then a count per service each second', async (t) => {
  const store = new Store();
  const log: string[] = [];
  // A timer the test fires, one per window: the ClusterEvents' own 1 s.
  const armed: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const setTimer = (fn: () => void, ms: number) => {
    const timer = { fn, ms, cancelled: false };
    armed.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  };
  const fire = () => { for (const timer of armed.splice(0)) if (!timer.cancelled) timer.fn(); };
  const events = new ClusterEvents(store, (line) => log.push(line), setTimer);
  t.teardown(() => events.close());
  const failed = (serviceId: string, name: string, slot: number, state: 'failed' | 'rejected' = 'failed', err = 'task: non-zero exit (1)') => {
    const f = task(`${serviceId}-${slot}-${state}`, serviceId, { slot, state, name: `${name}.${slot}.x${slot}` });
    f.Status.Err = err;
    store.putTask(f);
  };
  store.putNode(node('n1'));
  store.putService(service('w', 'web'));
  store.putService(service('a', 'api'));
  log.length = 0;

  for (let slot = 1; slot <= 5000; slot++) failed('w', 'web', slot);
  failed('a', 'api', 1, 'failed', 'task: non-zero exit (2)');
  failed('w', 'web', 1, 'rejected', 'No such image: nosuch:latest');
  t.same(log, [
    'task web.1.x1 failed on n1: task: non-zero exit (1)',
    'task api.1.x1 failed on n1: task: non-zero exit (2)',
    'task web.1.x1 rejected on n1: No such image: nosuch:latest',
  ], 'the first failure of each service (and state) at once, the rest counted');
  t.ok(armed.every((timer) => timer.ms === 1000), 'counted for a second');

  fire();
  t.same(log.slice(3), ['4999 more tasks of web failed (first: task: non-zero exit (1))'], 'then said in one line');
  for (let slot = 1; slot <= 3; slot++) failed('w', 'web', slot + 5000, 'failed', 'task: non-zero exit (137)');
  fire();
  t.same(log.slice(4), ['3 more tasks of web failed (first: task: non-zero exit (137))'], 'while they keep coming, once a second');
  fire();
  t.equal(log.length, 5, 'a second without failures says nothing');
  failed('w', 'web', 9000);
  t.same(log.slice(5), ['task web.9000.x9000 failed on n1: task: non-zero exit (1)'], 'and the next failure is said at once again');
  failed('w', 'web', 9001);
  events.close();
  t.same(log.slice(6), ['1 more task of web failed (first: task: non-zero exit (1))'], 'closing says what was still counted');
});
