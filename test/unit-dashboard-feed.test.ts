// The dashboard's feed on a store of its own (no cluster): objects made and gone again before a batch go
// out as nothing at all, and a batch's timeline says what changed, in the order the page shows.
import t from 'tap';
import type { Test } from 'tap';
import { Store } from '../src/swarm/index.js';
import { DashboardFeed } from '../src/engine/DashboardFeed.js';
import type { DashboardBatch } from '../src/engine/DashboardFeed.js';
import { waitFor } from './support/cluster.js';
import { node, service, task } from './support/swarmObjects.js';

function feedOn(t: Test, store: Store) {
  const feed = new DashboardFeed(store);
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
