// Networks, secrets and configs in the store: kept, versioned and announced as the other kinds are,
// journaled and snapshotted with the swarm, and made again by a restore; a state written before the
// store had them restores with none. No sockets.
import t from 'tap';
import type { Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, Store, SwarmDataDir } from '../../src/swarm/index.js';
import type { Network, Secret, StoreChange, SwarmState } from '../../src/swarm/index.js';
import { fakeTimers } from '../support/managerDriver.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };

const network = (id: string, name: string): Network => ({
  ID: id, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '',
  Spec: { Name: name, Labels: {}, DriverConfiguration: { Name: 'overlay' }, Attachable: true },
});
const secret = (id: string, name: string, data: string): Secret => ({
  ID: id, Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '', Spec: { Name: name, Labels: {}, Data: Buffer.from(data).toString('base64') },
});

function newManager(t: Test, restore?: SwarmState): Manager {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now, ...(restore ? { restore } : {}) });
  t.teardown(() => manager.close());
  return manager;
}

t.test('a plain kind is put, versioned, announced, listed and deleted', async (t) => {
  const store = new Store();
  const changes: StoreChange[] = [];
  store.on('change', (change: StoreChange) => changes.push(change));
  const put = store.put('network', network('n1', 'backend'));
  t.equal(put.Version.Index, 1);
  t.equal(store.get('network', 'n1')?.Spec.Name, 'backend');
  t.throws(() => store.put('network', { ...network('n1', 'backend'), Version: { Index: 1 } }, 0), /update out of sequence/, 'a stale version is refused');
  store.put('secret', secret('s1', 'db_pass', 'hunter2'));
  t.same(store.all('network').map((n) => n.ID), ['n1']);
  t.same(store.all('secret').map((s) => s.ID), ['s1']);
  t.same(store.all('config'), []);
  store.delete('network', 'n1');
  t.equal(store.get('network', 'n1'), undefined);
  t.same(changes.map((c) => `${c.kind}:${c.op}:${c.id}`), ['network:put:n1', 'secret:put:s1', 'network:delete:n1']);

  const copy = new Store();
  copy.mirror('secret', store.get('secret', 's1')!);
  t.equal(copy.get('secret', 's1')?.Version.Index, store.get('secret', 's1')!.Version.Index, 'a copy keeps the version');
  t.equal(copy.index, store.get('secret', 's1')!.Version.Index);
});

t.test('networks, secrets and configs outlive a restart: journal, snapshot and restore', async (t) => {
  const parent = await mkdtemp(join(tmpdir(), 'routemesh-kinds-'));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  const data = new SwarmDataDir(join(parent, 'swarm'), { log: () => {} });
  const manager = newManager(t);
  const journal = await data.persist(manager);
  t.teardown(() => journal.close().catch(() => {}));
  manager.store.put('network', network('n1', 'backend'));
  manager.store.put('secret', secret('s1', 'db_pass', 'hunter2'));
  manager.store.put('config', { ...secret('c1', 'site', 'server {}') });
  manager.store.put('network', network('n2', 'gone'));
  await journal.flush();
  manager.store.delete('network', 'n2');
  await journal.flush();

  const loaded = (await data.load())!;
  t.same(loaded.networks?.map((n) => n.Spec.Name), ['backend'], 'the journal replays puts and deletes');
  t.equal(Buffer.from(loaded.secrets![0]!.Spec.Data!, 'base64').toString(), 'hunter2');
  t.same(loaded.configs?.map((c) => c.ID), ['c1']);

  const again = newManager(t, loaded);
  t.equal(again.store.get('network', 'n1')?.Spec.Name, 'backend');
  t.equal(again.store.get('secret', 's1')?.Version.Index, manager.store.get('secret', 's1')!.Version.Index, 'versions kept');
  t.ok(again.store.nextIndex() > manager.store.index - 1, 'new writes go above the restored index');
});

t.test('a state written before the swarm had these kinds restores with none of them', async (t) => {
  const old = newManager(t).exportState();
  delete old.networks;
  delete old.secrets;
  delete old.configs;
  const again = newManager(t, JSON.parse(JSON.stringify(old)) as SwarmState);
  t.same(again.store.all('network'), []);
  t.same(again.exportState().secrets, []);
  const broken = { ...JSON.parse(JSON.stringify(old)), secrets: [{ nope: 1 }] };
  t.throws(() => newManager(t, broken), /secrets are not a list of objects with IDs/);
});
