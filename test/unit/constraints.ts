// Placement constraints: what parseConstraint accepts and refuses, and how nodeSatisfies matches.
import t from 'tap';
import { SwarmError, nodeSatisfies, parseConstraint } from '../../src/swarm/index.js';
import type { NodeRole, SwarmNode } from '../../src/swarm/index.js';

function node(o: { id?: string; hostname?: string; role?: NodeRole; labels?: Record<string, string>; engineLabels?: Record<string, string>; os?: string; arch?: string } = {}): SwarmNode {
  return {
    ID: o.id ?? 'abd3123xyz',
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00.000Z',
    UpdatedAt: '2024-01-01T00:00:00.000Z',
    Spec: { Labels: o.labels ?? {}, Role: o.role ?? 'worker', Availability: 'active' },
    Description: {
      Hostname: o.hostname ?? 'node1',
      Platform: { Architecture: o.arch ?? 'x86_64', OS: o.os ?? 'linux' },
      Resources: { NanoCPUs: 2e9, MemoryBytes: 2 * 1024 ** 3 },
      Engine: { EngineVersion: '24.0.0', ...(o.engineLabels ? { Labels: o.engineLabels } : {}), Plugins: [] },
      TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    },
    Status: { State: 'ready', Addr: '127.1.0.1' },
  };
}

const SUPPORTED = /node\.id, node\.hostname, node\.role, node\.platform\.os, node\.platform\.arch, node\.labels\.<name> or engine\.labels\.<name>/;
const NO_OPERATOR = /constraint expected one operator from ==, !=/;

t.test('parseConstraint accepts the forms Swarm accepts', async (t) => {
  const table: [string, { key: string; equal: boolean; value: string }][] = [
    ['node.role == worker', { key: 'node.role', equal: true, value: 'worker' }],
    ['node.role==worker', { key: 'node.role', equal: true, value: 'worker' }],
    ['node.role!=manager', { key: 'node.role', equal: false, value: 'manager' }],
    ['   node.hostname   !=   node2   ', { key: 'node.hostname', equal: false, value: 'node2' }],
    ['\tnode.id == abd3123\t', { key: 'node.id', equal: true, value: 'abd3123' }],
    ['node.labels.env == dev', { key: 'node.labels.env', equal: true, value: 'dev' }],
    ['node.labels.com.example.tier == web', { key: 'node.labels.com.example.tier', equal: true, value: 'web' }],
    ['engine.labels.disk != ssd', { key: 'engine.labels.disk', equal: false, value: 'ssd' }],
    ['node.platform.os == linux', { key: 'node.platform.os', equal: true, value: 'linux' }],
    ['node.platform.arch == x86_64', { key: 'node.platform.arch', equal: true, value: 'x86_64' }],
    ['NODE.ROLE == worker', { key: 'NODE.ROLE', equal: true, value: 'worker' }],
    ['Node.Labels.Env == Dev', { key: 'Node.Labels.Env', equal: true, value: 'Dev' }],
  ];
  for (const [expression, expected] of table) {
    t.same(parseConstraint(expression), expected, JSON.stringify(expression));
  }
});

t.test('parseConstraint refuses expressions without == or != and says how to write one', async (t) => {
  for (const expression of ['node.role = worker', 'node.role', '', '   ', 'node.role => worker']) {
    t.throws(() => parseConstraint(expression), { name: 'SwarmError', code: 'invalid_argument', message: NO_OPERATOR }, JSON.stringify(expression));
  }
  try {
    parseConstraint('node.role = worker');
    t.fail('should have thrown');
  } catch (error) {
    t.ok(error instanceof SwarmError);
    t.match((error as Error).message, /'node\.role = worker'/, 'the message quotes the expression');
    t.match((error as Error).message, /node\.role == worker/, 'the message shows a correct example');
  }
});

t.test('parseConstraint says when an operator has no value after it', async (t) => {
  for (const [expression, shown] of [['node.role==', 'node.role=='], ['  node.role ==  ', 'node.role =='], ['engine.labels.disk !=', 'engine.labels.disk !=']]) {
    t.throws(() => parseConstraint(expression!), { code: 'invalid_argument', message: `constraint '${shown}' has no value after ${shown!.slice(-2)}: write the value to compare with, like 'node.role == worker'` }, JSON.stringify(expression));
  }
});

t.test('parseConstraint refuses unknown keys with a message that names the supported keys', async (t) => {
  for (const expression of ['node.rol == worker', 'container.name == web', 'node.labels. == x', 'engine.labels == x', 'labels.env == dev', 'node.platform == linux']) {
    t.throws(() => parseConstraint(expression), { name: 'SwarmError', code: 'invalid_argument', message: SUPPORTED }, expression);
  }
  t.throws(() => parseConstraint('node.rol == worker'), { message: /constraint key 'node\.rol' is not supported/ }, 'the message names the bad key');
});

