// A node's data-plane metrics as a table of events in, exposition out: each event counted once under the
// right labels; pool members 1 per task and state even when a task is in two pools; bytes of open
// connections included; a closing mesh does not blank a newer one's gauges; a task gone from the pools
// has its series removed after the delay, and one that comes back in time keeps them.
import { Registry } from 'prom-client';
import t from 'tap';
import { Backend } from '../../src/lb/index.js';
import { MeshMetrics } from '../../src/mesh/index.js';
import type { LiveConnection, PoolView } from '../../src/mesh/index.js';
import { waitFor } from '../support/cluster.js';

function setup(forgetAfterMs?: number) {
  const registry = new Registry();
  const metrics = new MeshMetrics(registry, 'node2', forgetAfterMs === undefined ? {} : { forgetAfterMs });
  const lines = async (prefix: string) => (await registry.metrics()).split('\n').filter((l) => l.startsWith(prefix));
  return { metrics, lines };
}

const backend = (label: string, state: Backend['state'] = 'up') => {
  const b = new Backend(label, '127.20.0.2', 80, label);
  b.state = state;
  return b;
};

t.test('each event is counted once, under its route and task', async (t) => {
  const { metrics, lines } = setup();
  const inner: string[] = [];
  const events = metrics.eventsFor({ service: 'web', port: '8080', protocol: 'tcp' }, {
    connected: () => inner.push('connected'), connectError: () => inner.push('connectError'), failed: () => inner.push('failed'),
    answered: () => inner.push('answered'),
  });
  const a = backend('web.1.a');
  events.connected!(a, 1);
  events.connected!(a, 2);
  events.connectError!(a, new Error('refused'));
  events.retried!();
  events.failed!('no_backend');
  events.answered!(a, 503);
  events.upstreamConnected!(a, 0.002);
  t.same(inner, ['connected', 'connected', 'connectError', 'failed', 'answered'], 'the pool\'s own events still run (outlier detection)');
  t.same(await lines('routemesh_connections_total{'), ['routemesh_connections_total{node="node2",service="web",port="8080",protocol="tcp",task="web.1.a"} 2']);
  t.same(await lines('routemesh_connect_failures_total{'), ['routemesh_connect_failures_total{node="node2",service="web",task="web.1.a"} 1']);
  t.same(await lines('routemesh_retries_total{'), ['routemesh_retries_total{node="node2",service="web"} 1']);
  t.same(await lines('routemesh_balancing_failures_total{'), ['routemesh_balancing_failures_total{node="node2",service="web",reason="no_backend"} 1']);
  t.same(await lines('routemesh_http_requests_total{'), ['routemesh_http_requests_total{node="node2",service="web",task="web.1.a",code="5xx"} 1']);
  t.same(await lines('routemesh_upstream_connect_duration_seconds_count{'), ['routemesh_upstream_connect_duration_seconds_count{node="node2",service="web"} 1']);

  // UDP: a flow counts when it opens; the task's first answer (`connected`) is not a second one.
  const udp = metrics.eventsFor({ service: 'dns', port: '53', protocol: 'udp' }, {});
  udp.flowOpened!(a);
  udp.connected!(a, 1);
  t.same(await lines('routemesh_connections_total{node="node2",service="dns"'), ['routemesh_connections_total{node="node2",service="dns",port="53",protocol="udp",task="web.1.a"} 1']);
});

t.test('pool members: 1 per task and state, even in two pools; bytes of open connections included', async (t) => {
  const { metrics, lines } = setup();
  const [a, b, c] = [backend('web.1.a'), backend('web.2.b', 'fenced'), backend('web.3.c', 'fenced')];
  c.unhealthy = true;
  const d = backend('web.4.d');
  d.ejectedUntil = Date.now() + 60_000;
  a.active = 2;
  const pools: PoolView[] = [{ serviceName: 'web', backends: [a, b, c, d] }, { serviceName: 'web', backends: [a] }];
  let live: LiveConnection[] = [{ service: 'web', read: 10, written: 100 }];
  metrics.read(() => pools, () => live);
  t.same(await lines('routemesh_pool_members{'), [
    'routemesh_pool_members{node="node2",service="web",task="web.1.a",state="serving"} 1',
    'routemesh_pool_members{node="node2",service="web",task="web.2.b",state="draining"} 1',
    'routemesh_pool_members{node="node2",service="web",task="web.3.c",state="unhealthy"} 1',
    'routemesh_pool_members{node="node2",service="web",task="web.4.d",state="ejected"} 1',
  ]);
  t.same(await lines('routemesh_active_connections{node="node2",service="web",task="web.1.a"}'), ['routemesh_active_connections{node="node2",service="web",task="web.1.a"} 4'], 'summed over its two pools');
  metrics.connectionClosed('web', 1, 2);
  t.same(await lines('routemesh_bytes_total{'), [
    'routemesh_bytes_total{node="node2",service="web",direction="in"} 11',
    'routemesh_bytes_total{node="node2",service="web",direction="out"} 102',
  ]);
  // The open connection closes: its bytes move from live to done, and the counter never goes back.
  live = [];
  metrics.connectionClosed('web', 10, 100);
  t.same(await lines('routemesh_bytes_total{'), [
    'routemesh_bytes_total{node="node2",service="web",direction="in"} 11',
    'routemesh_bytes_total{node="node2",service="web",direction="out"} 102',
  ]);
});

t.test('a closing mesh does not blank the gauges of the mesh that replaced it', async (t) => {
  const { metrics, lines } = setup();
  const oldPools = () => [{ serviceName: 'web', backends: [backend('web.1.old')] }];
  const newPools = () => [{ serviceName: 'web', backends: [backend('web.1.new')] }];
  metrics.read(oldPools, () => []);
  metrics.read(newPools, () => []); // the node rejoined before the old mesh finished closing
  metrics.stopReading(oldPools);
  t.same(await lines('routemesh_pool_members{'), ['routemesh_pool_members{node="node2",service="web",task="web.1.new",state="serving"} 1']);
  metrics.stopReading(newPools);
  t.same(await lines('routemesh_pool_members{'), []);
});

t.test('a task gone from every pool loses its series after the delay; one back in time keeps them', async (t) => {
  const { metrics, lines } = setup(50);
  const events = metrics.eventsFor({ service: 'web', port: '8080', protocol: 'tcp' }, {});
  for (const label of ['web.1.a', 'web.2.b']) events.connected!(backend(label), 1);
  metrics.tasksInPools(new Set(['web.1.a', 'web.2.b']));
  metrics.tasksInPools(new Set()); // both leave ...
  metrics.tasksInPools(new Set(['web.2.b'])); // ... and b comes back before the delay
  await waitFor('a\'s series to go', async () => (await lines('routemesh_connections_total{')).length === 1, 2000);
  t.same(await lines('routemesh_connections_total{'), ['routemesh_connections_total{node="node2",service="web",port="8080",protocol="tcp",task="web.2.b"} 1']);
});
