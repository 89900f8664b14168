// EtcdKeyspace against a real etcd (Debian's etcd-server, one member per test on 127.164.0.x; proxies on
// 127.165.0.x): list and watch, a watch that keeps every event when its connection is cut mid catch-up,
// a watch whose history was compacted while it was cut off, and writes fenced by a leader key.
import { createRequire } from 'node:module';
import t from 'tap';
import type { Test } from 'tap';
import { EtcdKeyspace } from '../src/swarm/index.js';
import type { KeyspaceEvent, KeyspaceWatchHandle, KeyspaceWrite } from '../src/swarm/index.js';
import { waitFor } from './support/cluster.js';
import { cuttingProxy, startEtcd } from './support/etcd.js';

const PREFIX = '/routemesh/test-swarm/';

function keyspace(t: Test, endpoint: string): EtcdKeyspace {
  const keys = new EtcdKeyspace({ endpoints: [endpoint], prefix: PREFIX });
  t.teardown(() => keys.close());
  return keys;
}

const put = (key: string, value: string): KeyspaceWrite => ({ type: 'put', key, value });

/** Writes `count` transactions, `inFlight` at a time, each its own revision. */
async function writeMany(keys: EtcdKeyspace, count: number, writes: (i: number) => KeyspaceWrite[], inFlight = 100): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < count) await keys.writeIf(undefined, writes(next++));
  }));
}

t.test('loading the swarm module does not load etcd3 (workers never pay for it)', async (t) => {
  const loaded = Object.keys(createRequire(import.meta.url).cache).filter((file) => file.includes('/node_modules/etcd3/'));
  t.same(loaded, []);
});

t.test('list reads the prefix at one revision; watch delivers its puts and deletes after it, in order', async (t) => {
  const etcd = await startEtcd(t, '127.164.0.1');
  const keys = keyspace(t, etcd.endpoint);
  const { revision: written } = await keys.writeIf(undefined, [put('services/a', 'A1'), put('services/b', 'B1')]);
  await etcd.ctl('put', '/routemesh/test-swarm-2/x', 'another prefix');

  const snapshot = await keys.list();
  t.same(snapshot.entries.map(({ key, value }) => [key, value]), [['services/a', 'A1'], ['services/b', 'B1']]);
  t.same(snapshot.entries.map((entry) => entry.modRevision), [written, written], 'one transaction, one revision');
  t.equal(snapshot.revision, written + 1, "read at the store's revision (the other prefix's write included)");

  const events: KeyspaceEvent[] = [];
  keys.watch(snapshot.revision + 1, (event) => events.push(event));
  const { revision: updated } = await keys.writeIf(undefined, [put('services/a', 'A2')]);
  await etcd.ctl('put', '/routemesh/test-swarm-2/x', 'not ours');
  const { revision: deleted } = await keys.writeIf(undefined, [{ type: 'delete', key: 'services/b' }]);
  const { revision: created } = await keys.writeIf(undefined, [put('tasks/t1', 'T1')]);
  await waitFor('three events', () => events.length >= 3);
  t.same(events, [
    { type: 'put', key: 'services/a', value: 'A2', createRevision: written, modRevision: updated },
    { type: 'delete', key: 'services/b', modRevision: deleted },
    { type: 'put', key: 'tasks/t1', value: 'T1', createRevision: created, modRevision: created },
  ]);

  const later = await keys.list();
  t.same(later.entries.map(({ key, value }) => [key, value]), [['services/a', 'A2'], ['tasks/t1', 'T1']]);
  t.equal(later.revision, created);
});

// etcd sends a catch-up 1,000 revisions a response, each stamped with the store's current revision. etcd3's
// own Watcher (which resumes from the last response's header revision + 1), in this very setup, delivered
// 5,000 of these 20,000 events and the live one, and lost 15,000 without an error (3 runs of 3, 2026-12-07);
// EtcdKeyspace resuming that way fails this test.
t.test('a watch cut mid catch-up through a proxy delivers each of 20,000 events once, in order', async (t) => {
  const etcd = await startEtcd(t, '127.164.0.2');
  const proxy = await cuttingProxy(t, '127.165.0.2', etcd.endpoint);
  const writer = keyspace(t, etcd.endpoint);
  // 4,000 transactions of 5 puts: 4,000 revisions (a catch-up of four responses of ~750 kB), 20,000 events.
  const revisions = 4_000;
  const perRevision = 5;
  const total = revisions * perRevision;
  const name = (i: number, j: number) => `tasks/${String(i).padStart(4, '0')}.${j}`;
  const first = (await writer.list()).revision + 1;
  await writeMany(writer, revisions, (i) => Array.from({ length: perRevision }, (_, j) => put(name(i, j), `task ${i}.${j} `.padEnd(100, '.'))));

  const watcher = keyspace(t, proxy.endpoint);
  const events: KeyspaceEvent[] = [];
  const cut = proxy.cutAfter(1_000_000).then(() => events.length);
  watcher.watch(first, (event) => events.push(event));
  const deliveredAtCut = await cut;
  t.ok(deliveredAtCut > 0 && deliveredAtCut < total, `the connection was cut mid catch-up (${deliveredAtCut} events delivered then)`);
  const { revision: live } = await writer.writeIf(undefined, [put('services/web', 'after the catch-up')]);
  await waitFor('every event', () => events.length >= total + 1, 20_000);

  // Concurrent writers commit in any order: the names within a revision say which transaction it was.
  const got = events.flatMap((event) => (event.type === 'put' ? [{ key: event.key, modRevision: event.modRevision }] : []));
  t.equal(got.length, events.length, 'puts only');
  t.equal(got.length, total + 1, 'nothing delivered twice');
  t.equal(new Set(got.slice(0, total).map(({ key }) => key)).size, total, 'every event of the catch-up');
  const inOrder = got.slice(0, total).every(({ modRevision }, n) => modRevision === first + Math.floor(n / perRevision));
  t.ok(inOrder, 'in revision order, each revision whole');
  t.same(got[total], { key: 'services/web', modRevision: live }, 'then the live one');
  t.equal((await writer.list()).entries.length, total + 1, 'a list of 20,001 keys comes in pages, whole');
});

