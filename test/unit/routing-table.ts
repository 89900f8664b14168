// buildRoutingTable and backendFor: which published ports a node opens and which task endpoints each pool holds.
import t from 'tap';
import { backendFor, buildRoutingTable, poolKeyOf } from '../../src/mesh/index.js';
import { DEFAULT_LB_SETTINGS } from '../../src/swarm/index.js';
import type { Protocol, Service, Task, TaskEndpoint } from '../../src/swarm/index.js';
import { node, port, service, task } from '../support/swarmObjects.js';

const nodes = [node('n1'), node('n2'), node('n3', 'down')];

t.test('routing table opens only ingress ports that have a published port', async (t) => {
  const web = service('s1', 'web', { ports: [port(8080, 80), port(9090, 90, 'tcp', 'host'), port(undefined, 70)] });
  const { routes, pools } = buildRoutingTable([web], [], nodes);
  t.same([...routes.keys()], ['8080/tcp']);
  t.same([...pools.keys()], ['s1/80/tcp'], 'no pool for the host-mode or unpublished port');
});

t.test('routing table describes a route with its service, target and pool', async (t) => {
  const { routes } = buildRoutingTable([service('s1', 'web', { ports: [port(8080, 80)] })], [], nodes);
  t.same(routes.get('8080/tcp'), {
    key: '8080/tcp', publishedPort: 8080, protocol: 'tcp', serviceId: 's1', serviceName: 'web', targetPort: 80, poolKey: 's1/80/tcp',
    settings: DEFAULT_LB_SETTINGS,
  });
});

t.test('routing table keys routes by port and protocol', async (t) => {
  const dns = service('s1', 'dns', { ports: [port(53, 53, 'tcp'), port(53, 53, 'udp')] });
  const { routes, pools } = buildRoutingTable([dns], [], nodes);
  t.same([...routes.keys()].sort(), ['53/tcp', '53/udp']);
  t.equal(routes.get('53/udp')?.poolKey, 's1/53/udp');
  t.equal(routes.get('53/tcp')?.poolKey, 's1/53/tcp');
  t.equal(pools.size, 2);
});

t.test('routing table lets two services publish the same number on different protocols', async (t) => {
  const a = service('s1', 'a', { ports: [port(5000, 80, 'tcp')] });
  const b = service('s2', 'b', { ports: [port(5000, 81, 'udp')] });
  const { routes } = buildRoutingTable([a, b], [], nodes);
  t.equal(routes.get('5000/tcp')?.serviceName, 'a');
  t.equal(routes.get('5000/udp')?.serviceName, 'b');
});

t.test('routing table shares one pool between two published ports on one target', async (t) => {
  const web = service('s1', 'web', { ports: [port(8080, 80), port(8081, 80)] });
  const { routes, pools } = buildRoutingTable([web], [task('t1', 's1')], nodes);
  t.equal(routes.get('8080/tcp')?.poolKey, routes.get('8081/tcp')?.poolKey);
  t.equal(pools.size, 1);
  t.equal(pools.get('s1/80/tcp')?.length, 1);
});

t.test('routing table has no routes for a service without published ports', async (t) => {
  const { routes, pools } = buildRoutingTable([service('s1', 'web'), service('s2', 'api', { ports: [] })], [task('t1', 's1')], nodes);
  t.equal(routes.size, 0);
  t.equal(pools.size, 0);
});

interface MemberRow {
  name: string;
  task: Task;
  member: boolean;
  state?: 'up' | 'fenced';
}

const memberRows: MemberRow[] = [
  { name: 'a running task with an endpoint on a ready node is up', task: task('t1', 's1'), member: true, state: 'up' },
  { name: 'a running task on a node that is down is left out', task: task('t1', 's1', { node: 'n3' }), member: false },
  { name: 'a running task on a node the cluster no longer lists is left out', task: task('t1', 's1', { node: 'gone' }), member: false },
  { name: 'a running task without an endpoint is left out', task: task('t1', 's1', { endpoint: null }), member: false },
  { name: 'a starting task is left out', task: task('t1', 's1', { state: 'starting' }), member: false },
  { name: 'an assigned task is left out', task: task('t1', 's1', { state: 'assigned' }), member: false },
  { name: 'a failed task is left out', task: task('t1', 's1', { state: 'failed' }), member: false },
  { name: 'a shut-down task is left out', task: task('t1', 's1', { state: 'shutdown', desired: 'shutdown' }), member: false },
  { name: 'a running task desired to shut down is fenced', task: task('t1', 's1', { desired: 'shutdown' }), member: true, state: 'fenced' },
  { name: 'a running task desired to be removed is fenced', task: task('t1', 's1', { desired: 'remove' }), member: true, state: 'fenced' },
  { name: 'a task of another service is not a member', task: task('t1', 's2'), member: false },
];

for (const row of memberRows) {
  t.test(`routing table pool: ${row.name}`, async (t) => {
    const { pools } = buildRoutingTable([service('s1', 'web', { ports: [port(8080, 80)] }), service('s2', 'api', { ports: [port(9000, 80)] })], [row.task], nodes);
    const members = pools.get('s1/80/tcp')!;
    t.equal(members.length, row.member ? 1 : 0);
    if (row.member) t.equal(members[0]!.state, row.state);
  });
}

