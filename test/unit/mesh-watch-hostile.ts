// MeshWatch against tiny http servers on 127.158.0.x that answer slowly, wrongly, hugely or late, and the
// dashboard feed's mesh reads as a broken node makes them: no read holds the manager for long, the page
// never gets what is not pools, a node gone stays gone, and an ejection is told even across a failed read.
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { Store } from '../../src/swarm/index.js';
import { DashboardFeed } from '../../src/engine/DashboardFeed.js';
import type { DashboardBatch, MeshSource } from '../../src/engine/DashboardFeed.js';
import { MeshWatch } from '../../src/engine/MeshWatch.js';
import { checkedMeshReport } from '../../src/engine/checkedMeshReport.js';
import type { NodeMesh } from '../../src/engine/MeshWatch.js';
import type { PoolMemberReport } from '../../src/mesh/index.js';
import { waitFor } from '../support/cluster.js';
import { listen } from '../support/httpFront.js';
import { node, service, task } from '../support/swarmObjects.js';
import { nodeRead, poolMember } from '../support/poolReads.js';

const NODE_ADDRESS = '127.158.0.2';
const MANAGER_ADDRESS = '127.158.0.1';

/** A node's engine API that answers GET /routemesh/mesh as `handler` does. */
const nodeApi = (t: Test, handler: http.RequestListener): Promise<number> => listen(t, http.createServer(handler), NODE_ADDRESS);

function storeWithNode(): Store {
  const store = new Store();
  const n1 = node('n1');
  n1.Status.Addr = NODE_ADDRESS;
  store.mirror('node', n1);
  return store;
}

function watch(t: Test, store: Store, apiPort: number, timeoutMs: number): { reads: NodeMesh[]; watch: MeshWatch } {
  const meshWatch = new MeshWatch({ view: store, apiPort, localAddress: MANAGER_ADDRESS, pollMs: 60_000, timeoutMs });
  const reads: NodeMesh[] = [];
  const stop = meshWatch.start((mesh) => reads.push(mesh));
  t.teardown(stop);
  return { reads, watch: meshWatch };
}

t.test('a node that trickles its answer is told as not answering within the timeout, not left as it was', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  t.teardown(() => { for (const timer of timers) clearInterval(timer); });
  const apiPort = await nodeApi(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"pools":[');
    // A byte now and then: never idle for the timeout, never done.
    const timer = setInterval(() => res.write(' '), 100);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  const { reads } = watch(t, storeWithNode(), apiPort, 500);
  await waitFor('the slow node told as not answering', () => reads.length > 0, 3000);
  t.match(reads[0]!.error, /no whole answer within 0\.5s/, 'told as not answering, as a node that sends nothing at all');
});

t.test('an answer with malformed pools is told as answering wrong, never passed on as a report', async (t) => {
  const apiPort = await nodeApi(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"node":"n1","at":"x","windowSeconds":60,"pools":[null,{"serviceId":"s1","members":"<b>x</b>"}]}');
  });
  const { reads } = watch(t, storeWithNode(), apiPort, 2000);
  await waitFor('the answer', () => reads.length > 0, 3000);
  t.match(reads[0]!.error, /answered no pools: pools\[0\] is not an object/, 'pools that are not pools (the page reads pool.serviceId and pool.members.filter of each)');
  t.notOk(reads[0]!.report, 'nothing of it reaches the page');
});

t.test('a node removed while its answer is on the way does not come back into the feed\'s mesh', async (t) => {
  let answerNow: (() => void) | undefined;
  const apiPort = await nodeApi(t, (_req, res) => {
    answerNow = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: 'n1', at: new Date().toISOString(), windowSeconds: 60, pools: [] }));
    };
  });
  const store = storeWithNode();
  const meshWatch = new MeshWatch({ view: store, apiPort, localAddress: MANAGER_ADDRESS, pollMs: 60_000, timeoutMs: 10_000 });
  const told: string[] = [];
  const source: MeshSource = { start: (report) => meshWatch.start((mesh) => { told.push(mesh.nodeId); report(mesh); }) };
  const feed = new DashboardFeed(store, () => {}, source);
  t.teardown(() => feed.close());
  const batches: DashboardBatch[] = [];
  feed.follow({ batch: (batch) => batches.push(batch), end: () => {} });
  await waitFor('n1 asked', () => answerNow);

  store.delete('node', 'n1');
  await waitFor('n1 removed on the page', () => batches.some((b) => b.changes.some((c) => c.op === 'delete' && c.id === 'n1')), 3000);
  answerNow!();
  await waitFor('the late answer heard', () => told.includes('n1'), 3000);
  t.same(feed.snapshot().mesh.map((m) => m.nodeId), [], 'nothing kept of a node that is gone (the page makes rows of every read\'s pool members)');
});

