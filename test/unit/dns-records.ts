// dnsRecords: the cluster view turned into the embedded DNS server's records — which tasks DNS names
// (exactly those the pools hold as 'up'), and each service's VIP, ports, listen ports and networks.
import t from 'tap';
import { buildRoutingTable, dnsRecords, poolKeyOf } from '../../src/mesh/index.js';
import type { PortConfig, Protocol, Service, Task, TaskEndpoint } from '../../src/swarm/index.js';
import type { TaskOptions } from '../support/swarmObjects.js';
import { node, port, service, task } from '../support/swarmObjects.js';

const nodes = [node('n1'), node('n2'), node('n3', 'down')];
const web = (): Service => service('s1', 'web', { ports: [port(8080, 80)], vips: ['127.10.0.2/16'] });

interface MemberRow {
  name: string;
  task: Task;
  listed: boolean;
}

const memberRows: MemberRow[] = [
  { name: 'a running task with an endpoint on a ready node is listed', task: task('t1', 's1'), listed: true },
  { name: 'a running task on a second ready node is listed', task: task('t1', 's1', { node: 'n2' }), listed: true },
  { name: 'a running task whose health check passed is listed', task: task('t1', 's1', { health: 'healthy' }), listed: true },
  { name: 'a starting task (health check not yet passed) is left out', task: task('t1', 's1', { state: 'starting', health: 'starting' }), listed: false },
  { name: 'a starting task without a health check is left out', task: task('t1', 's1', { state: 'starting' }), listed: false },
  { name: 'an assigned task is left out', task: task('t1', 's1', { state: 'assigned', endpoint: null }), listed: false },
  { name: 'a running task desired to shut down (fenced) is left out', task: task('t1', 's1', { desired: 'shutdown' }), listed: false },
  { name: 'a running task desired to be removed (fenced) is left out', task: task('t1', 's1', { desired: 'remove' }), listed: false },
  { name: 'a running task turned unhealthy is left out', task: task('t1', 's1', { health: 'unhealthy' }), listed: false },
  { name: 'a running task on a node that is down is left out', task: task('t1', 's1', { node: 'n3' }), listed: false },
  { name: 'a running task on a node the cluster no longer lists is left out', task: task('t1', 's1', { node: 'gone' }), listed: false },
  { name: 'a running task without an endpoint is left out', task: task('t1', 's1', { endpoint: null }), listed: false },
  { name: 'a failed task is left out', task: task('t1', 's1', { state: 'failed' }), listed: false },
  { name: 'a completed task is left out', task: task('t1', 's1', { state: 'complete', desired: 'shutdown' }), listed: false },
  { name: 'a task of another service is not listed under this one', task: task('t1', 's2'), listed: false },
];

for (const row of memberRows) {
  t.test(`dns records: ${row.name}`, async (t) => {
    const records = dnsRecords([web(), service('s2', 'api')], [row.task], nodes);
    const names = records.find((r) => r.name === 'web')!.tasks.map((r) => r.name);
    t.strictSame(names, row.listed ? ['s1.1.t1'] : []);
  });
}

t.test('dns records: a task record is the task\'s name and endpoint address', async (t) => {
  const [record] = dnsRecords([web()], [task('abc', 's1', { slot: 3, name: 'web.3.abc', endpoint: { Addr: '127.20.0.9', Ports: [] } })], nodes);
  t.strictSame(record!.tasks, [{ name: 'web.3.abc', address: '127.20.0.9' }]);
});

t.test('dns records: a task without a name is named by its id', async (t) => {
  const [record] = dnsRecords([web()], [task('t9', 's1', { name: null })], nodes);
  t.strictSame(record!.tasks.map((r) => r.name), ['t9']);
});

t.test('dns records: one record per service, in the services\' order, named by Spec.Name', async (t) => {
  const records = dnsRecords([service('s2', 'api'), web(), service('s3', 'idle')], [task('t1', 's1'), task('t2', 's2')], nodes);
  t.strictSame(records.map((r) => r.name), ['api', 'web', 'idle']);
  t.strictSame(records.map((r) => r.tasks.length), [1, 1, 0], 'a service with no tasks has an empty list');
});

