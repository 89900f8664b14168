// Scheduler.place as a table: which node each new task goes to, given the nodes and the tasks already placed.
import t from 'tap';
import { Scheduler, isEligible, parseConstraint } from '../../src/swarm/index.js';
import type {
  DesiredState, NodeAvailability, NodeRole, NodeState, PlacementRequest, SwarmNode, Task, TaskState,
} from '../../src/swarm/index.js';

interface NodeOptions {
  hostname?: string;
  role?: NodeRole;
  availability?: NodeAvailability;
  state?: NodeState;
  labels?: Record<string, string>;
  engineLabels?: Record<string, string>;
}

function node(id: string, o: NodeOptions = {}): SwarmNode {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00.000Z',
    UpdatedAt: '2024-01-01T00:00:00.000Z',
    Spec: { Labels: o.labels ?? {}, Role: o.role ?? 'worker', Availability: o.availability ?? 'active' },
    Description: {
      Hostname: o.hostname ?? id,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 2e9, MemoryBytes: 2 * 1024 ** 3 },
      Engine: { EngineVersion: '24.0.0', ...(o.engineLabels ? { Labels: o.engineLabels } : {}), Plugins: [] },
      TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    },
    Status: { State: o.state ?? 'ready', Addr: '127.1.0.1' },
  };
}

let taskCounter = 0;
function task(serviceId: string, nodeId: string, state: TaskState = 'running', desired: DesiredState = 'running'): Task {
  taskCounter++;
  return {
    ID: `task${taskCounter}`,
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00.000Z',
    UpdatedAt: '2024-01-01T00:00:00.000Z',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'nginx' } },
    ServiceID: serviceId,
    NodeID: nodeId,
    Status: { Timestamp: '2024-01-01T00:00:00.000Z', State: state, Message: state, PortStatus: {} },
    DesiredState: desired,
  };
}

/** `n` copies of a task of `serviceId` on `nodeId`. */
function tasks(n: number, serviceId: string, nodeId: string, state?: TaskState, desired?: DesiredState): Task[] {
  return Array.from({ length: n }, () => task(serviceId, nodeId, state, desired));
}

function request(o: { constraints?: string[]; maxPerNode?: number } = {}): PlacementRequest {
  return { serviceId: 'web', constraints: (o.constraints ?? []).map(parseConstraint), maxPerNode: o.maxPerNode ?? 0 };
}

function countPerNode(choices: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of choices) out[String(c)] = (out[String(c)] ?? 0) + 1;
  return out;
}

const three = () => [node('n1', { hostname: 'node1' }), node('n2', { hostname: 'node2' }), node('n3', { hostname: 'node3' })];

interface Row {
  name: string;
  nodes: SwarmNode[];
  tasks?: Task[];
  request?: PlacementRequest;
  count: number;
  expect: (string | undefined)[];
}

