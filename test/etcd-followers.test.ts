// With the swarm in etcd, every manager follows it through one watch and serves from its copy: the engine
// API's reads (a read after a write sees it, even through another manager), and the nodes' session streams,
// numbered by etcd's revisions, with the leader's watermark of what every mesh applied passed on. A frozen
// leader stops neither; a killed one does not break a session a follower serves, and with the other managers
// gone `swarm init --force-new-cluster` leaves the survivor the only manager. Each node its own process;
// nodes 127.100.0.x, tasks 127.100.16/20, VIPs 127.100.32/20, etcd 127.100.48.1; the test's own node 127.100.0.20.
import t from 'tap';
import type { Test } from 'tap';
import { ManagerLink } from '../src/cluster/index.js';
import { api, serviceSpec, testBlock, waitFor } from './support/cluster.js';
import { cliEnv, nodeProcesses, routemesh, upProcess } from './support/cli.js';
import { startEtcd } from './support/etcd.js';

// All in 127.100/16 (nodes .0.x, tasks .16/20, VIPs .32/20, etcd .48.1): 127.101-103 are seed 003's, in docker-cli-e2e.
const UP = testBlock(100);
const node = (i: number) => `http://127.${UP}.0.${i}:2375`;
const clusterAddr = (i: number) => `127.${UP}.0.${i}:2377`;
const PROBE_ADDRESS = `127.${UP}.0.20`;

async function upOnEtcd(t: Test, leaseSeconds: number) {
  const etcd = await startEtcd(t, `127.${UP}.48.1`);
  const up = await upProcess(t, ['--nodes', '3', '--managers', '3', '--subnet', `127.${UP}.0.0/24`, '--task-subnet', `127.${UP}.16.0/20`,
    '--vip-subnet', `127.${UP}.32.0/20`, '--dns', `127.${UP}.0.250`, '--dns-upstream', `127.${UP}.0.251`, '--metrics-port', 'off',
    '--heartbeat-period', '500ms', '--store', `etcd://${etcd.endpoint}`, '--leader-lease', `${leaseSeconds}s`]);
  return { etcd, processes: await nodeProcesses(up.child.pid!, 3) };
}

/** A node of the test's own, which takes its session from the manager at `manager` and counts its whole views. */
async function probeNode(t: Test, manager: string) {
  const token = (await api(node(1), 'GET', '/swarm')).body.JoinTokens.Worker as string;
  const { answer, tls } = await ManagerLink.join(manager, { token, hostname: 'probe', addr: PROBE_ADDRESS });
  const link = new ManagerLink({ nodeId: answer.nodeId, address: PROBE_ADDRESS, managers: [manager], heartbeatPeriodMs: answer.heartbeatPeriodMs, tls, fenceAckTimeoutMs: 60_000 });
  let wholeViews = 0;
  link.on('synced', () => { wholeViews++; });
  t.teardown(() => link.close());
  await link.start();
  // Tasks placed on it would never run: it runs none.
  const probe = (await api(node(1), 'GET', `/nodes/${answer.nodeId}`)).body;
  t.equal((await api(node(1), 'POST', `/nodes/${answer.nodeId}/update?version=${probe.Version.Index}`, { ...probe.Spec, Availability: 'drain' })).status, 200);
  return { link, wholeViews: () => wholeViews };
}

function freeze(t: Test, pid: number): void {
  process.kill(pid, 'SIGSTOP');
  t.teardown(() => { try { process.kill(pid, 'SIGCONT'); } catch { /* ended */ } });
}

