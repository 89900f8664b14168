// The dashboard's feed on a store of its own (no cluster): objects made and gone again before a batch go
// out as nothing at all, and a batch's timeline says what changed, in the order the page shows. The nodes'
// pools are read only while a page follows (a MeshSource told by hand here); a node's read goes out when it
// changed, and an ejection and a return are on the timeline.
import t from 'tap';
import type { Test } from 'tap';
import { Store } from '../../src/swarm/index.js';
import { DashboardFeed } from '../../src/engine/DashboardFeed.js';
import type { DashboardBatch, MeshSource } from '../../src/engine/DashboardFeed.js';
import type { NodeMesh } from '../../src/engine/MeshWatch.js';
import type { PoolMemberReport } from '../../src/mesh/index.js';
import { waitFor } from '../support/cluster.js';
import { node, service, task } from '../support/swarmObjects.js';
import { nodeRead, poolMember } from '../support/poolReads.js';

function feedOn(t: Test, store: Store, meshSource?: MeshSource) {
  const feed = new DashboardFeed(store, () => {}, meshSource);
  t.teardown(() => feed.close());
  const batches: DashboardBatch[] = [];
  feed.follow({ batch: (batch) => batches.push(batch), end: () => {} });
  return { feed, batches };
}

t.test('a node, service and task made and gone again between two batches: nothing to tell, nothing thrown', async (t) => {
  const store = new Store();
  const { batches } = feedOn(t, store);
  store.mirror('node', node('n1'));
  store.mirror('service', service('s1', 'web'));
  store.mirror('task', task('t1', 's1', { node: 'n1' }));
  store.delete('task', 't1');
  store.delete('service', 's1');
  store.delete('node', 'n1');
  store.mirror('node', node('n2'));
  await waitFor('a batch', () => batches.length === 1);
  t.same(batches[0]!.changes.map((c) => `${c.kind} ${c.op}`), ['node put'], 'only the node that stayed');
  t.same(batches[0]!.timeline.map((l) => l.text), ['node n2 joined as a worker']);
});

/** n1's read of its pool of web:80 with one member, web.1 (task t1), as `member` has it. */
const readOf = (member: Partial<PoolMemberReport>): NodeMesh => nodeRead('n1', [poolMember('t1', member)]);

