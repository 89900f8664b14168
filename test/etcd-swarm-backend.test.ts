// EtcdSwarmBackend against a real etcd (one member on 127.175.0.1, a prefix per test): a manager's swarm
// written whole and loaded back, its changes followed, a deposed leader's writes refused, damage refused
// with what to do, and `remove`.
import t from 'tap';
import type { Test } from 'tap';
import { EtcdKeyspace, EtcdSwarmBackend, Manager } from '../src/swarm/index.js';
import type { EtcdSwarmBackendOptions, Fence, SwarmPersistence, SwarmState } from '../src/swarm/index.js';
import { agents, fakeTimers } from './support/managerDriver.js';
import { startEtcd } from './support/etcd.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };
const LEADER_KEY = 'managers/leader';

const spec = (name: string, replicas: number) => ({
  Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: replicas } },
});

const etcd = await startEtcd(t, '127.175.0.1');
let prefixes = 0;

/** A keyspace (by default on a fresh prefix, the test's own), closed at the test's end. */
function keyspace(t: Test, prefix = `/routemesh/backend-test-${++prefixes}/`): EtcdKeyspace {
  const keys = new EtcdKeyspace({ endpoints: [etcd.endpoint], prefix });
  t.teardown(() => keys.close());
  return keys;
}

function newManager(t: Test): Manager {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  return manager;
}

