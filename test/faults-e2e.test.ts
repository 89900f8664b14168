// Faults injected by Swarm names, through `routemesh fault` and the engine API, measured by real clients
// through the mesh: a latency fault shows in curl's p50; a refusal on one node's way to one task is retried
// away and ejects the task from that node's pool alone; a partition makes the managers see the node Down
// and the mesh stop sending it connections, and healing it brings the node back; a fault lifts itself after
// its duration; the trace's picks are what the metrics count. (The refusal comes last: the task it ejects stays out of node1's pool for a minute.) Each kind's own effect is measured on the forwarders in test/unit/faulty-link.ts.
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh, run } from './support/cli.js';
import { whoamiHost } from './support/net.js';
import type { MeshReport, PoolMemberReport, TraceRecord } from '../src/mesh/index.js';

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

/** A node's trace, followed from the moment this resolves (the node answers once it is subscribed). */
async function followTrace(t: Test, address: string, service: string): Promise<{ records: TraceRecord[] }> {
  const records: TraceRecord[] = [];
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get(`http://${address}:2375/routemesh/trace?service=${service}`, { agent: false }, resolve).on('error', reject);
  });
  t.teardown(() => { res.destroy(); });
  let pending = '';
  res.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) records.push(JSON.parse(line) as TraceRecord);
  });
  return { records };
}