t.test('a watch whose history was compacted while it was cut off gets a reset with the whole keyspace, then what follows', async (t) => {
  const etcd = await startEtcd(t, '127.164.0.3');
  const proxy = await cuttingProxy(t, '127.165.0.3', etcd.endpoint);
  const writer = keyspace(t, etcd.endpoint);
  const watcher = keyspace(t, proxy.endpoint);
  const { revision: start } = await writer.writeIf(undefined, [put('nodes/n1', 'ready')]);
  const events: KeyspaceEvent[] = [];
  watcher.watch(start + 1, (event) => events.push(event));
  await writer.writeIf(undefined, [put('nodes/n2', 'ready')]);
  await waitFor('the first event', () => events.length === 1);

  proxy.cutAndRefuse();
  await writer.writeIf(undefined, [{ type: 'delete', key: 'nodes/n1' }]);
  const { revision: compactedTo } = await writer.writeIf(undefined, [put('nodes/n3', 'ready')]);
  await etcd.ctl('compact', String(compactedTo));
  proxy.reopen();

  await waitFor('the reset', () => events.length === 2, 15_000);
  const { revision: after } = await writer.writeIf(undefined, [put('nodes/n4', 'ready')]);
  await waitFor('the event after the reset', () => events.length === 3);
  const [, reset, next] = events;
  t.equal(reset?.type, 'reset');
  if (reset?.type === 'reset') {
    t.equal(reset.snapshot.revision, compactedTo, 'read at the revision after the last change');
    t.same(reset.snapshot.entries.map(({ key, value }) => [key, value]), [['nodes/n2', 'ready'], ['nodes/n3', 'ready']]);
  }
  t.same(next, { type: 'put', key: 'nodes/n4', value: 'ready', createRevision: after, modRevision: after });
});

t.test("writeIf applies with the leader's fence and refuses a deposed leader's", async (t) => {
  const etcd = await startEtcd(t, '127.164.0.4');
  const keys = keyspace(t, etcd.endpoint);
  const won = await keys.writeIf(undefined, [put('leader', 'manager-1')]);
  t.ok(won.applied, 'an unfenced write applies');
  const firstFence = { key: 'leader', createRevision: won.revision };
  t.same((await keys.writeIf(firstFence, [put('services/web', 'v1')])).applied, true, 'the leader writes');

  // Manager 1's key goes (its lease expired) and manager 2 makes it again: the key is there, but a new one.
  await keys.writeIf(undefined, [{ type: 'delete', key: 'leader' }]);
  t.same((await keys.writeIf(firstFence, [put('services/web', 'v2')])).applied, false, 'refused while nobody leads');
  const rewon = await keys.writeIf(undefined, [put('leader', 'manager-2')]);
  const deposed = await keys.writeIf(firstFence, [put('services/web', 'v2'), { type: 'delete', key: 'leader' }]);
  t.equal(deposed.applied, false, 'the deposed leader is refused, though the key exists again');
  t.same((await keys.list()).entries.map(({ key, value }) => [key, value]), [['leader', 'manager-2'], ['services/web', 'v1']], 'none of its writes applied');
  t.equal((await keys.writeIf({ key: 'leader', createRevision: rewon.revision }, [put('services/web', 'v3')])).applied, true, 'the new leader writes');
});

t.test('watches closed together are no failure of etcd: the calls after them go through', async (t) => {
  const etcd = await startEtcd(t, '127.164.0.5');
  const keys = keyspace(t, etcd.endpoint);
  await keys.writeIf(undefined, [put('written', 'yes')]);
  // Each open once it has delivered the write (from revision 1 on).
  const opened = await Promise.all(Array.from({ length: 5 }, () => new Promise<KeyspaceWatchHandle>((resolve) => {
    const watch = keys.watch(1, () => resolve(watch));
  })));
  for (const watch of opened) watch.close();
  for (let i = 0; i < 5; i++) t.ok((await keys.list()).revision > 0, `call ${i + 1} after the closes answered`);
});