t.test('a manager that does not lead answers reads from its copy, sees what was just written, and serves a node its session', async (t) => {
  // A lease far longer than the test: a frozen leader stays leader.
  const { processes } = await upOnEtcd(t, 120);
  t.equal((await api(node(2), 'GET', '/nodes')).body.find((n: any) => n.ManagerStatus?.Leader)?.Description.Hostname, 'node1');

  // Through node2 and node3, which forward writes to node1 and read their own copies.
  for (let i = 0; i < 5; i++) {
    const name = `svc${i}`;
    t.equal((await api(node(2 + (i % 2)), 'POST', '/services/create', serviceSpec(name, 'traefik/whoami'))).status, 201);
    const read = await api(node(2 + (i % 2)), 'GET', `/services/${name}`);
    t.equal(read.status, 200, `${name} read at once from the manager that took its create`);
    const updated = await api(node(3 - (i % 2)), 'POST', `/services/${name}/update?version=${read.body.Version.Index}`,
      { ...read.body.Spec, Labels: { round: String(i) } });
    t.equal(updated.status, 200, `${name} updated through the other with the version the first read`);
    t.same((await api(node(3 - (i % 2)), 'GET', `/services/${name}`)).body.Spec.Labels, { round: String(i) }, 'and read back there');
  }

  const probe = await probeNode(t, clusterAddr(2));
  t.ok(probe.link.view.services().some((s) => s.Spec.Name === 'svc4'), "node2 served the node's session, whole view and all");
  t.equal((await api(node(1), 'POST', '/services/create', serviceSpec('later', 'traefik/whoami'))).status, 201);
  await waitFor('the change on the session node2 serves', () => probe.link.view.services().some((s) => s.Spec.Name === 'later'));
  // Every mesh's acknowledgement reaches the leader; its watermark reaches this node through node2.
  const began = Date.now();
  await probe.link.fenced();
  t.ok(Date.now() - began < 20_000, `the leader's watermark of what every mesh applied came through node2 (${Date.now() - began} ms; the link's own timeout is 60 s)`);

  freeze(t, processes.get('node1')!);
  for (const path of ['/services', '/tasks', '/nodes', '/networks', '/secrets', '/swarm', '/services/later']) {
    t.equal((await api(node(3), 'GET', path)).status, 200, `GET ${path} answered by node3 while the leader is frozen`);
  }
  t.equal(probe.wholeViews(), 1, 'the session node2 serves went on: one whole view, never asked again');
});

/** The leader's hostname as the engine at `base` answers, once it is not one of `gone`. */
function leaderOtherThan(base: string, ...gone: string[]): Promise<string> {
  return waitFor(`a leader other than ${gone.join(', ')}`, async () => {
    const nodes = await api(base, 'GET', '/nodes').catch(() => undefined);
    const name = nodes?.status === 200 ? (nodes.body as any[]).find((n) => n.ManagerStatus?.Leader)?.Description.Hostname : undefined;
    return name && !gone.includes(name) ? name : undefined;
  }, 15_000);
}

t.test('kill -9 of the leader: a session another manager serves goes on; with a second manager gone, --force-new-cluster leaves one', async (t) => {
  const { processes } = await upOnEtcd(t, 2);
  const probe = await probeNode(t, clusterAddr(3));
  process.kill(processes.get('node1')!, 'SIGKILL');
  const leader = await leaderOtherThan(node(2), 'node1');
  t.equal((await api(node(2), 'POST', '/services/create', serviceSpec('after', 'traefik/whoami'))).status, 201, `${leader} takes changes`);
  await waitFor('the change on the session node3 serves', () => probe.link.view.services().some((s) => s.Spec.Name === 'after'));
  t.equal(probe.wholeViews(), 1, 'one whole view: the session never broke');

  // Two of three managers gone: etcd, not the managers, keeps the quorum, and elects node3; the swarm still
  // counts the dead ones as managers until --force-new-cluster makes node3 the only one, as in Swarm.
  process.kill(processes.get('node2')!, 'SIGKILL');
  t.equal(await leaderOtherThan(node(3), 'node1', 'node2'), 'node3');
  const init = await routemesh(['swarm', 'init', '--force-new-cluster'], cliEnv(`tcp://127.${UP}.0.3:2375`));
  t.equal(init.code, 0, init.stderr);
  const managers = ((await api(node(3), 'GET', '/nodes')).body as any[]).filter((n) => n.Spec.Role === 'manager').map((n) => n.Description.Hostname);
  t.same(managers, ['node3'], 'node3 is the only manager');
  t.equal((await api(node(3), 'POST', '/services/create', serviceSpec('recovered', 'traefik/whoami'))).status, 201, 'and the swarm takes changes');
  t.same((await api(node(3), 'GET', '/services')).body.map((s: any) => s.Spec.Name).sort(), ['after', 'recovered'], 'nothing lost');
});
