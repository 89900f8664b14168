// EtcdSwarmView against a real etcd (one member on 127.80.0.10, a cutting proxy on 127.80.0.11, a prefix per
// test): a manager's swarm written by EtcdSwarmBackend copied whole, its changes told as chained batches,
// sync's read-after-write (writes elsewhere, deletes, the view cut off), a re-list after a compaction told
// as one batch of the difference, unreadable records skipped and said, and close.
import t from 'tap';
import type { Test } from 'tap';
import { EtcdKeyspace, EtcdSwarmBackend, EtcdSwarmView, Manager } from '../src/swarm/index.js';
import type { KeyspaceEvent, KeyspaceHead, KeyspaceWrite, Store, SwarmPersistence, ViewBatch } from '../src/swarm/index.js';
import { agents, fakeTimers } from './support/managerDriver.js';
import { waitFor } from './support/cluster.js';
import { cuttingProxy, startEtcd } from './support/etcd.js';
import type { CuttingProxy } from './support/etcd.js';

const SUBNETS = { taskSubnet: '127.81.0.0/16', vipSubnet: '127.82.0.0/16' };
const LEADER_KEY = 'leader';

const spec = (name: string, replicas: number) => ({
  Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: replicas } },
});
const put = (key: string, value: string): KeyspaceWrite => ({ type: 'put', key, value });
const record = (id: string) => JSON.stringify({ ID: id, Version: { Index: 1 }, Spec: { Name: id } });

const etcd = await startEtcd(t, '127.80.0.10');
let prefixes = 0;

/** A keyspace reading `head` elsewhere when told to: sync's read answered while the view's own connection is cut. */
class ReadElsewhere extends EtcdKeyspace {
  headInstead: (() => Promise<KeyspaceHead>) | undefined;
  override head(): Promise<KeyspaceHead> {
    return this.headInstead?.() ?? super.head();
  }
}

function keyspace(t: Test, prefix: string, endpoint = etcd.endpoint): ReadElsewhere {
  const keys = new ReadElsewhere({ endpoints: [endpoint], prefix });
  t.teardown(() => keys.close());
  return keys;
}

const newPrefix = () => `/routemesh/view-test-${++prefixes}/`;

async function openView(t: Test, keys: EtcdKeyspace, log: string[] = []): Promise<EtcdSwarmView> {
  const view = await EtcdSwarmView.open(keys, { log: (line) => log.push(line) });
  t.teardown(() => view.close());
  return view;
}

/** A view on its own proxy, and a keyspace straight to etcd on the same prefix. */
async function cutOffView(t: Test, address: string, prefix = newPrefix()): Promise<{ view: EtcdSwarmView; viewKeys: ReadElsewhere; direct: EtcdKeyspace; proxy: CuttingProxy }> {
  const proxy = await cuttingProxy(t, address, etcd.endpoint);
  const direct = keyspace(t, prefix);
  const viewKeys = keyspace(t, prefix, proxy.endpoint);
  return { view: await openView(t, viewKeys), viewKeys, direct, proxy };
}

