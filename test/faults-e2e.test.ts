// Faults injected by Swarm names, through `routemesh fault` and the engine API, measured by real clients
// through the mesh: a latency fault shows in curl's p50; a refusal on one node's way to one task is retried
// away and ejects the task from that node's pool alone; a partition makes the managers see the node Down
// and the mesh stop sending it connections, and healing it brings the node back; a fault lifts itself after
// its duration. (The refusal comes last: the task it ejects stays out of node1's pool for a minute.) Each kind's own effect is measured on the forwarders in test/unit-faulty-link.test.ts.
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh, run } from './support/cli.js';
import { whoamiHost } from './support/net.js';
import type { MeshReport, PoolMemberReport } from '../src/mesh/index.js';

// Nodes 127.39.0.x, tasks 127.40/16, VIPs 127.42/16 (127.41 is another file's).
const NODES = testBlock(39);

function faultCluster(t: Test) {
  return testCluster(t, NODES, { taskSubnet: `127.${NODES + 1}.0.0/16`, vipSubnet: `127.${NODES + 3}.0.0/16`, heartbeatPeriodMs: 100 });
}

/** curl's own timings of `count` requests, one connection each (`--no-keepalive` would still reuse): seconds. */
async function curlTimes(url: string, count: number): Promise<number[]> {
  const args = ['-s', '-w', '%{http_code} %{time_total}\\n', '-H', 'Connection: close', '--max-time', '5'];
  const result = await run('curl', [...args, ...Array.from({ length: count }, () => ['-o', '/dev/null', url]).flat()], process.env);
  return result.stdout.trim().split('\n').map((line) => {
    const [code, seconds] = line.split(' ');
    if (code !== '200') throw new Error(`curl got ${line}`);
    return Number(seconds);
  });
}

/** What a node's own pools say now (GET /routemesh/mesh). */
async function nodeRead(address: string): Promise<MeshReport> {
  return (await api<MeshReport>(`http://${address}:2375`, 'GET', '/routemesh/mesh')).body;
}

