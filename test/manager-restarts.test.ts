// Managers that crash and restart with their data directories, as NodeDaemons in this process: a crashed
// leader is replaced, and once back it follows, keeping a copy of the current swarm as every manager does
// (never the one it led); after a power loss of every manager exactly one leads, from the freshest copy,
// and nothing the swarm had is lost. Nodes on 127.92.0.x, tasks 127.93/16, VIPs 127.94/16.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { ManagerLink } from '../src/cluster/index.js';
import { NodeDaemon } from '../src/engine/index.js';
import { SwarmDataDir } from '../src/swarm/index.js';
import type { NodeOptions } from '../src/engine/index.js';
import { api, serviceSpec, testBlock, waitFor } from './support/cluster.js';

const BLOCK = testBlock(92);
const address = (i: number): string => `127.${BLOCK}.0.${i}`;

function cluster(t: Test): { options: (i: number) => NodeOptions; start: (i: number) => Promise<NodeDaemon>; daemons: Map<number, NodeDaemon> } {
  const root = mkdtempSync(join(tmpdir(), 'routemesh-manager-restarts-'));
  const daemons = new Map<number, NodeDaemon>();
  t.teardown(async () => {
    await Promise.all([...daemons.values()].map((d) => d.close()));
    rmSync(root, { recursive: true, force: true });
  });
  const options = (i: number): NodeOptions => ({
    hostname: `node${i}`, address: address(i), apiPort: 2375, dataDir: join(root, `node${i}`), socketDir: join(root, 'sockets'),
    taskSubnet: `127.${BLOCK + 1}.0.0/16`, vipSubnet: `127.${BLOCK + 2}.0.0/16`, dns: `127.${BLOCK}.0.250`, dnsUpstreams: [],
    heartbeatPeriodMs: 200, fencePeriodMs: 0,
  });
  const start = async (i: number): Promise<NodeDaemon> => {
    const daemon = new NodeDaemon(options(i));
    daemons.set(i, daemon);
    await daemon.start();
    return daemon;
  };
  return { options, start, daemons };
}

/** Which of nodes 1..3 say they lead. */
async function leaders(): Promise<string[]> {
  const pongs = await Promise.all([1, 2, 3].map((i) => ManagerLink.ping(`${address(i)}:2377`, address(9))));
  return pongs.flatMap((pong, i) => (pong?.leader ? [`node${i + 1}`] : []));
}

async function threeManagers(t: Test): Promise<ReturnType<typeof cluster>> {
  const c = cluster(t);
  for (const i of [1, 2, 3]) await c.start(i);
  const first = c.daemons.get(1)!.engine;
  await first.init();
  const token = first.requireManager().tokens.token('manager');
  for (const i of [2, 3]) await c.daemons.get(i)!.engine.join({ remoteAddr: address(1), token });
  await waitFor('three managers, each with its copy of the swarm', async () => (await api(`http://${address(3)}:2375`, 'GET', '/info')).body.Swarm.Managers === 3);
  return c;
}

t.test('a crashed leader is replaced, and back it follows, keeping a copy of the current swarm, not the one it led', async (t) => {
  const c = await threeManagers(t);
  const { body: swarm } = await api(`http://${address(1)}:2375`, 'GET', '/swarm');
  await c.daemons.get(1)!.close(); // as a crash: no leave
  const [next] = await waitFor('another manager to lead', async () => { const l = await leaders(); return l.length === 1 ? l : undefined; });
  t.not(next, 'node1');
  const created = await api(`http://${address(2)}:2375`, 'POST', '/services/create', serviceSpec('after', 'traefik/whoami'));
  t.equal(created.status, 201, 'the new leader decides');

  await c.start(1);
  await waitFor('node1 back in its swarm', async () => (await api(`http://${address(1)}:2375`, 'GET', '/info')).body.Swarm.LocalNodeState === 'active');
  t.same(await leaders(), [next], 'node1 follows the leader that replaced it');
  // What node1 keeps on disk now is its copy of the current swarm, not the one it led.
  const kept = await waitFor('node1 to keep a copy of the current swarm', async () => {
    const state = await new SwarmDataDir(join(c.options(1).dataDir!, 'swarm'), { log: () => {} }).load().catch(() => undefined);
    return state?.services.some((s) => s.Spec.Name === 'after') ? state : undefined;
  });
  t.equal(kept.swarm.id, swarm.ID);
  const { body: services } = await api(`http://${address(1)}:2375`, 'GET', '/services');
  t.same(services.map((s: any) => s.Spec.Name), ['after'], 'and it sees what was decided while it was down');
  t.equal((await api(`http://${address(1)}:2375`, 'GET', '/swarm')).body.ID, swarm.ID, 'one swarm all along');
});

t.test('after a power loss of every manager, exactly one leads, from the freshest copy', async (t) => {
  const c = await threeManagers(t);
  await c.daemons.get(1)!.close();
  await waitFor('another manager to lead', async () => (await leaders()).length === 1);
  const [leader] = await leaders();
  const n = Number(leader!.slice(4));
  t.equal((await api(`http://${address(n)}:2375`, 'POST', '/services/create', serviceSpec('fresh', 'traefik/whoami'))).status, 201);
  for (const d of c.daemons.values()) await d.close();

  // All three at once: node1's copy on disk is the oldest, the new leader's the freshest.
  await Promise.all([1, 2, 3].map((i) => c.start(i)));
  const after = await waitFor('one leader again', async () => { const l = await leaders(); return l.length >= 1 ? l : undefined; }, 15_000);
  t.same(after, [leader], 'the one with the freshest copy leads, and only it');
  await waitFor('every node back', async () => {
    const states = await Promise.all([1, 2, 3].map(async (i) => (await api(`http://${address(i)}:2375`, 'GET', '/info')).body.Swarm?.LocalNodeState));
    return states.every((s) => s === 'active');
  }, 15_000);
  t.same(await leaders(), [leader], 'still only it');
  const listed = await api(`http://${address(1)}:2375`, 'GET', '/services');
  t.equal(listed.status, 200, JSON.stringify(listed.body));
  t.same(listed.body.map?.((s: any) => s.Spec.Name), ['fresh'], 'nothing decided before the power loss is lost');
});

t.test('two swarm inits at once: one makes the swarm, the other is refused, and the data directory holds that swarm', async (t) => {
  const c = cluster(t);
  const engine = (await c.start(1)).engine;
  const results = await Promise.allSettled([engine.init(), engine.init()]);
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one init made the swarm');
  t.match(results.find((r) => r.status === 'rejected'), { reason: { message: /already part of a swarm/ } });
  const id = engine.requireManager().swarmId;
  await c.daemons.get(1)!.close();
  await c.start(1);
  await waitFor('node1 back as the leader of its swarm', async () => (await api(`http://${address(1)}:2375`, 'GET', '/swarm')).body.ID === id);
  t.pass('the swarm on disk is the one that ran');
});