const rows: Row[] = [
  {
    name: 'scheduler spreads six replicas two per node, cycling the nodes in hostname order',
    nodes: three(), count: 6,
    expect: ['n1', 'n2', 'n3', 'n1', 'n2', 'n3'],
  },
  {
    name: 'scheduler breaks a tie by hostname, whatever order the nodes come in',
    nodes: [node('c', { hostname: 'node3' }), node('a', { hostname: 'node1' }), node('b', { hostname: 'node2' })],
    count: 1, expect: ['a'],
  },
  {
    name: 'scheduler orders hostnames numerically (node2 before node10)',
    nodes: [node('ten', { hostname: 'node10' }), node('two', { hostname: 'node2' })],
    count: 2, expect: ['two', 'ten'],
  },
  {
    name: 'scheduler fills the node with the fewest tasks of this service first',
    nodes: three(), tasks: [...tasks(2, 'web', 'n1'), ...tasks(1, 'web', 'n2')],
    count: 3, expect: ['n3', 'n2', 'n3'],
  },
  {
    name: 'scheduler gives a node already running other services\' tasks fewer of this one',
    nodes: three(), tasks: tasks(3, 'db', 'n1'),
    count: 4, expect: ['n2', 'n3', 'n1', 'n2'],
  },
  {
    name: 'scheduler counts this service before the overall load',
    nodes: three(), tasks: [...tasks(1, 'web', 'n2'), ...tasks(5, 'db', 'n1')],
    // n3 first (no `web`, idle); then n1, the busiest overall, beats n2 because it has no `web` task yet.
    count: 2, expect: ['n3', 'n1'],
  },
  {
    name: 'scheduler excludes paused, drained and down nodes',
    nodes: [
      node('paused', { hostname: 'node1', availability: 'pause' }),
      node('drained', { hostname: 'node2', availability: 'drain' }),
      node('down', { hostname: 'node3', state: 'down' }),
      node('ok', { hostname: 'node4' }),
    ],
    count: 3, expect: ['ok', 'ok', 'ok'],
  },
  {
    name: 'scheduler excludes nodes that are not ready (unknown, disconnected)',
    nodes: [node('u', { hostname: 'node1', state: 'unknown' }), node('d', { hostname: 'node2', state: 'disconnected' }), node('ok', { hostname: 'node3' })],
    count: 1, expect: ['ok'],
  },
  {
    name: 'scheduler ignores tasks desired to shut down and tasks in a terminal state',
    nodes: three(),
    tasks: [
      task('web', 'n1', 'running', 'shutdown'),
      task('web', 'n1', 'running', 'remove'),
      task('web', 'n1', 'failed'),
      task('web', 'n1', 'complete'),
      task('web', 'n1', 'shutdown'),
      task('web', 'n1', 'rejected'),
      task('web', 'n1', 'orphaned'),
      task('web', 'n2'),
      task('web', 'n3'),
    ],
    count: 1, expect: ['n1'],
  },
  {
    name: 'scheduler counts tasks that are assigned or starting but not yet running',
    nodes: three(), tasks: [task('web', 'n1', 'assigned'), task('web', 'n2', 'starting')],
    count: 1, expect: ['n3'],
  },
  {
    name: 'scheduler does not count unassigned pending tasks against any node',
    nodes: three(), tasks: [...tasks(3, 'web', '', 'pending'), task('web', 'n1')],
    count: 2, expect: ['n2', 'n3'],
  },
  {
    name: 'scheduler places only on workers with node.role == worker',
    nodes: [node('m', { hostname: 'node1', role: 'manager' }), node('w1', { hostname: 'node2' }), node('w2', { hostname: 'node3' })],
    request: request({ constraints: ['node.role == worker'] }),
    count: 4, expect: ['w1', 'w2', 'w1', 'w2'],
  },
  {
    name: 'scheduler keeps tasks off managers with node.role != manager',
    nodes: [node('m', { hostname: 'node1', role: 'manager' }), node('w', { hostname: 'node2' })],
    request: request({ constraints: ['node.role != manager'] }),
    count: 2, expect: ['w', 'w'],
  },
  {
    name: 'scheduler pins to one host with node.hostname ==',
    nodes: three(), request: request({ constraints: ['node.hostname == node2'] }),
    count: 2, expect: ['n2', 'n2'],
  },
  {
    name: 'scheduler avoids one host with node.hostname !=',
    nodes: three(), request: request({ constraints: ['node.hostname != node1'] }),
    count: 2, expect: ['n2', 'n3'],
  },
  {
    name: 'scheduler matches node labels with node.labels.<key> ==',
    nodes: [node('n1', { labels: { env: 'prod' } }), node('n2', { labels: { env: 'dev' } }), node('n3')],
    request: request({ constraints: ['node.labels.env == dev'] }),
    count: 2, expect: ['n2', 'n2'],
  },
  {
    name: 'scheduler lets a node without the label satisfy node.labels.<key> !=',
    nodes: [node('n1', { labels: { env: 'dev' } }), node('n2', { labels: { env: 'prod' } }), node('n3')],
    request: request({ constraints: ['node.labels.env != dev'] }),
    count: 2, expect: ['n2', 'n3'],
  },
  {
    name: 'scheduler matches engine labels with engine.labels.<key> ==',
    nodes: [node('n1'), node('n2', { engineLabels: { disk: 'ssd' } }), node('n3', { engineLabels: { disk: 'hdd' } })],
    request: request({ constraints: ['engine.labels.disk == ssd'] }),
    count: 1, expect: ['n2'],
  },
  {
    name: 'scheduler lets a node without engine labels satisfy engine.labels.<key> !=',
    nodes: [node('n1'), node('n2', { engineLabels: { disk: 'ssd' } })],
    request: request({ constraints: ['engine.labels.disk != ssd'] }),
    count: 1, expect: ['n1'],
  },
  {
    name: 'scheduler requires every constraint to hold',
    nodes: [
      node('n1', { role: 'manager', labels: { zone: 'a' } }),
      node('n2', { labels: { zone: 'b' } }),
      node('n3', { labels: { zone: 'a' } }),
    ],
    request: request({ constraints: ['node.role == worker', 'node.labels.zone == a'] }),
    count: 1, expect: ['n3'],
  },
  {
    name: 'scheduler compares constraint values case-insensitively',
    nodes: three(), request: request({ constraints: ['node.hostname == NODE3'] }),
    count: 1, expect: ['n3'],
  },
  {
    name: 'scheduler respects maxPerNode and leaves the rest unplaced',
    nodes: three(), request: request({ maxPerNode: 1 }),
    count: 5, expect: ['n1', 'n2', 'n3', undefined, undefined],
  },
  {
    name: 'scheduler counts already running tasks toward maxPerNode',
    nodes: three(), tasks: tasks(2, 'web', 'n1'),
    request: request({ maxPerNode: 2, constraints: ['node.hostname != node3'] }),
    count: 3, expect: ['n2', 'n2', undefined],
  },
  {
    name: 'scheduler does not count other services\' tasks toward maxPerNode',
    nodes: [node('n1')], tasks: tasks(4, 'db', 'n1'), request: request({ maxPerNode: 1 }),
    count: 2, expect: ['n1', undefined],
  },
  {
    name: 'scheduler returns undefined when no node meets the constraints',
    nodes: three(), request: request({ constraints: ['node.labels.gpu == yes'] }),
    count: 2, expect: [undefined, undefined],
  },
  {
    name: 'scheduler returns undefined when every node is drained',
    nodes: [node('n1', { availability: 'drain' }), node('n2', { availability: 'drain' })],
    count: 1, expect: [undefined],
  },
  {
    name: 'scheduler returns undefined with no nodes at all',
    nodes: [], count: 1, expect: [undefined],
  },
  {
    name: 'scheduler returns an empty list for zero tasks',
    nodes: three(), count: 0, expect: [],
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const choices = new Scheduler().place(row.request ?? request(), row.count, row.nodes, row.tasks ?? []);
    t.same(choices, row.expect);
  });
}