/** A manager with three nodes and a service whose tasks run, persisted through a backend on `keys`. */
async function persistedManager(t: Test, keys: EtcdKeyspace): Promise<{ manager: Manager; persistence: SwarmPersistence }> {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  for (const [i, hostname] of ['node1', 'node2', 'node3'].entries()) {
    manager.addNode({ hostname, addr: `127.80.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' });
  }
  await manager.createService(spec('web', 3));
  await agents(manager);
  const persistence = await new EtcdSwarmBackend(keys).persist(manager);
  t.teardown(() => persistence.close().catch(() => {}));
  await persistence.flush();
  return { manager, persistence };
}

/** Every object of a store as JSON, by its record's key. */
function objectsOf(store: Store): Record<string, unknown> {
  const lists = {
    node: store.nodes(), service: store.services(), task: store.tasks(),
    network: store.all('network'), secret: store.all('secret'), config: store.all('config'),
  };
  return Object.fromEntries(Object.entries(lists).flatMap(([kind, objects]) =>
    objects.map((object): [string, unknown] => [`${kind}/${object.ID}`, JSON.parse(JSON.stringify(object))])));
}

const keysOf = (batch: ViewBatch) => batch.changes.map(({ kind, id }) => `${kind}/${id}`).sort();
const isObjectKey = (key: string) => key.includes('/') && key !== LEADER_KEY;

t.test("open copies a backend's swarm whole: the store equals the manager's", async (t) => {
  const keys = keyspace(t, newPrefix());
  const { manager } = await persistedManager(t, keys);
  const view = await openView(t, keys);
  t.same(objectsOf(view.store), objectsOf(manager.store), 'every object, as the manager holds it');
  t.equal(Object.keys(objectsOf(view.store)).filter((key) => key.startsWith('task/')).length, 3);
  t.same(view.swarm, JSON.parse(JSON.stringify(manager.exportSwarm())), 'the swarm record');
  t.equal(view.store.index, manager.store.index, "the store's index is the state record's");
  t.equal(view.revision, (await keys.list()).revision, "the snapshot's revision");
});

t.test('changes through the backend arrive as chained batches naming exactly what changed', async (t) => {
  const prefix = newPrefix();
  const keys = keyspace(t, prefix);
  const { manager, persistence } = await persistedManager(t, keys);
  const view = await openView(t, keys);
  const opened = view.revision;
  const batches: ViewBatch[] = [];
  const goneWhenTold = new Set<string>();
  view.onBatch((batch) => {
    batches.push(batch);
    for (const { kind, id } of batch.changes) if (!view.store.object(kind, id)) goneWhenTold.add(`${kind}/${id}`);
  });
  let swarmChanges = 0;
  view.onSwarm(() => swarmChanges++);
  // Every event etcd has under the prefix from here on, to say what each batch should hold.
  const events: Exclude<KeyspaceEvent, { type: 'reset' }>[] = [];
  keyspace(t, prefix).watch(opened + 1, (event) => { if (event.type !== 'reset') events.push(event); });
  const changed = new Set<string>();
  manager.store.on('change', (change) => changed.add(`${change.kind}/${change.id}`));
  const settle = async () => {
    await persistence.flush();
    await view.sync();
    t.same(objectsOf(view.store), objectsOf(manager.store), 'the store equals the manager\'s');
  };

  const service = await manager.createService(spec('api', 2));
  await agents(manager);
  await settle();
  t.ok(view.store.service(service.ID) && view.store.tasksOfService(service.ID).length === 2, 'a new service and its tasks');

  await manager.updateService(service.ID, manager.store.service(service.ID)!.Version.Index, spec('api', 1));
  await agents(manager);
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: true, manager: false });
  await settle();
  t.equal(swarmChanges, 1, 'the rotated token is a swarm change');
  t.same(view.swarm, JSON.parse(JSON.stringify(manager.exportSwarm())));

  manager.removeService(service.ID);
  await agents(manager);
  await settle();
  t.equal(view.store.service(service.ID), undefined, 'the removed service is gone from the store');
  t.ok(goneWhenTold.has(`service/${service.ID}`), 'its delete was told as a change whose object is gone from the store');

  await waitFor('the reference watch to catch up', () => (events.at(-1)?.modRevision ?? 0) >= view.revision);
  let at = opened;
  for (const batch of batches) {
    t.equal(batch.appliesTo, at, `batch to ${batch.resultsIn} applies to the previous one's result`);
    at = batch.resultsIn;
    const expected = events.filter((e) => e.modRevision > batch.appliesTo && e.modRevision <= batch.resultsIn && isObjectKey(e.key)).map((e) => e.key);
    t.same(keysOf(batch), [...new Set(expected)].sort(), `batch to ${batch.resultsIn} names exactly its changes, each once`);
  }
  t.equal(at, view.revision, 'the last batch results in the view\'s revision');
  t.same(batches.flatMap(keysOf).filter((key, i, all) => all.indexOf(key) === i).sort(), [...changed].sort(), 'together, every object the manager changed');
});

t.test("sync resolves only once the store holds what etcd had committed, whoever made etcd's latest revision", async (t) => {
  const prefix = newPrefix();
  const keys = keyspace(t, prefix);
  const elsewhere = keyspace(t, '/routemesh/not-the-view/');
  const { manager, persistence } = await persistedManager(t, keys);
  const view = await openView(t, keys);

  const missed: number[] = [];
  for (let i = 0; i < 30; i++) {
    await keys.writeIf(undefined, [put(`config/c${i}`, record(`c${i}`))]);
    await view.sync();
    if (!view.store.get('config', `c${i}`)) missed.push(i);
  }
  t.same(missed, [], 'each write seen by the sync after it');

  const service = await manager.createService(spec('api', 1));
  await persistence.flush();
  await view.sync();
  t.ok(view.store.service(service.ID), "the backend's write seen");
  await etcd.ctl('put', `${prefix}config/by-etcdctl`, record('by-etcdctl'));
  await view.sync();
  t.ok(view.store.get('config', 'by-etcdctl'), "etcdctl's write seen");

  await keys.writeIf(undefined, [put('config/then-elsewhere', record('then-elsewhere'))]);
  const { revision: outside } = await elsewhere.writeIf(undefined, [put('x', 'not the swarm')]);
  await view.sync();
  t.ok(view.store.get('config', 'then-elsewhere'), 'seen when the latest revision is outside the prefix');
  t.equal(view.revision, outside, "and the view shows etcd's revision");

  await etcd.ctl('del', `${prefix}config/by-etcdctl`);
  const { revision: leader } = await keys.writeIf(undefined, [put(LEADER_KEY, 'manager-1')]);
  await view.sync();
  t.equal(view.store.get('config', 'by-etcdctl'), undefined, 'a delete seen when the latest revision is the leader key');
  t.equal(view.revision, leader);
});

t.test('sync with the view cut off waits for a delete (no key left to read), and a key made and deleted meanwhile is never shown', async (t) => {
  const { view, viewKeys, direct, proxy } = await cutOffView(t, '127.80.0.11');
  const elsewhere = keyspace(t, '/routemesh/not-the-view/');
  await direct.writeIf(undefined, [put('config/a', record('a')), put('config/b', record('b'))]);
  await view.sync();
  const batches: ViewBatch[] = [];
  view.onBatch((batch) => batches.push(batch));
  const shown = new Set<string>();
  view.store.on('change', (change) => shown.add(change.id));
  // The read answered straight from etcd while the view's watch is cut; the proxy opens once it has.
  viewKeys.headInstead = async () => {
    const head = await direct.head();
    proxy.reopen();
    return head;
  };

  proxy.cutAndRefuse();
  await direct.writeIf(undefined, [{ type: 'delete', key: 'config/a' }]);
  await elsewhere.writeIf(undefined, [put('x', 'moves etcd on')]);
  await view.sync();
  t.equal(view.store.get('config', 'a'), undefined, 'the delete is in the store when sync resolves');

  proxy.cutAndRefuse();
  const at = view.revision;
  await direct.writeIf(undefined, [put('config/brief', record('brief'))]);
  await direct.writeIf(undefined, [{ type: 'delete', key: 'config/brief' }]);
  const { revision: outside } = await elsewhere.writeIf(undefined, [put('x', 'moves etcd on again')]);
  await view.sync();
  t.equal(view.revision, outside, 'the store shows etcd\'s revision: a key made and deleted again changes nothing');
  const { revision: after } = await direct.writeIf(undefined, [put('config/after', record('after'))]);
  await view.sync();
  t.ok(view.store.get('config', 'after'), 'what follows is applied');
  t.notOk(shown.has('brief'), 'the store never showed the key made and deleted before the sync');
  t.same(batches.slice(-1).map((b) => [b.appliesTo, b.resultsIn, keysOf(b)]), [[outside, after, ['config/after']]], 'the next batch applies to that revision');
  t.ok(batches.every((b) => b.resultsIn <= at || b.appliesTo >= outside), 'no batch told of the revisions in between');
});

t.test('a compaction the watch re-lists across is told as one batch of exactly the difference', async (t) => {
  const { view, direct, proxy } = await cutOffView(t, '127.80.0.12');
  const { manager, persistence } = await persistedManager(t, direct);
  const doomed = await manager.createService(spec('doomed', 1));
  await agents(manager);
  await persistence.flush();
  await view.sync();
  const before = objectsOf(view.store);
  const revisionBefore = view.revision;
  const batches: ViewBatch[] = [];
  view.onBatch((batch) => batches.push(batch));
  let swarmChanges = 0;
  view.onSwarm(() => swarmChanges++);

  proxy.cutAndRefuse();
  await manager.createService(spec('added', 2));
  const web = manager.store.services().find((s) => s.Spec.Name === 'web')!;
  await manager.updateService(web.ID, web.Version.Index, spec('web', 2));
  manager.removeService(doomed.ID);
  await agents(manager);
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: true, manager: false });
  await persistence.flush();
  await etcd.ctl('compact', String((await direct.head()).revision));
  proxy.reopen();

  await waitFor('the re-list', () => batches.length > 0, 15_000);
  await view.sync();
  const after = objectsOf(manager.store);
  t.same(objectsOf(view.store), after, "the store equals the manager's");
  const added = Object.keys(after).filter((key) => !(key in before));
  const removed = Object.keys(before).filter((key) => !(key in after));
  const updated = Object.keys(after).filter((key) => key in before && JSON.stringify(before[key]) !== JSON.stringify(after[key]));
  t.ok(added.length && removed.length && updated.length, `objects added (${added.length}), removed (${removed.length}) and changed (${updated.length})`);
  t.equal(batches.length, 1, 'one batch');
  t.same(keysOf(batches[0]!), [...added, ...removed, ...updated].sort(), 'exactly the difference');
  t.same([batches[0]!.appliesTo, batches[0]!.resultsIn], [revisionBefore, view.revision], 'chained to the revision before');
  t.equal(swarmChanges, 1, 'the swarm record changed once');
  t.same(view.swarm, JSON.parse(JSON.stringify(manager.exportSwarm())));
});

