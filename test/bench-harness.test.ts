// The bench harness's own logic: the round order, the medians, the targets' arithmetic, and peers that are
// not installed. Its end-to-end run (`bench/run.ts --quick`) is bench/quick-run.test.ts: `npm run test:bench`.
import t from 'tap';
import { roundOrders, SCENARIOS } from '../bench/schedule.js';
import { median, summarize } from '../bench/summary.js';
import { ROUTES } from '../bench/table.js';
import type { Measurement, Route } from '../bench/table.js';
import { goals } from '../bench/goals.js';
import { startPeers } from '../bench/peers.js';

const ONE_CONNECTION: readonly Route[] = ['direct', 'same node', 'haproxy tcp', 'nginx stream'];

t.test('rounds turn the order: among the runs compared with each other, no route holds one place twice', async (t) => {
  const orders = roundOrders(3);
  t.equal(orders.length, 3);
  const all = ROUTES.length;
  for (const order of orders) {
    t.equal(new Set(order).size, SCENARIOS.length, 'every round runs every scenario once');
    t.same(order.map((s) => s.mode), [...Array(all).fill('keep-alive'), ...Array(all).fill('new per request'), ...Array(4).fill('one connection')],
      'keep-alive runs first, then new per request, then one connection, each as a block');
  }
  for (const mode of ['keep-alive', 'new per request', 'one connection'] as const) {
    for (const route of mode === 'one connection' ? ONE_CONNECTION : ROUTES) {
      const places = orders.map((order) => order.filter((s) => s.mode === mode).findIndex((s) => s.route === route));
      t.equal(new Set(places).size, 3, `${route}, ${mode}: a different place in each round (${places.join(', ')})`);
    }
  }
  t.same(roundOrders(1), [SCENARIOS], 'one round (quick mode) runs the report\'s order');
  const withoutPeers = roundOrders(2, (route) => !route.startsWith('haproxy') && !route.startsWith('nginx'));
  t.ok(withoutPeers.every((order) => order.length === SCENARIOS.length - 10 && order.every((s) => !/haproxy|nginx/.test(s.route))),
    'a peer that is not installed drops out of every round, and nothing else does');
});

t.test('targets: each compares the right rows, and says when a row it needs did not run', async (t) => {
  const row = (route: Route, mode: Measurement['mode'], reqPerSec: number, p50Ms = 0.1) =>
    ({ route, mode, rounds: 1, reqPerSec, p50Ms, p99Ms: 1, minReqPerSec: reqPerSec, maxReqPerSec: reqPerSec, errors: 0 });
  const list = goals([
    row('same node', 'keep-alive', 900), row('haproxy tcp', 'keep-alive', 1000),
    row('direct', 'one connection', 1, 0.030), row('same node', 'one connection', 1, 0.095),
    row('http same node', 'keep-alive', 700), row('haproxy http', 'keep-alive', 1000), row('node-http-proxy', 'keep-alive', 300),
    row('same node, no metrics', 'keep-alive', 940),
  ]);
  t.same(list.map((g) => [g.measured, g.met]), [
    ['0.90×', false], [undefined, undefined], ['+65 µs', false], ['0.70×', true], ['2.33×', true],
    ['4.3% fewer req/s with them', true], [undefined, undefined],
  ]);
});

t.test('the summary takes each figure\'s median over the rounds and keeps the req/s spread', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  const run = (round: number, reqPerSec: number, p50Ms: number, p99Ms: number, errors = 0): Measurement => ({
    route: 'same node', mode: 'keep-alive', round, position: round,
    result: { responses: reqPerSec, reqPerSec, p50Ms, p99Ms, errors, timeouts: 0, non2xx: 0, elapsedSec: 1 },
  });
  const [summary] = summarize([run(1, 900, 0.3, 2), run(2, 1200, 0.2, 9), run(3, 1000, 0.5, 1, 2)], [{ route: 'same node', mode: 'keep-alive' }]);
  t.match(summary, { rounds: 3, reqPerSec: 1000, p50Ms: 0.3, p99Ms: 2, minReqPerSec: 900, maxReqPerSec: 1200, errors: 2 });
});

t.test('without HAProxy and nginx on the PATH, the peers say how to install them and start nothing', async (t) => {
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  t.teardown(() => {
    if (path === undefined) delete process.env.PATH;
    else process.env.PATH = path;
  });
  const peers = await startPeers('127.127.0.9:80', '127.127.0.201', '127.127.0.202');
  t.teardown(() => peers.close());
  t.same(peers.urls, {}, 'no route');
  t.same(peers.notes, [
    'HAProxy: not installed, its rows are missing (Debian/Ubuntu: apt-get install haproxy)',
    'nginx: not installed, its rows are missing (Debian/Ubuntu: apt-get install nginx libnginx-mod-stream)',
  ]);
});