/** n1's read of its pool of web:80 with one member, web.1 (task t1), as `member` has it. */
const readOf = (member: Partial<PoolMemberReport>): NodeMesh => nodeRead('n1', [poolMember('t1', member)]);

t.test('an ejection made while one read of its node failed (a timeout, a reset keep-alive) is still on the timeline', async (t) => {
  const store = storeWithNode();
  store.mirror('service', service('s1', 'web'));
  store.mirror('task', task('t1', 's1', { node: 'n1' }));
  let tell: ((mesh: NodeMesh) => void) | undefined;
  const feed = new DashboardFeed(store, () => {}, { start: (report) => { tell = report; return () => {}; } });
  t.teardown(() => feed.close());
  const batches: DashboardBatch[] = [];
  feed.follow({ batch: (batch) => batches.push(batch), end: () => {} });

  tell!(readOf({}));
  tell!({ nodeId: 'n1', hostname: 'n1', error: 'no answer within 2s' });
  tell!(readOf({ state: 'ejected', ejections: 1, timesEjected: 1, ejectedForMs: 30_000 }));
  const timeline = feed.snapshot().timeline.map((line) => line.text);
  t.match(timeline.join('\n'), /ejected by n1/, 'the count of ejections went up since the last read that had pools');
});

t.test('an answer larger than 2 MiB is refused as too large, not read whole', async (t) => {
  // Reading, checking and comparing an answer costs the manager's event loop in its size: it is bounded.
  const members = Array.from({ length: 12_000 }, (_, i) => poolMember(`t${i}`, { name: `web.${i}.${'x'.repeat(200)}`, recent: i, total: i }));
  const body = Buffer.from(JSON.stringify(nodeRead('n1', members).report));
  t.ok(body.length > 2 << 20, `the answer: ${(body.length / 2 ** 20).toFixed(1)} MiB`);
  const apiPort = await nodeApi(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  const { reads } = watch(t, storeWithNode(), apiPort, 10_000);
  await waitFor('the answer', () => reads.length > 0, 5000);
  t.match(reads[0]!.error, /its answer is larger than 2 MiB/);
  t.notOk(reads[0]!.report, 'nothing of it reaches the page');
});

t.test('a report is checked field by field: a good one passes whole, a broken one is refused naming the field', async (t) => {
  const good = readOf({ state: 'ejected', ejections: 1, timesEjected: 1, ejectedForMs: 1000 }).report!;
  t.same(checkedMeshReport(JSON.parse(JSON.stringify(good))), good);
  const broken: [string, (report: any) => void, RegExp][] = [
    ['no pools', (r) => { delete r.pools; }, /^pools is not a list$/],
    ['a pool that is a string', (r) => { r.pools[0] = 'x'; }, /^pools\[0\] is not an object$/],
    ['an unknown protocol', (r) => { r.pools[0].protocol = 'sctp'; }, /^pools\[0\]\.protocol is not one of tcp, udp$/],
    ['members not a list', (r) => { r.pools[0].members = '<b>x</b>'; }, /^pools\[0\]\.members is not a list$/],
    ['an unknown state', (r) => { r.pools[0].members[0].state = 'fine'; }, /^pools\[0\]\.members\[0\]\.state is not one of serving, draining, unhealthy, ejected$/],
    ['a negative count', (r) => { r.pools[0].members[0].recent = -1; }, /^pools\[0\]\.members\[0\]\.recent is not a number of 0 or more$/],
    ['a task ID that is a number', (r) => { r.pools[0].members[0].task = 7; }, /^pools\[0\]\.members\[0\]\.task is not a string$/],
    ['an ejection time that is text', (r) => { r.pools[0].members[0].ejectedForMs = 'soon'; }, /ejectedForMs is not a number of 0 or more$/],
  ];
  for (const [what, breakIt, says] of broken) {
    const report = JSON.parse(JSON.stringify(good));
    breakIt(report);
    t.throws(() => checkedMeshReport(report), { message: says }, what);
  }
});
