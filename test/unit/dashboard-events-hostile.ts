// What a large batch does to the pages that follow a manager's dashboard (/ui/events): a page that reads all
// it is sent gets every message whole, however large; only one that has fallen behind is cut off (once, a
// single batch larger than the limit on unread bytes cut every page off the moment it was written, and
// again each time it came back).
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import type { DashboardBatch, DashboardFeed, DashboardSnapshot } from '../../src/engine/DashboardFeed.js';
import { Router } from '../../src/engine/api/Router.js';
import { dashboardRoutes } from '../../src/engine/api/dashboardRoutes.js';
import type { EngineContext } from '../../src/engine/api/index.js';
import { waitFor } from '../support/cluster.js';
import { listen } from '../support/httpFront.js';
import { nodeRead, poolMember } from '../support/poolReads.js';

const MANAGER_ADDRESS = '127.159.0.1';

/** /ui/events of a manager whose feed is `feed`, on a port of its own. */
function eventsOf(t: Test, feed: Partial<DashboardFeed>): Promise<number> {
  const router = new Router();
  dashboardRoutes(router, { dashboard: () => feed } as unknown as EngineContext);
  return listen(t, http.createServer((req, res) => { void router.handle(req, res); }), MANAGER_ADDRESS);
}

t.test('a snapshot of 10 MiB (over the 8 MiB a page may leave unread) reaches a page that reads it, whole', async (t) => {
  // Five nodes with some 7,500 pool members each: a feed's snapshot of that size.
  const members = Array.from({ length: 7_500 }, (_, i) => poolMember(`t${i}`, { name: `web.${i}.${'x'.repeat(200)}`, recent: 1, total: 1 }));
  const mesh = ['n1', 'n2', 'n3', 'n4', 'n5'].map((nodeId) => nodeRead(nodeId, members));
  const snapshot: DashboardSnapshot = { id: 'e-1', nodes: [], services: [], tasks: [], faults: [], mesh, timeline: [] };
  const size = JSON.stringify(snapshot).length;
  t.ok(size > 8 << 20, `the snapshot: ${(size / 2 ** 20).toFixed(1)} MiB`);
  const pagePort = await eventsOf(t, { snapshot: () => snapshot, since: () => undefined, follow: () => () => {} });

  let received = 0;
  let ended = false;
  const request = http.get(`http://${MANAGER_ADDRESS}:${pagePort}/ui/events`, (res) => {
    res.on('data', (chunk: Buffer) => { received += chunk.length; });
    res.on('close', () => { ended = true; });
    res.on('error', () => { ended = true; });
  });
  request.on('error', () => { ended = true; });
  t.teardown(() => request.destroy());

  await waitFor('the snapshot read whole, or the page cut off', () => ended || received > size, 20_000);
  t.notOk(ended, 'the page is still connected');
  t.ok(received > size, 'and got the whole snapshot');
});

t.test('a page that stops reading is cut off once 8 MiB wait for it', async (t) => {
  let follower: { batch: (batch: DashboardBatch) => void } | undefined;
  // The stream's end, as the manager sees it: it stops following the feed for that page.
  let cut = false;
  const snapshot: DashboardSnapshot = { id: 'e-0', nodes: [], services: [], tasks: [], faults: [], mesh: [], timeline: [] };
  const pagePort = await eventsOf(t, { snapshot: () => snapshot, since: () => undefined, follow: (f) => { follower = f; return () => { cut = true; }; } });
  const request = http.get(`http://${MANAGER_ADDRESS}:${pagePort}/ui/events`, (res) => { res.pause(); }); // a page that reads nothing more
  request.on('error', () => {});
  t.teardown(() => request.destroy());
  await waitFor('the page to follow', () => follower);

  // About 1 MiB a batch: once the sockets' buffers are full, what is unread grows in the server.
  const mesh = [nodeRead('n1', Array.from({ length: 3_500 }, (_, i) => poolMember(`t${i}`, { name: `web.${i}.${'x'.repeat(200)}` })))];
  let sent = 0;
  while (!cut && sent < 64) {
    follower!.batch({ id: `e-${++sent}`, changes: [], mesh, timeline: [], order: { nodes: [], services: [] } });
    await new Promise((resolve) => setImmediate(resolve));
  }
  await waitFor('the lagging page cut off', () => cut, 5000);
  t.ok(sent > 8, `cut off after ${sent} batches of about 1 MiB, not at the first`);
});
