// A follower's copy of the swarm (SwarmCopy over a Store mirrored from the leader's, and the swarm's record)
// answers every read the engine API makes as the leader's Manager answers it: look-ups by ID, name and prefix
// with the same refusals, the lists, a node's networks, the ingress network, the swarm object and its join
// tokens. And it only reads: its store never changes under it. No sockets.
import t from 'tap';
import type { Test } from 'tap';
import { Manager, Store, SwarmCopy, SwarmError, networksSeenBy } from '../../src/swarm/index.js';
import type { StoreKind, StoreObject, SwarmReader, SwarmState } from '../../src/swarm/index.js';
import { agents, fakeTimers } from '../support/managerDriver.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };
const b64 = (text: string): string => Buffer.from(text).toString('base64');
/** More objects of a kind than IDs have first characters (base 36): two of them share a prefix, so a prefix is ambiguous. */
const PIGEONHOLES = 37;

/** A swarm with every kind a read asks for: twin hostnames, a named node, services with tasks, networks of both scopes, secrets, configs. */
async function busySwarm(t: Test): Promise<Manager> {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  const [first, second] = ['node1', 'node2', 'twin', 'twin'].map((hostname, i) =>
    manager.addNode({ hostname, addr: `127.202.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' }));
  manager.updateNode(second!.ID, second!.Version.Index, { ...second!.Spec, Name: 'edge' });
  const overlay = manager.networks.create({ Name: 'backend', Driver: 'overlay', Attachable: true });
  manager.networks.create({ Name: 'frontend', Driver: 'overlay' });
  manager.networks.create({ Name: 'local', Driver: 'bridge' }, first!.ID);
  manager.networks.create({ Name: 'local', Driver: 'bridge' }, second!.ID);
  manager.networks.attachContainer(first!.ID, { containerId: 'c0ffee', containerName: 'standalone', network: 'backend', aliases: [] });
  await manager.createService({
    Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: overlay.ID }] }, Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
  });
  await manager.createService({ Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Global: {} } });
  for (let i = 0; i < PIGEONHOLES; i++) {
    await manager.createService({ Name: `idle${i}`, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 0 } } });
    manager.secrets.create({ Name: `secret${i}`, Data: b64(`s${i}`) });
    manager.configs.create({ Name: `config${i}`, Data: b64(`c${i}`) });
  }
  await agents(manager);
  manager.updateSwarm(manager.swarmVersion, { ...manager.swarmSpec, Labels: { tier: 'gold' } }, { worker: true, manager: true });
  return manager;
}

/** What a watch would do: each object of the leader's state written into an empty store as the leader wrote it. */
function mirrorOf(state: SwarmState): Store {
  const store = new Store();
  const kinds: [StoreKind, readonly StoreObject[] | undefined][] = [
    ['node', state.nodes], ['service', state.services], ['task', state.tasks],
    ['network', state.networks], ['secret', state.secrets], ['config', state.configs],
  ];
  for (const [kind, objects] of kinds) for (const object of objects ?? []) store.mirror(kind, object);
  return store;
}

/** The leader's state as it reaches a follower: through JSON. */
function copyOf(manager: Manager): { copy: SwarmCopy; store: Store; state: SwarmState } {
  const state = JSON.parse(JSON.stringify(manager.exportState())) as SwarmState;
  const store = mirrorOf(state);
  return { copy: new SwarmCopy({ store, swarm: () => state.swarm, taskSubnet: SUBNETS.taskSubnet }), store, state };
}

/** A read's answer, or its refusal as the API would say it. */
function answer(read: () => unknown): unknown {
  try {
    return { answer: read() };
  } catch (error) {
    if (!(error instanceof SwarmError)) throw error;
    return { refused: error.code, message: error.message };
  }
}

/** Every ref a user might type for these objects: each ID, every prefix of it, their names, and two that match nothing. */
function refsOf(objects: readonly { ID: string }[], names: string[]): string[] {
  return [...objects.flatMap((o) => Array.from({ length: o.ID.length }, (_, n) => o.ID.slice(0, n + 1))), ...names, 'nosuchthing', ''];
}

const lookups: { kind: string; all: (r: SwarmReader) => readonly { ID: string }[]; resolve: (r: SwarmReader, ref: string) => unknown; names: string[] }[] = [
  { kind: 'node', all: (r) => r.store.nodes(), resolve: (r, ref) => r.resolveNode(ref), names: ['node1', 'edge', 'node2', 'twin'] },
  { kind: 'service', all: (r) => r.store.services(), resolve: (r, ref) => r.resolveService(ref), names: ['web', 'agent', 'idle7', 'WEB'] },
  { kind: 'secret', all: (r) => r.secrets.list(), resolve: (r, ref) => r.secrets.resolve(ref), names: ['secret0', 'secret36', 'config0'] },
  { kind: 'config', all: (r) => r.configs.list(), resolve: (r, ref) => r.configs.resolve(ref), names: ['config0', 'config36', 'secret0'] },
];

t.test('look-ups by ID, name and prefix answer and refuse as the leader does', async (t) => {
  const manager = await busySwarm(t);
  const { copy } = copyOf(manager);
  for (const { kind, all, resolve, names } of lookups) {
    const refs = refsOf(all(manager), names);
    const leader = refs.map((ref) => answer(() => resolve(manager, ref)));
    t.same(refs.map((ref) => answer(() => resolve(copy, ref))), leader, `every ${kind} ref answers alike`);
    const refusals = leader.filter((a): a is { message: string } => (a as { refused?: string }).refused !== undefined).map((a) => a.message);
    t.ok(refusals.some((m) => /is ambiguous \(\d+ matches found\)$/.test(m)), `some ${kind} ref is ambiguous`);
    t.ok(refusals.includes(`${kind} nosuchthing not found`), `a ${kind} that is not there is not found`);
  }
  // Not only alike, but right.
  const web = manager.resolveService('web');
  t.equal(copy.resolveService('web').ID, web.ID, 'a service by name');
  t.equal(copy.resolveService(web.ID.slice(0, 20)).ID, web.ID, 'a service by a long prefix');
  t.equal(copy.resolveNode('edge').Description.Hostname, 'node2', 'a node by its Spec.Name');
  t.equal(copy.resolveNode('node1').Description.Hostname, 'node1', 'a node by its hostname');
  t.throws(() => copy.resolveNode('twin'), { code: 'invalid_argument', message: 'node twin is ambiguous (2 matches found)' }, 'twin hostnames');
  t.equal(copy.secrets.resolve('secret3').Spec.Name, 'secret3', 'a secret by name');
  t.throws(() => copy.configs.resolve('secret3'), { code: 'not_found', message: 'config secret3 not found' }, 'secrets are not configs');
});

t.test('lists, a node\'s networks and the ingress network are the leader\'s', async (t) => {
  const manager = await busySwarm(t);
  const { copy } = copyOf(manager);
  t.same(copy.store.nodes(), manager.store.nodes(), 'nodes');
  t.same(copy.store.services(), manager.store.services(), 'services');
  t.same(copy.store.tasks(), manager.store.tasks(), 'tasks');
  t.ok(manager.store.tasks().some((task) => task.Status.State === 'running'), 'with running tasks among them');
  for (const service of manager.store.services()) t.same(copy.store.tasksOfService(service.ID), manager.store.tasksOfService(service.ID));
  for (const node of manager.store.nodes()) t.same(copy.store.tasksOfNode(node.ID), manager.store.tasksOfNode(node.ID));
  t.same(copy.secrets.list(), manager.secrets.list(), 'secrets');
  t.same(copy.configs.list(), manager.configs.list(), 'configs');
  t.equal(copy.secrets.list().length, PIGEONHOLES);

  const [first, second] = manager.store.nodes();
  for (const nodeId of [first!.ID, second!.ID, undefined]) {
    t.same(networksSeenBy(copy.store, nodeId), networksSeenBy(manager.store, nodeId), `the networks node ${nodeId ?? '(none)'} sees`);
  }
  const seen = (nodeId: string) => networksSeenBy(copy.store, nodeId).map((n) => `${n.Spec.Name}@${n.NodeID ?? 'swarm'}`).sort();
  t.same(seen(first!.ID), ['backend@swarm', 'frontend@swarm', `local@${first!.ID}`], 'a node sees the swarm\'s networks and its own bridge');
  t.same(seen(second!.ID), ['backend@swarm', 'frontend@swarm', `local@${second!.ID}`], 'not another node\'s');
  t.same(
    { id: copy.ingressNetworkId, createdAt: copy.createdAt, subnet: copy.taskSubnet },
    { id: manager.ingressNetworkId, createdAt: manager.createdAt, subnet: manager.taskSubnet },
    'the ingress network, which no store holds',
  );
});

t.test('the swarm object and its join tokens are the leader\'s, and follow the record', async (t) => {
  const manager = await busySwarm(t);
  const { store, state } = copyOf(manager);
  let record: SwarmState['swarm'] | undefined = state.swarm;
  const copy = new SwarmCopy({ store, swarm: () => record, taskSubnet: SUBNETS.taskSubnet });
  t.same(copy.clusterInfo(), manager.clusterInfo(), 'clusterInfo');
  t.same(copy.clusterInfo().Spec, manager.swarmSpec, 'the updated spec');
  t.same(copy.joinTokens(), manager.joinTokens(), 'join tokens');
  t.same(copy.joinTokens(), { Worker: manager.tokens.token('worker'), Manager: manager.tokens.token('manager') }, 'the rotated ones');

  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: true, manager: false });
  t.notSame(copy.joinTokens(), manager.joinTokens(), 'the copy answers from the record it holds');
  record = JSON.parse(JSON.stringify(manager.exportSwarm())) as SwarmState['swarm'];
  t.same(copy.joinTokens(), manager.joinTokens(), 'and from a new record once it has it');
  t.same(copy.clusterInfo(), manager.clusterInfo(), 'its version too');

  record = undefined;
  for (const read of [() => copy.clusterInfo(), () => copy.joinTokens(), () => copy.ingressNetworkId, () => copy.createdAt]) {
    t.throws(read, { code: 'unavailable' }, 'without a record, a read of the swarm object is refused, not made up');
  }
});

t.test('a copy never writes its store', async (t) => {
  const manager = await busySwarm(t);
  const { copy, store } = copyOf(manager);
  const snapshot = () => JSON.stringify({
    index: store.index, nodes: store.nodes(), services: store.services(), tasks: store.tasks(),
    plain: (['network', 'secret', 'config'] as const).map((kind) => store.all(kind)),
  });
  const before = snapshot();
  const changes: unknown[] = [];
  store.on('change', (change) => changes.push(change));
  for (const { all, resolve, names } of lookups) for (const ref of refsOf(all(copy), names)) answer(() => resolve(copy, ref));
  copy.clusterInfo();
  copy.joinTokens();
  for (const node of copy.store.nodes()) networksSeenBy(copy.store, node.ID);
  t.same(changes, [], 'no change event');
  t.equal(snapshot(), before, 'nor any object or index changed');
});