t.test('scheduler spreads a batch of six replicas over three nodes two each', async (t) => {
  const choices = new Scheduler().place(request(), 6, three(), []);
  t.same(countPerNode(choices), { n1: 2, n2: 2, n3: 2 });
});

t.test('scheduler evens out a lopsided service over a large batch', async (t) => {
  // 4 on n1 already; 8 more should end at 4/4/4.
  const existing = tasks(4, 'web', 'n1');
  const choices = new Scheduler().place(request(), 8, three(), existing);
  t.same(countPerNode(choices), { n2: 4, n3: 4 });
});

t.test('scheduler does not change the tasks or nodes it is given', async (t) => {
  const nodes = three();
  const existing = tasks(2, 'web', 'n1');
  const before = JSON.stringify({ nodes, existing });
  new Scheduler().place(request(), 3, nodes, existing);
  t.equal(JSON.stringify({ nodes, existing }), before);
});

t.test('isEligible accepts only ready and active nodes', async (t) => {
  const table: [NodeOptions, boolean][] = [
    [{}, true],
    [{ availability: 'pause' }, false],
    [{ availability: 'drain' }, false],
    [{ state: 'down' }, false],
    [{ state: 'unknown' }, false],
    [{ state: 'disconnected' }, false],
    [{ state: 'down', availability: 'drain' }, false],
  ];
  for (const [options, eligible] of table) {
    t.equal(isEligible(node('n', options)), eligible, JSON.stringify(options));
  }
});

t.test('scheduler keeps tasks that need the same host-mode port apart, across services and within a batch', async (t) => {
  const holding = task('api', 'n2');
  holding.Status.PortStatus = { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }] };
  const hostRequest = { ...request(), hostPorts: ['8081/tcp'] };
  t.same(new Scheduler().place(hostRequest, 3, three(), [holding]), ['n1', 'n3', undefined], 'n2 holds the port for api; one task per other node, then none');
  t.equal(new Scheduler().place({ ...request(), hostPorts: ['8081/udp'] }, 3, three(), [holding]).filter(Boolean).length, 3, 'another protocol is another port: all three are placed');
  const ended = task('api', 'n2', 'shutdown', 'shutdown');
  ended.Status.PortStatus = holding.Status.PortStatus;
  t.same(new Scheduler().place(hostRequest, 3, three(), [ended]).filter(Boolean).length, 3, 'an ended task holds nothing');
});