/** routemesh_connections_total of `service` on a node, by task name. */
async function connectionsByTask(metricsUrl: string, service: string): Promise<Map<string, number>> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get(metricsUrl, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
  const counts = new Map<string, number>();
  for (const match of text.matchAll(/^routemesh_connections_total\{([^}]*)\} (\d+)$/gm)) {
    const labels = Object.fromEntries([...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (labels.service === service) counts.set(labels.task!, (counts.get(labels.task!) ?? 0) + Number(match[2]));
  }
  return counts;
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

  await t.test("the trace: one pick record per connection, each as node1's metrics count it, with the pool as node1 saw it", async (t) => {
    const trace = await followTrace(t, node1!.address, 'web');
    const before = await connectionsByTask(node1!.metricsUrl!, 'web');
    for (let i = 0; i < 12; i++) await whoamiHost(node1!.address, 8080);
    const after = await connectionsByTask(node1!.metricsUrl!, 'web');
    const picks = await waitFor('12 picks', () => {
      const found = trace.records.filter((r) => r.type === 'pick');
      return found.length >= 12 ? found : undefined;
    });
    const traced = new Map<string, number>();
    for (const pick of picks) if (pick.type === 'pick') traced.set(pick.name, (traced.get(pick.name) ?? 0) + 1);
    const counted = new Map([...after].map(([task, n]) => [task, n - (before.get(task) ?? 0)]).filter(([, n]) => (n as number) > 0) as [string, number][]);
    t.same(Object.fromEntries(traced), Object.fromEntries(counted), 'picks per task = routemesh_connections_total per task');
    t.equal(picks.length, 12, 'nothing else picked');
    const first = picks[0]!;
    t.match(first, { node: 'node1', service: 'web', listener: `${node1!.address}:8080/tcp`, mode: 'tcp', algorithm: 'round-robin', attempt: 1 });
    t.match(first.type === 'pick' && first.client, /^127\.0\.0\.1:\d+$/, "the client's address and port");
    t.equal(first.type === 'pick' && first.pool.length, 3, 'the pool of three, as node1 saw it');
    t.ok(first.type === 'pick' && first.pool.every((m) => m.state === 'serving'), 'each member serving');
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
    // fault ls says when one lifts (a short one could be gone before a CLI process on a busy machine reads it).
    const listed = await api(manager, 'POST', '/routemesh/faults', { Kind: 'blackhole', Service: 'web', Duration: '1m' });
    const capped = await api(manager, 'POST', '/routemesh/faults', { Kind: 'bandwidth', Task: 'web.1', Rate: '512KiB' });
    const ls = (await routemesh(['fault', 'ls'], env)).stdout;
    t.match(ls, /blackhole +web +in (\d+ seconds|about a minute)\n/);
    t.match(ls, /bandwidth +web\.1 +512KiB\/s +when removed\n/, 'a size in the unit it was given in');
    for (const added of [listed, capped]) await api(manager, 'DELETE', `/routemesh/faults/${added.body.ID}`);
    const { body } = await api(manager, 'POST', '/routemesh/faults', { Kind: 'blackhole', Service: 'web', Duration: '300ms' });
    t.match(body.ID, /^[0-9a-z]{25}$/);
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
    const trace = await followTrace(t, node1!.address, 'web');
    const answered = new Set<string>();
    for (let i = 0; i < 9; i++) answered.add(await whoamiHost(node1!.address, 8080));
    t.equal(answered.size, 2, 'through node1, every request answered, by the two other tasks');
    const onNode1 = poolMember(await nodeRead(node1!.address), victim.ID);
    t.equal(onNode1?.state, 'ejected', 'node1 ejected it after its failed connects');
    const onNode2 = poolMember(await nodeRead(node2!.address), victim.ID);
    t.equal(onNode2?.state, 'serving', 'node2 still serves it: the fault is on node1\'s way only');
    t.notOk(onNode2?.fault, 'and node2 has no fault toward it');
    const failedAt = trace.records.findIndex((r) => r.type === 'connect-failed');
    t.match(trace.records[failedAt], { type: 'connect-failed', task: victim.ID, reason: 'ECONNREFUSED' }, 'the trace says why the retry came');
    t.match(trace.records.slice(failedAt + 1).find((r) => r.type === 'pick'), { type: 'pick', attempt: 2 }, 'and the retry, as try 2');
    t.match(trace.records.find((r) => r.type === 'ejected'), { type: 'ejected', task: victim.ID, forMs: 60_000, ejection: 1 }, 'and the ejection');
    t.equal((await routemesh(['fault', 'rm', '--all'], env)).code, 0);
  });

  await t.test('routemesh trace prints the decisions, and stops after --count picks', async (t) => {
    const tracing = routemesh(['trace', '--node', 'node2', '--service', 'web', '--count', '3'], env);
    let done = false;
    void tracing.then(() => { done = true; });
    // Traffic until the trace has had its three picks: it cannot say when it is listening.
    await waitFor('the trace to end', async () => {
      if (!done) await whoamiHost(node2!.address, 8080);
      return done;
    });
    const result = await tracing;
    t.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    t.equal(lines.length, 3);
    for (const line of lines) t.match(line, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} node2 ${node2!.address.replace(/\./g, '\\.')}:8080/tcp 127\\.0\\.0\\.1:\\d+ → web\\.\\d \\(round-robin\\) \\[web\\.1 \\w+ \\d+ · web\\.2 `));
    const unknown = await routemesh(['trace', '--node', 'node9'], env);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /node node9 not found: routemesh node ls names the nodes/);
  });

  await t.test('refusals say what to send instead, and change nothing', async (t) => {
    // Two through the CLI (its own check, and the engine's words passed on); the rest are the engine's alone.
    const jam = await routemesh(['fault', 'add', 'jam', '--service', 'web'], env);
    t.equal(jam.code, 2);
    t.match(jam.stderr, /"jam" is not a fault kind: use one of latency, bandwidth/);
    const missing = await routemesh(['fault', 'add', 'refused', '--task', 'web.7'], env);
    t.equal(missing.code, 1);
    t.match(missing.stderr, /service web has no task web\.7: its tasks are web\.1 to web\.3/);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ Kind: 'latency', Service: 'web' }, /a latency fault needs Latency/],
      [{ Kind: 'latency', Service: 'web', Latency: 'soon' }, /Latency "soon" is not a duration: give one like 100ms/],
      [{ Kind: 'refused', Service: 'web', Rate: '1MB' }, /Rate does not go with a refused fault/],
      [{ Kind: 'partition', Service: 'web' }, /a partition cuts nodes apart: name them with Between/],
      [{ Kind: 'partition', Between: ['node1', 'node1'] }, /Between names node1 twice/],
      [{ Kind: 'refused', Service: 'nope' }, /service nope not found/],
      [{ Kind: 'loss', Service: 'web', Percent: 150 }, /Percent 150 must be a number above 0, at most 100/],
      [{ Kind: 'refused', Task: 'web.01' }, /service web has no task web\.01/],
    ];
    for (const [body, message] of cases) {
      const { status, body: answer } = await api(manager, 'POST', '/routemesh/faults', body);
      t.ok(status === 400 || status === 404, `${JSON.stringify(body)}: ${status}`);
      t.match(answer.message, message, JSON.stringify(body));
    }
    const rm = await routemesh(['fault', 'rm', 'nothing'], env);
    t.match(rm.stderr, /fault nothing not found/);
    t.same((await api(manager, 'GET', '/routemesh/faults')).body, [], 'no fault was added');
  });
});