interface VipRow {
  name: string;
  vips: string[] | undefined;
  expect: string | undefined;
}

const vipRows: VipRow[] = [
  { name: 'the VIP is the first VirtualIP without its prefix', vips: ['127.10.0.2/16'], expect: '127.10.0.2' },
  { name: 'a VirtualIP given without a prefix is taken as is', vips: ['127.10.0.7'], expect: '127.10.0.7' },
  { name: 'with several VirtualIPs the first one is the VIP', vips: ['127.10.0.4/16', '10.0.0.2/24'], expect: '127.10.0.4' },
  { name: 'a dnsrr service (no VirtualIPs) has no vip', vips: undefined, expect: undefined },
  { name: 'an empty VirtualIPs list means no vip', vips: [], expect: undefined },
];

for (const row of vipRows) {
  t.test(`dns records: ${row.name}`, async (t) => {
    const [record] = dnsRecords([service('s1', 'web', row.vips ? { vips: row.vips } : {})], [task('t1', 's1')], nodes);
    t.equal(record!.vip, row.expect);
    t.equal('vip' in record!, row.expect !== undefined, 'the key is absent, not undefined, without a VIP');
  });
}

interface PortsRow {
  name: string;
  servicePorts?: PortConfig[];
  tasks: Task[];
  /** `80` is 80/tcp; `'53/udp'` names the protocol. */
  expect: (number | string)[];
}

const ep = (ports: [Protocol, number, number][]): TaskEndpoint => ({
  Addr: '127.20.0.2',
  Ports: ports.map(([Protocol, TargetPort, ListenPort]) => ({ Protocol, TargetPort, ListenPort })),
});

const portsRows: PortsRow[] = [
  { name: 'ports are the service\'s endpoint tcp ports', servicePorts: [port(8080, 80), port(8443, 443)], tasks: [], expect: [80, 443] },
  { name: 'udp endpoint ports are listed as udp (SRV _53._udp)', servicePorts: [port(8080, 80), port(5353, 53, 'udp')], tasks: [], expect: ['53/udp', 80] },
  { name: 'one port number in both protocols is two ports, tcp first', servicePorts: [port(5353, 53, 'udp'), port(5353, 53)], tasks: [], expect: [53, '53/udp'] },
  { name: 'sctp ports are left out (nothing serves them)', servicePorts: [port(8080, 80), port(3868, 3868, 'sctp')], tasks: [], expect: [80] },
  { name: 'unpublished and host-mode endpoint ports count too', servicePorts: [port(undefined, 70), port(9090, 90, 'tcp', 'host')], tasks: [], expect: [70, 90] },
  { name: 'tcp ports running tasks listen on are added, sorted', servicePorts: [port(8080, 80)], tasks: [task('t1', 's1', { endpoint: ep([['tcp', 9000, 9000], ['tcp', 25, 25]]) })], expect: [25, 80, 9000] },
  { name: 'a port both on the endpoint and on a task is listed once', servicePorts: [port(8080, 80)], tasks: [task('t1', 's1', { endpoint: ep([['tcp', 80, 10080]]) })], expect: [80] },
  { name: 'a task\'s udp ports are listed as udp', tasks: [task('t1', 's1', { endpoint: ep([['udp', 53, 53]]) })], expect: ['53/udp'] },
  { name: 'ports of a task that is not running are left out', tasks: [task('t1', 's1', { state: 'starting', endpoint: ep([['tcp', 9000, 9000]]) })], expect: [] },
  { name: 'ports of a fenced running task still count', tasks: [task('t1', 's1', { desired: 'shutdown', endpoint: ep([['tcp', 9000, 9000]]) })], expect: [9000] },
  { name: 'a service with no ports has none', tasks: [task('t1', 's1')], expect: [] },
];

for (const row of portsRows) {
  t.test(`dns records: ${row.name}`, async (t) => {
    const svc = service('s1', 'web', { vips: ['127.10.0.2/16'], ...(row.servicePorts ? { ports: row.servicePorts } : {}) });
    const [record] = dnsRecords([svc], row.tasks, nodes);
    t.strictSame(record!.ports, row.expect.map((p) => typeof p === 'number' ? { port: p, protocol: 'tcp' } : { port: Number(p.split('/')[0]), protocol: 'udp' }));
  });
}

