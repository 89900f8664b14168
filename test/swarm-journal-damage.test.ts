// A damaged swarm data directory met by `routemesh up` (nodes as processes): a torn last write (the crash
// came mid-write) is dropped, said, and the swarm comes back as it was before it; a byte flipped anywhere
// else is a refusal that names the file and what to do, with no node process left. Never a half-state.
// Nodes 127.249.0.x, tasks 127.250/16, VIPs 127.251/16, DNS 127.249.0.250 (upstream: nothing at .251).
import { once } from 'node:events';
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { api, testBlock, waitFor } from './support/cluster.js';
import { nodeProcesses, powerLoss, spawnRoutemesh, tempDataDir, upProcess } from './support/cli.js';
import { childrenOf, gone } from './support/processes.js';
import { connectAndWait } from './support/net.js';

const B = testBlock(249);
const NODES = [`127.${B}.0.1`, `127.${B}.0.2`];
const MANAGER = `http://${NODES[0]}:2375`;

function upArgs(dataDir: string, ...more: string[]): string[] {
  return ['--nodes', '2', '--subnet', `127.${B}.0.0/24`, '--task-subnet', `127.${B + 1}.0.0/16`, '--vip-subnet', `127.${B + 2}.0.0/16`,
    '--dns', `127.${B}.0.250`, '--dns-upstream', `127.${B}.0.251`, '--metrics-port', 'off', '--data-dir', dataDir, ...more];
}

/** The records of a journal or snapshot file (framed: length, its complement, CRC-32, payload), with where each payload starts. */
function records(file: string): { offset: number; length: number; value: any }[] {
  const bytes = readFileSync(file);
  const found = [];
  for (let offset = 0; offset + 12 <= bytes.length;) {
    const length = bytes.readUInt32LE(offset);
    if (offset + 12 + length > bytes.length) break;
    found.push({ offset: offset + 12, length, value: JSON.parse(bytes.subarray(offset + 12, offset + 12 + length).toString()) });
    offset += 12 + length;
  }
  return found;
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] ^= 0x20;
  writeFileSync(file, bytes);
}

/** `up` on a damaged directory, to its end: its exit, what it said, and every node process it started. */
async function refusedUp(t: Test, dataDir: string): Promise<{ exit: unknown[]; stderr: string; nodes: number[] }> {
  const child = spawnRoutemesh(['up', ...upArgs(dataDir)]);
  const nodes = new Set<number>();
  t.teardown(() => { for (const pid of [child.pid!, ...nodes]) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  child.stdout!.resume();
  const exited = once(child, 'exit');
  const watch = setInterval(() => { for (const c of childrenOf(child.pid!)) nodes.add(c.pid); }, 10);
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(resolve, 20_000, ['still running after 20 s']); })]) as unknown[];
  clearTimeout(timer);
  clearInterval(watch);
  return { exit, stderr, nodes: [...nodes] };
}

t.test('a torn last journal write is dropped and said; a byte flipped in the journal or the snapshot is refused with what to do', async (t) => {
  const { root, dataDir } = tempDataDir();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const first = await upProcess(t, upArgs(dataDir, '--demo'));
  const web = (await api(MANAGER, 'GET', '/services/my-web')).body;
  // The last change before the crash: a label, in a record of its own once nothing else is moving.
  t.equal((await api(MANAGER, 'POST', `/services/${web.ID}/update?version=${web.Version.Index}`, { ...web.Spec, Labels: { torn: 'yes' } })).status, 200);
  const journal = (dir: string): string => path.join(dir, 'node1', 'swarm', 'journal');
  const labelled = (record: { value: any }): boolean => record.value.changes?.some((c: any) => c.put === 'service' && c.object.Spec.Labels.torn === 'yes');
  await waitFor('the label in the journal\'s last record', () => { const all = records(journal(dataDir)); return all.length > 1 && labelled(all.at(-1)!); });
  await powerLoss(first, [...(await nodeProcesses(first.child.pid!, 2)).values()]);
  t.ok(labelled(records(journal(dataDir)).at(-1)!), 'the label is still the last record written');

  const copy = (name: string): string => {
    const dir = path.join(root, name);
    cpSync(dataDir, dir, { recursive: true });
    return dir;
  };

  await t.test('torn: the last few bytes cut off', async (t) => {
    const dir = copy('torn');
    truncateSync(journal(dir), readFileSync(journal(dir)).length - 5);
    const up = await upProcess(t, upArgs(dir));
    t.match(up.stderr(), `swarm data: ${journal(dir)} ends with `, 'says which file');
    t.match(up.stderr(), /bytes of a record cut off mid-write \(the process stopped while writing it\): dropped them; the changes of that last write are lost/);
    const back = (await api(MANAGER, 'GET', '/services/my-web')).body;
    t.same({ ID: back.ID, Version: back.Version, Spec: back.Spec }, { ID: web.ID, Version: web.Version, Spec: web.Spec }, 'my-web as it was before the lost write');
    up.child.kill('SIGTERM');
    t.same(await up.exited, [0, null]);
  });

  for (const file of ['journal', 'snapshot'] as const) {
    await t.test(`a byte flipped in the middle of the ${file}`, async (t) => {
      const dir = copy(file);
      const damaged = path.join(dir, 'node1', 'swarm', file);
      // Inside a record that is not the last (the last one, failing its check, would pass for a torn write).
      const all = records(damaged);
      const victim = all.length > 1 ? all.at(-2)! : all[0]!;
      flipByte(damaged, victim.offset + Math.floor(victim.length / 2));
      const up = await refusedUp(t, dir);
      t.same(up.exit, [1, null], 'up exits 1');
      t.match(up.stderr, `the swarm's data in ${damaged} is damaged`, 'names the file');
      t.match(up.stderr, `restore a copy of ${path.join(dir, 'node1', 'swarm')}`, 'says to restore a copy');
      t.match(up.stderr, 'routemesh up --fresh', 'or to start over');
      t.notMatch(up.stderr, /died|start it again/, 'not said as a death to restart');
      t.ok(up.nodes.length > 0, 'node processes had started');
      t.same(await gone(up.nodes, 5000), [], 'none is left');
      for (const address of NODES) t.equal(await connectAndWait(address, 2375, 500), 'refused', `nothing answers on ${address}:2375`);
      t.same(readFileSync(damaged).length, readFileSync(path.join(dataDir, 'node1', 'swarm', file)).length, 'the damaged file is left as it was, for a restore or a look');
    });
  }

  await t.test('the swarm directory removed while node1, its only manager, keeps its identity: refused, not waited on forever', async (t) => {
    const dir = copy('removed');
    rmSync(path.join(dir, 'node1', 'swarm'), { recursive: true });
    const up = await refusedUp(t, dir);
    t.same(up.exit, [1, null], 'up exits 1');
    t.match(up.stderr, `cannot start node1: ${path.join(dir, 'node1', 'node.json')} names it the only manager of its swarm, but ${path.join(dir, 'node1', 'swarm')} holds no copy of that swarm`);
    t.match(up.stderr, 'routemesh up --fresh');
    t.same(await gone(up.nodes, 5000), [], 'no node process is left');
  });
});
