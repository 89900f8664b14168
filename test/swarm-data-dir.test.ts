// A manager's data directory on a real file system: every change journaled (a turn's changes in one
// record), snapshots and compaction, and what a crash or damage leaves: a torn last write dropped and
// said, damage anywhere else refused with what to do, never a half-state. No sockets.
import t from 'tap';
import type { Test } from 'tap';
import { copyFile, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Manager, SwarmDataDir } from '../src/swarm/index.js';
import type { SwarmDataDirOptions, SwarmState } from '../src/swarm/index.js';
import { agents, fakeTimers } from './support/managerDriver.js';
import { frame } from '../src/swarm/recordFrames.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };

const spec = (name: string, replicas: number) => ({
  Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: replicas } },
});

async function tempDir(t: Test): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'routemesh-data-'));
  t.teardown(() => rm(parent, { recursive: true, force: true }));
  return join(parent, 'swarm');
}

function newManager(t: Test, restore?: SwarmState): Manager {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now, ...(restore ? { restore } : {}) });
  t.teardown(() => manager.close());
  return manager;
}

/** A data directory with a swarm journaled in it; `log` collects what it says. */
async function persisted(t: Test, options: SwarmDataDirOptions = {}) {
  const dir = await tempDir(t);
  const lines: string[] = [];
  const data = new SwarmDataDir(dir, { log: (line) => lines.push(line), ...options });
  const manager = newManager(t);
  const journal = await data.persist(manager);
  // Closed at the end in any case; a test that checks what closing says awaits close or flush itself.
  t.teardown(() => journal.close().catch(() => {}));
  for (const [i, hostname] of ['node1', 'node2', 'node3'].entries()) {
    manager.addNode({ hostname, addr: `127.202.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' });
  }
  return { dir, data, manager, journal, lines };
}

/** Many changes over many turns: services made, scaled, updated, removed; tasks started and stopped. */
async function churn(manager: Manager, rounds: number, prefix = 'web'): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const name = `${prefix}${i}`;
    const service = await manager.createService(spec(name, 3));
    await agents(manager);
    const current = manager.store.service(service.ID)!;
    await manager.updateService(service.ID, current.Version.Index, spec(name, 1));
    await agents(manager);
    if (i % 2) {
      manager.removeService(service.ID);
      await agents(manager);
    }
  }
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: true, manager: true });
}

const asJson = (state: SwarmState | undefined): unknown => JSON.parse(JSON.stringify(state));

t.test('a swarm loads back as it was after many changes, and a manager restored from it is the same swarm', async (t) => {
  const { data, manager, journal, dir } = await persisted(t);
  await churn(manager, 6);
  await journal.flush();
  const loaded = await data.load();
  t.same(asJson(loaded), asJson(manager.exportState()), 'snapshot plus journal give the swarm as it is');
  t.ok((await stat(join(dir, 'journal'))).size > 10_000, 'the changes went to the journal (no compaction at this size)');
  const again = newManager(t, loaded);
  t.equal(again.tokens.token('worker'), manager.tokens.token('worker'), 'the rotated tokens');
  t.same(again.store.services().map((s) => s.Spec.Name), manager.store.services().map((s) => s.Spec.Name));
});

t.test('past its limit the journal is compacted into a new snapshot, and the swarm still loads as it was', async (t) => {
  const { data, manager, journal, dir } = await persisted(t, { compactChanges: 20 });
  await journal.flush();
  const first = await readFile(join(dir, 'snapshot'));
  await churn(manager, 6);
  await journal.flush();
  t.not((await readFile(join(dir, 'snapshot'))).toString(), first.toString(), 'a new snapshot');
  t.ok((await stat(join(dir, 'journal'))).size < 20_000, 'the journal started again after it');
  t.same(asJson(await data.load()), asJson(manager.exportState()));
  await churn(manager, 2, 'api');
  await journal.close();
  t.same(asJson(await data.load()), asJson(manager.exportState()), 'close writes what is left');
});

t.test('the changes of one turn are one journal record', async (t) => {
  const { manager, journal, dir } = await persisted(t);
  await journal.flush();
  const before = (await readFile(join(dir, 'journal'))).length;
  const node = manager.store.nodes()[1]!;
  for (let i = 0; i < 50; i++) manager.updateNode(node.ID, manager.store.node(node.ID)!.Version.Index, { ...node.Spec, Labels: { i: String(i) } });
  await journal.flush();
  const bytes = await readFile(join(dir, 'journal'));
  const length = bytes.readUInt32LE(before);
  t.equal(before + 12 + length, bytes.length, 'one record after the ones before');
  const group = JSON.parse(bytes.subarray(before + 12).toString()) as { changes: { object: { Spec: { Labels: object } } }[] };
  t.equal(group.changes.length, 1, 'one change for the node, its state after the 50th write');
  t.same(group.changes[0]!.object.Spec.Labels, { i: '49' });
});

t.test('the directory is owner-only: the CA key is in it', async (t) => {
  const { dir, journal } = await persisted(t);
  await journal.flush();
  t.equal((await stat(dir)).mode & 0o777, 0o700);
  for (const file of ['snapshot', 'journal']) t.equal((await stat(join(dir, file))).mode & 0o777, 0o600, file);
  t.match(await readFile(join(dir, 'snapshot'), 'utf8'), /BEGIN PRIVATE KEY/);
});

/** A journal whose last record holds a change made after `before` was taken. */
async function twoWrites(t: Test) {
  const setup = await persisted(t);
  await churn(setup.manager, 2);
  await setup.journal.flush();
  const before = asJson(setup.manager.exportState());
  const size = (await stat(join(setup.dir, 'journal'))).size;
  await setup.manager.createService(spec('last', 2));
  await setup.journal.close();
  return { ...setup, before, size };
}

t.test('a torn last write is dropped, and said so', async (t) => {
  const { dir, before, size } = await twoWrites(t);
  const full = (await stat(join(dir, 'journal'))).size;
  t.ok(full > size + 100, 'the last write is a record of its own');
  await truncate(join(dir, 'journal'), size + Math.floor((full - size) / 2));
  const lines: string[] = [];
  const again = new SwarmDataDir(dir, { log: (line) => lines.push(line) });
  t.same(asJson(await again.load()), before, 'the swarm as it was before the torn write');
  t.match(lines, [/journal ends with \d+ bytes of a record cut off mid-write .*dropped them; the changes of that last write are lost/]);
});

t.test('a last write the file grew for but never got (zeros) is torn too', async (t) => {
  const { dir, before, size } = await twoWrites(t);
  await truncate(join(dir, 'journal'), size);
  await writeFile(join(dir, 'journal'), Buffer.alloc(300), { flag: 'a' });
  const lines: string[] = [];
  t.same(asJson(await new SwarmDataDir(dir, { log: (line) => lines.push(line) }).load()), before);
  t.match(lines, [/300 bytes of a record cut off mid-write/]);
});

t.test('damage before the last record, or in the snapshot, is refused with what to do', async (t) => {
  const { data, dir } = await twoWrites(t);
  const damaged = /the swarm's data in .* is damaged: .*routemesh will not start a half-restored swarm: restore a copy of .*, or start over \(loses the swarm\) with routemesh up --fresh, which removes every node's data \(for routemesh node start, remove /;
  const flip = async (file: string, at: (bytes: Buffer) => number) => {
    const path = join(dir, file);
    await copyFile(path, `${path}.good`);
    const bytes = await readFile(path);
    bytes[at(bytes)]! ^= 0x20;
    await writeFile(path, bytes);
    return () => copyFile(`${path}.good`, path);
  };
  let restore = await flip('journal', (bytes) => Math.floor(bytes.length / 2));
  await t.rejects(data.load(), { message: /journal is damaged: it holds a record (that fails its CRC-32 check, with more records after it|whose length is damaged) at byte \d+/ });
  await t.rejects(data.load(), { message: damaged });
  await restore();
  // The third byte of the first group's length: the record would run past the end of the file.
  restore = await flip('journal', (bytes) => 12 + bytes.readUInt32LE(0) + 2);
  await t.rejects(data.load(), { message: /journal is damaged: it holds a record whose length is damaged/ },
    'a damaged length in the middle is not taken for a torn end');
  await restore();
  restore = await flip('snapshot', (bytes) => bytes.length - 10);
  await t.rejects(data.load(), { message: /snapshot is damaged: its last \d+ bytes are not a whole record/ });
  await restore();
  t.ok(await data.load(), 'the undamaged directory loads');
});

t.test('a snapshot of another format, or a journal without a snapshot, is refused', async (t) => {
  const { data, dir } = await twoWrites(t);
  const record = JSON.parse((await readFile(join(dir, 'snapshot'))).subarray(12).toString()) as { state: { format: number } };
  record.state.format = 2;
  await writeFile(join(dir, 'snapshot'), frame(Buffer.from(JSON.stringify(record))));
  await t.rejects(data.load(), { message: /snapshot is damaged: the swarm state has format 2, and this routemesh reads only format 1\. .*--fresh/ });
  await rm(join(dir, 'snapshot'));
  await t.rejects(data.load(), { message: /journal is damaged: there is a journal but no snapshot for it to follow/ });
  t.equal(await new SwarmDataDir(join(dir, 'none')).load(), undefined, 'no directory: no swarm');
});

t.test('a crash while a snapshot is written leaves the swarm loadable as it was', async (t) => {
  const { data, dir, journal, manager } = await persisted(t);
  await churn(manager, 2);
  await journal.flush();
  const state = asJson(manager.exportState());
  const journalBefore = await readFile(join(dir, 'journal'));

  // Before the rename: a half-written temp file beside the old snapshot.
  const snapshot = await readFile(join(dir, 'snapshot'));
  await writeFile(join(dir, 'snapshot.tmp'), snapshot.subarray(0, snapshot.length / 2));
  t.same(asJson(await data.load()), state, 'the temp file is not read');

  // After the rename, before the new journal: the old journal names the old snapshot.
  const compacted = await data.persist(manager);
  await compacted.close();
  await writeFile(join(dir, 'journal'), journalBefore);
  const lines: string[] = [];
  t.same(asJson(await new SwarmDataDir(dir, { log: (line) => lines.push(line) }).load()), state);
  t.match(lines, [/journal is left from before the last snapshot .*not replayed/]);
});

t.test('a journal that cannot be written says so, stops, and leaves what it wrote loadable', async (t) => {
  const { data, dir, journal, manager, lines } = await persisted(t, { compactChanges: 5 });
  await journal.flush();
  // The next snapshot's temp file is a full disk.
  await symlink('/dev/full', join(dir, 'snapshot.tmp'));
  await churn(manager, 1);
  await t.rejects(journal.flush(), { code: 'ENOSPC' }, 'flush tells the caller');
  t.match(lines, [/swarm data: writing .* failed, and changes from now on will be lost at a restart .*: free space or fix its permissions/]);
  const loaded = await data.load();
  t.ok(loaded, 'the directory still loads');
  t.equal(loaded!.services.length, 1, 'with the changes written before the failure');
});
