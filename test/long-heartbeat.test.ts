// A heartbeat period past setInterval's range (2^31-1 ms, ~24.8 days), as `up --heartbeat-period 720h`
// sets it and Swarm accepts (any duration of 0 or more): nodes beat once, then after the period, never
// every 1 ms as an overflowed interval would (with a TimeoutOverflowWarning).
// Addresses: nodes 127.73.0.x, tasks 127.74/16, VIPs 127.75/16.
import t from 'tap';
import { api, serviceSpec, testBlock, testCluster, waitForRunning } from './support/cluster.js';

const BLOCK = testBlock(73);
const HOUR_MS = 3_600_000;

t.test('a 720h heartbeat period beats once at the start, not every millisecond', async (t) => {
  const overflows: string[] = [];
  const onWarning = (warning: Error): void => { if (warning.name === 'TimeoutOverflowWarning') overflows.push(warning.message); };
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });

  const cluster = await testCluster(t, BLOCK, { nodes: 2, heartbeatPeriodMs: 720 * HOUR_MS, metricsPort: undefined });
  const manager = cluster.engines[0]!.requireManager();
  let beats = 0;
  const heartbeat = manager.heartbeat.bind(manager);
  manager.heartbeat = (nodeId: string) => { beats++; heartbeat(nodeId); };

  // Time for many turns of the event loop: a service created and its tasks running.
  const base = cluster.engines[0]!.apiUrl;
  await api(base, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 2 } } }));
  await waitForRunning(base, 'web', 2);

  t.same(overflows, [], 'no timer overflowed');
  t.equal(beats, 0, 'no node beat again: the next beats are 720h away');
  const { body: nodes } = await api<any[]>(base, 'GET', '/nodes');
  t.same(nodes.map((n) => n.Status.State), ['ready', 'ready'], 'both nodes are Ready');
});
