// What a large batch does to the pages that follow a manager's dashboard (/ui/events): a page that reads all
// it is sent gets every message whole, however large; only one that has fallen behind is cut off (once, a
// single batch larger than the limit on unread bytes cut every page off the moment it was written, and
// again each time it came back).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import type { DashboardFeed, DashboardSnapshot } from '../src/engine/DashboardFeed.js';
import { Router } from '../src/engine/api/Router.js';
import { dashboardRoutes } from '../src/engine/api/dashboardRoutes.js';
import type { EngineContext } from '../src/engine/api/index.js';
import { waitFor } from './support/cluster.js';
import { nodeRead, poolMember } from './support/poolReads.js';

const MANAGER_ADDRESS = '127.158.1.1';

async function listen(t: Test, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, MANAGER_ADDRESS, resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

t.test('a snapshot of 10 MiB (over the 8 MiB a page may leave unread) reaches a page that reads it, whole', async (t) => {
  // Five nodes with some 7,500 pool members each: a feed's snapshot of that size.
  const members = Array.from({ length: 7_500 }, (_, i) => poolMember(`t${i}`, { name: `web.${i}.${'x'.repeat(200)}`, recent: 1, total: 1 }));
  const mesh = ['n1', 'n2', 'n3', 'n4', 'n5'].map((nodeId) => nodeRead(nodeId, members));
  const snapshot: DashboardSnapshot = { id: 'e-1', nodes: [], services: [], tasks: [], mesh, timeline: [] };
  const size = JSON.stringify(snapshot).length;
  t.ok(size > 8 << 20, `the snapshot: ${(size / 2 ** 20).toFixed(1)} MiB`);
  const feed = { snapshot: () => snapshot, since: () => undefined, follow: () => () => {} } as unknown as DashboardFeed;
  const router = new Router();
  dashboardRoutes(router, { dashboard: () => feed } as unknown as EngineContext);
  const pagePort = await listen(t, (req, res) => { void router.handle(req, res); });

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