interface ListenRow {
  name: string;
  endpoint: TaskEndpoint;
  /** undefined: no listenPorts key at all. */
  expect: [string, number][] | undefined;
}

const listenRows: ListenRow[] = [
  { name: 'a task listening on its target ports has no listenPorts', endpoint: ep([['tcp', 80, 80], ['tcp', 443, 443]]), expect: undefined },
  { name: 'a task with no ports has no listenPorts', endpoint: ep([]), expect: undefined },
  { name: 'listenPorts holds only the ports that moved', endpoint: ep([['tcp', 80, 10080], ['tcp', 443, 443]]), expect: [['80/tcp', 10080]] },
  { name: 'listenPorts keys carry the protocol', endpoint: ep([['tcp', 80, 10080], ['udp', 53, 10053]]), expect: [['80/tcp', 10080], ['53/udp', 10053]] },
];

for (const row of listenRows) {
  t.test(`dns records: ${row.name}`, async (t) => {
    const [record] = dnsRecords([web()], [task('t1', 's1', { endpoint: row.endpoint })], nodes);
    const taskRecord = record!.tasks[0]!;
    t.equal('listenPorts' in taskRecord, row.expect !== undefined, 'listenPorts present only when a port moved');
    if (row.expect) t.strictSame([...taskRecord.listenPorts!], row.expect);
  });
}

interface NetworksRow {
  name: string;
  tasks: Task[];
  expect: string[];
}

const networksRows: NetworksRow[] = [
  { name: 'networks are the names of the tasks\' attachments, each once', tasks: [task('t1', 's1', { networks: ['front', 'back'] }), task('t2', 's1', { slot: 2, networks: ['front'] })], expect: ['back', 'front'] },
  { name: 'tasks without attachments give no networks', tasks: [task('t1', 's1')], expect: [] },
  { name: 'a service without tasks has no networks', tasks: [], expect: [] },
  { name: 'another service\'s attachments do not count', tasks: [task('t1', 's1', { networks: ['front'] }), task('t2', 's2', { networks: ['other'] })], expect: ['front'] },
];

for (const row of networksRows) {
  t.test(`dns records: ${row.name}`, async (t) => {
    const [record] = dnsRecords([web(), service('s2', 'api')], row.tasks, nodes);
    t.strictSame([...(record!.networks ?? [])].sort(), row.expect);
  });
}

t.test('dns records and the pools agree: DNS names exactly the tasks that are up in the service\'s pool', async (t) => {
  // Every kind of task from the membership table, spread over two services.
  const kinds: TaskOptions[] = [
    {}, { node: 'n2' }, { health: 'healthy' }, { state: 'starting', health: 'starting' }, { desired: 'shutdown' },
    { desired: 'remove' }, { health: 'unhealthy' }, { node: 'n3' }, { node: 'gone' }, { endpoint: null }, { state: 'failed' },
  ];
  const services = [web(), service('s2', 'api', { ports: [port(9000, 80)], vips: ['127.10.0.3/16'] })];
  const tasks = services.flatMap((svc) => kinds.map((kind, i) => task(`${svc.ID}-k${i}`, svc.ID, { slot: i + 1, ...kind })));
  const { pools } = buildRoutingTable(services, tasks, nodes, { withVips: true });
  const records = dnsRecords(services, tasks, nodes);
  const nameOf = new Map(tasks.map((task) => [task.ID, task.Name]));
  for (const svc of services) {
    const pool = pools.get(poolKeyOf(svc.ID, 80, 'tcp'));
    t.ok(pool, `${svc.Spec.Name} has a pool on 80/tcp`);
    const up = new Set(pool!.filter((m) => m.state === 'up').map((m) => nameOf.get(m.id)));
    const named = new Set(records.find((r) => r.name === svc.Spec.Name)!.tasks.map((r) => r.name));
    t.strictSame(named, up, `${svc.Spec.Name}: DNS names = pool members that are up`);
    t.equal(named.size, 3, `${svc.Spec.Name}: the three serving kinds, so the comparison is not vacuous`);
  }
});