/** A manager with three nodes and a service whose tasks run. */
async function busyManager(t: Test): Promise<Manager> {
  const manager = newManager(t);
  for (const [i, hostname] of ['node1', 'node2', 'node3'].entries()) {
    manager.addNode({ hostname, addr: `127.202.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' });
  }
  await manager.createService(spec('web', 3));
  await agents(manager);
  return manager;
}

/** The leader key written now: a fence that holds until the key is deleted. */
async function holdLeaderKey(keys: EtcdKeyspace): Promise<Fence> {
  await keys.writeIf(undefined, [{ type: 'put', key: LEADER_KEY, value: 'me' }]);
  const held = (await keys.list()).entries.find((entry) => entry.key === LEADER_KEY)!;
  return { key: LEADER_KEY, createRevision: held.createRevision };
}

async function persist(t: Test, backend: EtcdSwarmBackend, manager: Manager): Promise<SwarmPersistence> {
  const persistence = await backend.persist(manager);
  t.teardown(() => persistence.close().catch(() => {}));
  return persistence;
}

/** The state as JSON, its lists in ID order (etcd lists keys in order; the store, as made). */
function normal(state: SwarmState | undefined): unknown {
  const json = JSON.parse(JSON.stringify(state)) as Record<string, unknown>;
  for (const list of ['nodes', 'services', 'tasks', 'networks', 'secrets', 'configs']) {
    (json[list] as Array<{ ID: string }>).sort((a, b) => a.ID.localeCompare(b.ID));
  }
  return json;
}

const recordKeys = async (keys: EtcdKeyspace) => (await keys.list()).entries.map((entry) => entry.key).filter((key) => key !== LEADER_KEY);

t.test('a swarm written whole (fenced by a held leader key) loads back the same in a fresh backend', async (t) => {
  const keys = keyspace(t);
  const fence = await holdLeaderKey(keys);
  const refused: string[][] = [];
  const manager = await busyManager(t);
  t.equal(await new EtcdSwarmBackend(keys).load(), undefined, 'no swarm before it is written');
  const persistence = await persist(t, new EtcdSwarmBackend(keys, { fence: () => fence, onRefused: (k) => refused.push(k) }), manager);
  await persistence.flush();
  t.same(refused, [], 'nothing refused while the fence holds');
  const stored = await recordKeys(keys);
  t.equal(stored.filter((key) => key.startsWith('task/')).length, 3, 'one key per task');
  t.ok(stored.includes('swarm') && stored.includes('state'), 'the swarm object and the header');
  const loaded = await new EtcdSwarmBackend(keyspace(t, keys.prefix)).load();
  t.same(normal(loaded), normal(manager.exportState()), 'the same swarm');
  t.same([loaded!.nodes.length, loaded!.services.length, loaded!.tasks.length], [3, 1, 3], 'its nodes, service and tasks');
});

t.test('changes after persist are in etcd once flushed, and load back', async (t) => {
  const keys = keyspace(t);
  const manager = await busyManager(t);
  const backend = new EtcdSwarmBackend(keys);
  const persistence = await persist(t, backend, manager);
  const service = await manager.createService(spec('api', 2));
  await agents(manager);
  await persistence.flush();
  t.ok((await recordKeys(keys)).includes(`service/${service.ID}`), 'the new service is in etcd');
  t.same(normal(await backend.load()), normal(manager.exportState()), 'created');

  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, spec('api', 1));
  await agents(manager);
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: true, manager: false });
  await persistence.flush();
  const updated = await backend.load();
  t.same(normal(updated), normal(manager.exportState()), 'updated (and the swarm object with its rotated token)');
  t.equal(updated!.index, manager.store.index, 'the store index followed');

  manager.removeService(service.ID);
  await agents(manager);
  await persistence.close();
  t.notOk((await recordKeys(keys)).includes(`service/${service.ID}`), 'the removed service is gone from etcd');
  t.same(normal(await backend.load()), normal(manager.exportState()), 'removed');
});

t.test('persist replaces a swarm etcd held before: records no longer in the store are deleted', async (t) => {
  const keys = keyspace(t);
  const first = await busyManager(t);
  await (await persist(t, new EtcdSwarmBackend(keys), first)).close();
  const second = await busyManager(t);
  await (await persist(t, new EtcdSwarmBackend(keys), second)).close();
  t.same(normal(await new EtcdSwarmBackend(keys).load()), normal(second.exportState()));
});

t.test("a deposed leader's writes are refused, said through onRefused, and nothing is written", async (t) => {
  const keys = keyspace(t);
  const fence = await holdLeaderKey(keys);
  await keys.writeIf(undefined, [{ type: 'delete', key: LEADER_KEY }]);
  const refused: string[][] = [];
  const options: EtcdSwarmBackendOptions = { fence: () => fence, onRefused: (k) => refused.push(k) };
  const manager = await busyManager(t);
  const persistence = await persist(t, new EtcdSwarmBackend(keys, options), manager);
  t.equal(refused.length, 1, 'the whole write refused, once');
  t.ok(refused[0]!.includes('swarm') && refused[0]!.includes('state'), 'naming its keys');
  await manager.createService(spec('late', 1));
  await agents(manager);
  await persistence.flush();
  t.ok(refused.length >= 2, 'a change afterwards refused too (flush does not throw)');
  t.same(await recordKeys(keys), [], 'nothing written');
  t.equal(await new EtcdSwarmBackend(keys).load(), undefined);

  const unfenced: string[][] = [];
  const notLeading = new EtcdSwarmBackend(keys, { fence: () => undefined, onRefused: (k) => unfenced.push(k) });
  await persist(t, notLeading, manager);
  t.equal(unfenced.length, 1, 'a manager that does not lead (no fence now) writes nothing either');
  t.same(await recordKeys(keys), []);
  await keys.writeIf(undefined, [{ type: 'put', key: 'task/x', value: '{"ID":"x"}' }]);
  await t.rejects(notLeading.remove(), /no longer leads/, 'nor removes');
  t.same(await recordKeys(keys), ['task/x']);
});

t.test('a record that cannot be read is refused with its key and what to do', async (t) => {
  const keys = keyspace(t);
  const manager = await busyManager(t);
  const backend = new EtcdSwarmBackend(keys);
  await (await persist(t, backend, manager)).close();
  const task = manager.store.tasks()[0]!;
  await keys.writeIf(undefined, [{ type: 'put', key: `task/${task.ID}`, value: '{"ID":' }]);
  await t.rejects(backend.load(), new RegExp(`record task/${task.ID} in etcd .* is damaged: it is not JSON.*etcdctl snapshot restore`));
  await keys.writeIf(undefined, [{ type: 'delete', key: 'swarm' }]);
  await keys.writeIf(undefined, [{ type: 'put', key: `task/${task.ID}`, value: JSON.stringify(task) }]);
  await t.rejects(backend.load(), /record swarm .* is damaged: it is missing/);
});

t.test('remove deletes every record of the swarm, and leaves the leader key to its owner', async (t) => {
  const keys = keyspace(t);
  const fence = await holdLeaderKey(keys);
  const backend = new EtcdSwarmBackend(keys, { fence: () => fence });
  const manager = await busyManager(t);
  for (let i = 0; i < 80; i++) await manager.createService(spec(`many${i}`, 1));
  await agents(manager);
  await (await persist(t, backend, manager)).close();
  t.ok((await recordKeys(keys)).length > 150, 'more records than one transaction holds');
  await backend.remove();
  t.same(await recordKeys(keys), [], 'none left');
  t.same((await keys.list()).entries.map((entry) => entry.key), [LEADER_KEY]);
  t.equal(await backend.load(), undefined);
});