t.test('routing table builds a member from the task: id, address, label', async (t) => {
  const { pools } = buildRoutingTable(
    [service('s1', 'web', { ports: [port(8080, 80)] })],
    [task('abc', 's1', { slot: 3, name: 'web.3.abc', endpoint: { Addr: '127.20.0.9', Ports: [] } })],
    nodes,
  );
  t.same(pools.get('s1/80/tcp'), [{ id: 'abc', host: '127.20.0.9', port: 80, state: 'up', label: 'web.3.abc', weight: 1 }]);
});

t.test('routing table uses the ListenPort the task reports for that target and protocol', async (t) => {
  const endpoint: TaskEndpoint = {
    Addr: '127.20.0.5',
    Ports: [
      { Protocol: 'udp', TargetPort: 80, ListenPort: 41000 },
      { Protocol: 'tcp', TargetPort: 80, ListenPort: 40080 },
      { Protocol: 'tcp', TargetPort: 443, ListenPort: 40443 },
    ],
  };
  const web = service('s1', 'web', { ports: [port(8080, 80), port(8443, 443), port(8080, 80, 'udp'), port(9999, 53)] });
  const { pools } = buildRoutingTable([web], [task('t1', 's1', { endpoint })], nodes);
  t.equal(pools.get('s1/80/tcp')?.[0]?.port, 40080, 'the unprivileged fallback port');
  t.equal(pools.get('s1/443/tcp')?.[0]?.port, 40443);
  t.equal(pools.get('s1/80/udp')?.[0]?.port, 41000, 'matched by protocol too');
  t.equal(pools.get('s1/53/tcp')?.[0]?.port, 53, 'no entry for the target: the target port itself');
});

t.test('routing table sorts members by task name in slot order (2 before 10)', async (t) => {
  const tasks = [10, 2, 1, 11, 3].map((slot) => task(`id${slot}`, 's1', { slot, name: `web.${slot}.x${slot}` }));
  const { pools } = buildRoutingTable([service('s1', 'web', { ports: [port(8080, 80)] })], tasks, nodes);
  t.same(pools.get('s1/80/tcp')?.map((m) => m.label), ['web.1.x1', 'web.2.x2', 'web.3.x3', 'web.10.x10', 'web.11.x11']);
});

t.test('routing table keeps a fenced old task and its running replacement in one slot, both listed', async (t) => {
  const tasks = [
    task('new', 's1', { slot: 1, name: 'web.1.new', endpoint: { Addr: '127.20.0.3', Ports: [] } }),
    task('old', 's1', { slot: 1, name: 'web.1.old', desired: 'shutdown', endpoint: { Addr: '127.20.0.2', Ports: [] } }),
  ];
  const { pools } = buildRoutingTable([service('s1', 'web', { ports: [port(8080, 80)] })], tasks, nodes);
  t.same(pools.get('s1/80/tcp')?.map((m) => [m.id, m.state]), [['new', 'up'], ['old', 'fenced']]);
});

t.test('routing table labels a member without a name by its task id', async (t) => {
  const { pools } = buildRoutingTable([service('s1', 'web', { ports: [port(8080, 80)] })], [task('t9', 's1', { name: null })], nodes);
  t.equal(pools.get('s1/80/tcp')?.[0]?.label, 't9');
});

t.test('routing table reads published ports from Endpoint.Ports (the allocated ones), not the spec', async (t) => {
  const web = service('s1', 'web', { ports: [port(30001, 80)] });
  web.Spec.EndpointSpec = { Mode: 'vip', Ports: [port(undefined, 80)] };
  const { routes } = buildRoutingTable([web], [], nodes);
  t.same([...routes.keys()], ['30001/tcp']);
});

t.test('backendFor decides membership from state, endpoint and node', async (t) => {
  const up = new Set(['n1']);
  const table: [string, Task, ReturnType<typeof backendFor>][] = [
    ['running on an up node', task('t1', 's1', { endpoint: { Addr: '127.20.0.7', Ports: [] } }), { id: 't1', host: '127.20.0.7', port: 80, state: 'up', label: 's1.1.t1', weight: 1 }],
    ['node not up', task('t1', 's1', { node: 'n2' }), undefined],
    ['not running', task('t1', 's1', { state: 'preparing' }), undefined],
    ['no endpoint', task('t1', 's1', { endpoint: null }), undefined],
    ['desired shutdown', task('t1', 's1', { desired: 'shutdown', endpoint: { Addr: '127.20.0.7', Ports: [] } }), { id: 't1', host: '127.20.0.7', port: 80, state: 'fenced', label: 's1.1.t1', weight: 1 }],
  ];
  for (const [name, input, expected] of table) {
    t.same(backendFor(input, 80, 'tcp', up), expected, name);
  }
});

t.test('poolKeyOf joins service, target port and protocol', async (t) => {
  t.equal(poolKeyOf('abc', 80, 'tcp'), 'abc/80/tcp');
  t.not(poolKeyOf('abc', 53, 'tcp'), poolKeyOf('abc', 53, 'udp'));
});
