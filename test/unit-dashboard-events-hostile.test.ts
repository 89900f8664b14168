// Review of issue 19 (hostile): what one node's honest but large pools do to every page of a manager.
// MeshWatch takes in an answer of up to 32 MiB, and the feed sends each changed read whole; /ui/events cuts
// off a page with more than 8 MiB unread, which a single such batch is the moment it is written.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { Store } from '../src/swarm/index.js';
import { DashboardFeed } from '../src/engine/DashboardFeed.js';
import { MeshWatch } from '../src/engine/MeshWatch.js';
import { Router } from '../src/engine/api/Router.js';
import { dashboardRoutes } from '../src/engine/api/dashboardRoutes.js';
import type { EngineContext } from '../src/engine/api/index.js';
import { waitFor } from './support/cluster.js';
import { node } from './support/swarmObjects.js';

const NODE_ADDRESS = '127.89.201.2';
const MANAGER_ADDRESS = '127.89.201.1';

async function listen(t: Test, address: string, handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

t.test('a node with a 12 MiB report (under MeshWatch\'s cap) does not cut off the pages that follow the feed', async (t) => {
  const members = Array.from({ length: 40_000 }, (_, i) => ({
    task: `t${i}`, name: `web.${i}.${'x'.repeat(200)}`, address: '127.20.0.2:80', state: 'serving', weight: 1, active: 0, recent: 1, total: 1, ejections: 0,
  }));
  const report = Buffer.from(JSON.stringify({ node: 'n1', at: new Date().toISOString(), windowSeconds: 60,
    pools: [{ serviceId: 's1', service: 'web', targetPort: 80, protocol: 'tcp', mode: 'tcp', algorithm: 'round-robin', counts: 'connections', local: false, members }] }));
  t.comment(`the node's report: ${(report.length / 2 ** 20).toFixed(1)} MiB`);
  const apiPort = await listen(t, NODE_ADDRESS, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': report.length });
    res.end(report);
  });
  const store = new Store();
  const n1 = node('n1');
  n1.Status.Addr = NODE_ADDRESS;
  store.mirror('node', n1);
  const feed = new DashboardFeed(store, () => {}, new MeshWatch({ view: store, apiPort, localAddress: MANAGER_ADDRESS, pollMs: 60_000 }));
  t.teardown(() => feed.close());

  const router = new Router();
  dashboardRoutes(router, { dashboard: () => feed } as unknown as EngineContext);
  const pagePort = await listen(t, MANAGER_ADDRESS, (req, res) => { void router.handle(req, res); });

  // A page that reads as fast as it can.
  let received = '';
  let ended = false;
  const request = http.get(`http://${MANAGER_ADDRESS}:${pagePort}/ui/events`, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => { received += chunk; });
    res.on('close', () => { ended = true; });
    res.on('error', () => { ended = true; });
  });
  request.on('error', () => { ended = true; });
  t.teardown(() => request.destroy());

  await waitFor('the node\'s read sent, or the page cut off', () => ended || /event: changes\n[^]*\n\n/.test(received), 20_000);
  t.notOk(ended, 'the page is still connected');
  t.match(received, /event: changes\nid: [^\n]+\ndata: \{[^\n]*"nodeId":"n1"[^\n]*\n\n/, 'and got the batch with n1\'s pools, whole');
});