t.test('the pools are read while a page follows; a changed read goes out whole, its ejections on the timeline', async (t) => {
  const store = new Store();
  store.mirror('node', node('n1'));
  store.mirror('node', node('n2'));
  store.mirror('service', service('s1', 'web'));
  store.mirror('task', task('t1', 's1', { node: 'n1' }));
  let tell: ((mesh: NodeMesh) => void) | undefined;
  let starts = 0;
  let stops = 0;
  const source: MeshSource = {
    start: (report) => {
      starts++;
      tell = report;
      return () => { stops++; };
    },
  };
  const feed = new DashboardFeed(store, () => {}, source);
  t.teardown(() => feed.close());
  t.equal(starts, 0, 'nobody follows: the pools are not read');

  const batches: DashboardBatch[] = [];
  const unfollow = feed.follow({ batch: (batch) => batches.push(batch), end: () => {} });
  const second = feed.follow({ batch: () => {}, end: () => {} });
  t.equal(starts, 1, 'read once the first page follows, and once only for two');

  tell!(readOf({ recent: 3 }));
  await waitFor('the first read', () => batches.length === 1);
  t.same(batches[0]!.mesh.map((m) => m.report?.pools[0]?.members[0]?.recent), [3], 'the node\'s read, whole');
  t.same(batches[0]!.timeline, [], 'a first read tells no ejection: what came before it has no time on the page');

  tell!(readOf({ recent: 3 }));
  tell!(readOf({ recent: 5, state: 'ejected', ejections: 1, timesEjected: 1, ejectedForMs: 59_400 }));
  await waitFor('the ejection', () => batches.length === 2);
  t.same(batches[1]!.mesh.map((m) => m.report?.pools[0]?.members[0]?.state), ['ejected'], 'a read the same as the last made no batch; the next did');
  t.same(batches[1]!.timeline.map((l) => [l.kind, l.subject, l.text]), [['pool', 'web.1', 'task web.1 ejected by n1 from its pool of web:80, for 60s (ejection 1)']]);
  t.same(feed.snapshot().mesh.map((m) => m.report?.pools[0]?.members[0]?.state), ['ejected'], 'a snapshot has the last read');

  tell!(readOf({ recent: 5, ejections: 1, timesEjected: 1 }));
  tell!({ nodeId: 'n2', hostname: 'n2', error: 'http://127.1.0.2:2375/routemesh/mesh: connect ECONNREFUSED' });
  await waitFor('the return', () => batches.length === 3);
  t.same(batches[2]!.timeline.map((l) => l.text), ['task web.1 back in n1\'s pool of web:80 after its ejection']);
  t.same(batches[2]!.mesh.map((m) => [m.hostname, m.error ?? 'read']), [['n1', 'read'], ['n2', 'http://127.1.0.2:2375/routemesh/mesh: connect ECONNREFUSED']], 'both nodes whose read changed, one with why it could not be read');

  tell!(readOf({ recent: 6, ejections: 2, timesEjected: 2 }));
  await waitFor('an ejection come and gone between two reads', () => batches.length === 4);
  t.same(batches[3]!.timeline.map((l) => l.text), ['task web.1 ejected by n1 from its pool of web:80, back already (ejection 2)'], 'counted by the times it was ejected, not missed');
  // A long healthy run lowered its level (2 to 1) before it was ejected again: the level alone would not tell.
  tell!(readOf({ recent: 7, state: 'ejected', ejections: 2, timesEjected: 3, ejectedForMs: 120_000 }));
  await waitFor('an ejection at the level it had', () => batches.length === 5);
  t.same(batches[4]!.timeline.map((l) => l.text), ['task web.1 ejected by n1 from its pool of web:80, for 120s (ejection 2)']);

  unfollow();
  t.equal(stops, 0, 'still followed by one page: still read');
  second();
  t.equal(stops, 1, 'the last page gone: no longer read');
  t.same(feed.snapshot().mesh, [], 'and nothing stale is kept to show');
});

t.test('a page back from further than the kept batches gets a snapshot; one within them, exactly what it missed', async (t) => {
  const store = new Store();
  const { feed, batches } = feedOn(t, store);
  // A snapshot sends what is pending at once: a batch per change, with no wait.
  for (let i = 0; i < 300; i++) {
    store.mirror('node', node(`n${i}`));
    feed.snapshot();
  }
  t.equal(batches.length, 300);
  t.equal(feed.since(batches[42]!.id), undefined, '257 batches missed: one more than the 256 kept');
  t.same(feed.since(batches[43]!.id)?.map((b) => b.id), batches.slice(44).map((b) => b.id), '256 missed: exactly the kept ones');
  t.same(feed.since(batches[299]!.id), [], 'the newest: nothing missed');
  t.equal(feed.since(`${batches[299]!.id.split('-')[0]}-301`), undefined, 'a number this feed never gave');
  t.equal(feed.since('not-an-id'), undefined);
});

t.test('a task started in place of another of its slot says which it replaced', async (t) => {
  const store = new Store();
  store.mirror('node', node('n1'));
  store.mirror('node', node('n2'));
  store.mirror('service', service('s1', 'web'));
  store.mirror('task', task('old', 's1', { node: 'n1' }));
  store.mirror('task', task('other', 's1', { node: 'n1', slot: 2 }));
  const { batches } = feedOn(t, store);
  store.mirror('task', task('old', 's1', { node: 'n1', desired: 'shutdown' }));
  store.mirror('task', task('new', 's1', { node: 'n2', state: 'running' }));
  store.mirror('task', task('fresh', 's1', { node: 'n2', slot: 3 }));
  await waitFor('a batch', () => batches.length === 1);
  t.same(batches[0]!.timeline.map((l) => l.text), ['task web.1 started on n2, replacing the one on n1', 'task web.3 started on n2'],
    'slot 1\'s new task names the old one\'s node; slot 3 replaced nothing (slot 2 still runs)');
});