t.test('a record that cannot be read is said once with its key and skipped; the rest is applied', async (t) => {
  const prefix = newPrefix();
  const keys = keyspace(t, prefix);
  const { manager } = await persistedManager(t, keys);
  const task = manager.store.tasks()[0]!;
  const log: string[] = [];
  const view = await openView(t, keys, log);
  const batches: ViewBatch[] = [];
  view.onBatch((batch) => batches.push(batch));

  await keys.writeIf(undefined, [put(`task/${task.ID}`, '{"ID":'), put('config/fine', record('fine')), put('config/other', record('wrong-id'))]);
  await view.sync();
  t.ok(view.store.get('config', 'fine'), 'the good record of the same write applied');
  t.same(view.store.task(task.ID), JSON.parse(JSON.stringify(task)), 'the task kept as it was');
  t.equal(view.store.get('config', 'other'), undefined, 'a record for another ID skipped');
  t.equal(log.length, 2, 'said once each');
  t.match(log[0], new RegExp(`task/${task.ID} in etcd \\(under ${prefix}, revision \\d+\\) is not an object with the ID`));
  t.match(log[1], /config\/other .* is not an object with the ID other/);
  t.same(keysOf(batches[0]!), ['config/fine', 'config/other', `task/${task.ID}`].sort());

  await keys.writeIf(undefined, [put('config/later', record('later'))]);
  await view.sync();
  t.equal(log.length, 2, 'not said again at the next change');
  const reopenedLog: string[] = [];
  const reopened = await openView(t, keys, reopenedLog);
  t.equal(reopenedLog.length, 2, 'a view opened on them says them once each too');
  t.ok(reopened.store.get('config', 'later') && reopened.store.tasks().length === 2, 'and holds the rest');
});