// swarmkit refuses these too; accepted, they would never match and leave the tasks pending forever.
t.test('parseConstraint refuses a blank value or a stray operator in the value', async (t) => {
  for (const expression of ['node.role == ', 'node.role ==   ', 'node.role === worker', 'node.labels.env != !dev']) {
    t.throws(() => parseConstraint(expression), { code: 'invalid_argument' }, JSON.stringify(expression));
  }
});

interface MatchRow {
  name: string;
  node: SwarmNode;
  constraints: string[];
  expect: boolean;
}

const matchRows: MatchRow[] = [
  { name: 'node.role == worker matches a worker', node: node(), constraints: ['node.role == worker'], expect: true },
  { name: 'node.role == worker does not match a manager', node: node({ role: 'manager' }), constraints: ['node.role == worker'], expect: false },
  { name: 'node.role != manager matches a worker', node: node(), constraints: ['node.role != manager'], expect: true },
  { name: 'role values compare case-insensitively', node: node({ role: 'manager' }), constraints: ['node.role == MANAGER'], expect: true },
  { name: 'keys compare case-insensitively', node: node({ role: 'manager' }), constraints: ['Node.Role == manager'], expect: true },
  { name: 'hostnames compare case-insensitively', node: node({ hostname: 'node2' }), constraints: ['node.hostname == NODE2'], expect: true },
  { name: 'node.hostname != excludes that host whatever the case', node: node({ hostname: 'Node2' }), constraints: ['node.hostname != node2'], expect: false },
  { name: 'node.id == matches the full id', node: node({ id: 'abd3123xyz' }), constraints: ['node.id == abd3123xyz'], expect: true },
  { name: 'node.id == does not match a prefix', node: node({ id: 'abd3123xyz' }), constraints: ['node.id == abd3123'], expect: false },
  { name: 'node.labels == matches the label value', node: node({ labels: { env: 'dev' } }), constraints: ['node.labels.env == dev'], expect: true },
  { name: 'label values compare case-insensitively', node: node({ labels: { env: 'DEV' } }), constraints: ['node.labels.env == dev'], expect: true },
  { name: 'label key prefix compares case-insensitively', node: node({ labels: { env: 'dev' } }), constraints: ['NODE.LABELS.env == dev'], expect: true },
  { name: 'label names are case-sensitive, as in swarmkit', node: node({ labels: { env: 'dev' } }), constraints: ['node.labels.Env == dev'], expect: false },
  { name: 'a different label value satisfies !=', node: node({ labels: { env: 'prod' } }), constraints: ['node.labels.env != dev'], expect: true },
  { name: 'a missing node label does not satisfy ==', node: node(), constraints: ['node.labels.env == dev'], expect: false },
  { name: 'a missing node label satisfies !=', node: node(), constraints: ['node.labels.env != dev'], expect: true },
  { name: 'engine.labels == matches the engine label', node: node({ engineLabels: { disk: 'ssd' } }), constraints: ['engine.labels.disk == SSD'], expect: true },
  { name: 'node labels do not satisfy engine.labels', node: node({ labels: { disk: 'ssd' } }), constraints: ['engine.labels.disk == ssd'], expect: false },
  { name: 'engine labels do not satisfy node.labels', node: node({ engineLabels: { disk: 'ssd' } }), constraints: ['node.labels.disk == ssd'], expect: false },
  { name: 'a node without engine labels does not satisfy engine.labels ==', node: node(), constraints: ['engine.labels.disk == ssd'], expect: false },
  { name: 'a node without engine labels satisfies engine.labels !=', node: node(), constraints: ['engine.labels.disk != ssd'], expect: true },
  { name: 'node.platform.os matches the OS', node: node(), constraints: ['node.platform.os == Linux'], expect: true },
  { name: 'node.platform.arch matches the architecture', node: node({ arch: 'aarch64' }), constraints: ['node.platform.arch != x86_64'], expect: true },
  { name: 'no constraints match every node', node: node(), constraints: [], expect: true },
  { name: 'all constraints must hold (both do)', node: node({ labels: { zone: 'a' } }), constraints: ['node.role == worker', 'node.labels.zone == a'], expect: true },
  { name: 'all constraints must hold (one fails)', node: node({ labels: { zone: 'b' } }), constraints: ['node.role == worker', 'node.labels.zone == a'], expect: false },
  { name: 'contradictory constraints match nothing', node: node(), constraints: ['node.role == worker', 'node.role != worker'], expect: false },
];

for (const row of matchRows) {
  t.test(`nodeSatisfies: ${row.name}`, async (t) => {
    t.equal(nodeSatisfies(row.node, row.constraints.map(parseConstraint)), row.expect);
  });
}