function poolMember(report: MeshReport, task: string): PoolMemberReport | undefined {
  return report.pools.flatMap((pool) => pool.members).find((member) => member.task === task);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

t.test('faults by Swarm names, measured through the mesh', async (t) => {
  const cluster = await faultCluster(t);
  const [node1, node2, node3] = cluster.nodes;
  const manager = node1!.apiUrl;
  const env = cliEnv(`tcp://${node1!.address}:2375`);
  const labels = { 'routemesh.lb.outlier.consecutive-failures': '2', 'routemesh.lb.outlier.base-ejection': '1m' };
  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Labels: labels, Mode: { Replicated: { Replicas: 3 } }, ...published(80, 8080) }));
  await waitForRunning(manager, 'web', 3);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const url = `http://${node1!.address}:8080/`;

  await t.test('latency: 100ms on the service shows in curl\'s p50 through the mesh, and goes with the fault', async (t) => {
    const before = median(await curlTimes(url, 5));
    const add = await routemesh(['fault', 'add', 'latency', '--service', 'web', '--latency', '100ms'], env);
    t.equal(add.code, 0, add.stderr);
    const id = add.stdout.trim();
    t.match(id, /^[0-9a-z]{25}$/, 'fault add prints the fault\'s ID');
    await waitFor('node1 to apply it', async () => (await nodeRead(node1!.address)).pools[0]?.members.every((m) => m.fault?.latencyMs === 100));
    const slowed = median(await curlTimes(url, 7));
    t.ok(slowed - before >= 0.09, `p50 ${Math.round(before * 1000)} ms without, ${Math.round(slowed * 1000)} ms with the fault`);
    const ls = await routemesh(['fault', 'ls'], env);
    t.match(ls.stdout, /^ID +KIND +ON +EFFECT +LIFTS\n/);
    t.match(ls.stdout, new RegExp(`${id.slice(0, 12)} +latency +web +100ms +when removed`));
    const rm = await routemesh(['fault', 'rm', id], env);
    t.equal(rm.code, 0, rm.stderr);
    await waitFor('node1 to lift it', async () => (await nodeRead(node1!.address)).pools[0]?.members.every((m) => !m.fault));
    const after = median(await curlTimes(url, 5));
    t.ok(after < slowed - 0.05, `lifted: p50 ${Math.round(after * 1000)} ms`);
  });

  await t.test('a partition: the managers see the node Down, the mesh sends it nothing new; healed, it comes back', async (t) => {
    const add = await routemesh(['fault', 'add', 'partition', '--between', 'node1,node3'], env);
    t.equal(add.code, 0, add.stderr);
    await waitFor('node3 to be marked Down', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'down');
    const replaced = await waitForRunning(manager, 'web', 3);
    t.notOk(replaced.some((task) => task.NodeID === node3!.nodeId), 'its task was replaced on the nodes that are up');
    const pool = (await nodeRead(node1!.address)).pools[0]!;
    t.notOk(pool.members.some((m) => replaced.every((task) => task.ID !== m.task)), "node1's pool holds only the running tasks");
    const hosts = new Set<string>();
    for (let i = 0; i < 6; i++) hosts.add(await whoamiHost(node1!.address, 8080));
    t.equal(hosts.size, 3, 'every request through node1 answered, by the three running tasks');
    const rm = await routemesh(['fault', 'rm', '--all'], env);
    t.equal(rm.code, 0, rm.stderr);
    await waitFor('node3 to be Ready again', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'ready');
    t.pass('healed: node3 is Ready');
  });

  await t.test('a fault with a duration lifts itself', async (t) => {
    const { body } = await api(manager, 'POST', '/routemesh/faults', { Kind: 'blackhole', Service: 'web', Duration: '300ms' });
    t.match(body.ID, /^[0-9a-z]{25}$/);
    t.match((await routemesh(['fault', 'ls'], env)).stdout, /blackhole +web +in less than a second/);
    await waitFor('the fault to be gone', async () => (await api<unknown[]>(manager, 'GET', '/routemesh/faults')).body.length === 0);
    await waitFor('node1 to have lifted it', async () => (await nodeRead(node1!.address)).pools[0]?.members.every((m) => !m.fault));
    t.match(await whoamiHost(node1!.address, 8080), /^[0-9a-f]{12}$/, 'answered again');
  });

  await t.test("refused on node1's way to one task: retried away (no request fails), ejected by node1 alone", async (t) => {
    // The slot's task now: the partition may have replaced the one it had.
    const victim = (await waitForRunning(manager, 'web', 3)).find((task) => task.Slot === 2)!;
    const add = await routemesh(['fault', 'add', 'refused', '--from', 'node1', '--task', 'web.2'], env);
    t.equal(add.code, 0, add.stderr);
    await waitFor('node1 to apply it', async () => poolMember(await nodeRead(node1!.address), victim.ID)?.fault?.refused);
    const answered = new Set<string>();
    for (let i = 0; i < 9; i++) answered.add(await whoamiHost(node1!.address, 8080));
    t.equal(answered.size, 2, 'through node1, every request answered, by the two other tasks');
    const onNode1 = poolMember(await nodeRead(node1!.address), victim.ID);
    t.equal(onNode1?.state, 'ejected', 'node1 ejected it after its failed connects');
    const onNode2 = poolMember(await nodeRead(node2!.address), victim.ID);
    t.equal(onNode2?.state, 'serving', 'node2 still serves it: the fault is on node1\'s way only');
    t.notOk(onNode2?.fault, 'and node2 has no fault toward it');
    t.equal((await routemesh(['fault', 'rm', '--all'], env)).code, 0);
  });

  await t.test('refusals say what to send instead, and change nothing', async (t) => {
    const cases: [string[], RegExp][] = [
      [['fault', 'add', 'jam', '--service', 'web'], /"jam" is not a fault kind: use one of latency, bandwidth/],
      [['fault', 'add', 'latency', '--service', 'web'], /a latency fault needs Latency/],
      [['fault', 'add', 'latency', '--service', 'web', '--latency', 'soon'], /Latency "soon" is not a duration: give one like 100ms/],
      [['fault', 'add', 'refused', '--task', 'web.7'], /service web has no task web\.7: its tasks are web\.1 to web\.3/],
      [['fault', 'add', 'refused', '--service', 'web', '--rate', '1MB'], /Rate does not go with a refused fault/],
      [['fault', 'add', 'partition', '--service', 'web'], /a partition cuts nodes apart: name them with Between/],
      [['fault', 'add', 'partition', '--between', 'node1,node1'], /Between names node1 twice/],
      [['fault', 'add', 'refused', '--service', 'nope'], /service nope not found/],
      [['fault', 'add', 'loss', '--service', 'web', '--percent', '150'], /Percent 150 must be a number above 0, at most 100/],
      [['fault', 'rm', 'nothing'], /fault nothing not found/],
    ];
    for (const [args, message] of cases) {
      const result = await routemesh(args, env);
      t.not(result.code, 0, args.join(' '));
      t.match(result.stderr, message, args.join(' '));
    }
    t.same((await api(manager, 'GET', '/routemesh/faults')).body, [], 'no fault was added');
  });
});