t.test('close ends the watch and rejects a pending sync', async (t) => {
  const prefix = newPrefix();
  const keys = keyspace(t, prefix);
  const view = await openView(t, keys);
  const other = await openView(t, keys);
  const batches: ViewBatch[] = [];
  view.onBatch((batch) => batches.push(batch));
  const revision = view.revision;
  view.close();
  await keys.writeIf(undefined, [put('config/after-close', record('after-close'))]);
  await other.sync();
  t.ok(other.store.get('config', 'after-close'), 'another view saw the write');
  t.same([batches.length, view.revision, view.store.get('config', 'after-close')], [0, revision, undefined], 'the closed one did not');
  await t.rejects(view.sync(), /the swarm view is closed/, 'a sync after close rejects');

  const { view: cut, viewKeys, direct, proxy } = await cutOffView(t, '127.80.0.13');
  let read = false;
  viewKeys.headInstead = async () => {
    const head = await direct.head();
    read = true;
    return head;
  };
  proxy.cutAndRefuse();
  await direct.writeIf(undefined, [put('config/unseen', record('unseen'))]);
  const pending = cut.sync();
  await waitFor('the sync to have read etcd\'s revision', () => read);
  await new Promise((resolve) => setImmediate(resolve));
  cut.close();
  await t.rejects(pending, /the swarm view is closed/, 'a sync waiting for the watch rejects');
});

t.test('sync rejects with what to do when etcd does not answer, or the watch delivers nothing in time', async (t) => {
  const { view, viewKeys, direct, proxy } = await cutOffView(t, '127.80.0.14');
  proxy.cutAndRefuse();
  await t.rejects(view.sync(), /etcd did not answer a read of its revision .*see that etcd answers/);
  viewKeys.headInstead = () => direct.head();
  await direct.writeIf(undefined, [put('config/unseen', record('unseen'))]);
  await t.rejects(view.sync(), /etcd did not deliver the swarm's changes up to revision \d+ within 5000 ms .*see that etcd answers/);
  t.equal(view.store.get('config', 'unseen'), undefined);
});
