// The bench harness's own logic: the round order, the medians, CPU per request and its table, the targets'
// arithmetic, and peers that are not installed. Its end-to-end run (`bench/run.ts --quick`) is bench/quick-run.test.ts: `npm run test:bench`.
import t from 'tap';
import { roundOrders, SCENARIOS } from '../bench/schedule.js';
import { median, summarize, type ScenarioSummary } from '../bench/summary.js';
import { formatCpuTable, ROUTES } from '../bench/table.js';
import type { Measurement, Route } from '../bench/table.js';
import { goals } from '../bench/goals.js';
import { cpuPerRequest } from '../bench/machine.js';
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

t.test("targets: issue 17's, each comparing the right rows, and saying when a row it needs did not run", async (t) => {
  const row = (route: Route, mode: Measurement['mode'], reqPerSec: number, p50Ms = 0.1, cpuUs?: number): ScenarioSummary => ({
    route, mode, rounds: 1, reqPerSec, p50Ms, p99Ms: 1, minReqPerSec: reqPerSec, maxReqPerSec: reqPerSec, errors: 0,
    ...(cpuUs !== undefined ? { cpu: { usPerRequest: cpuUs, minUsPerRequest: cpuUs, maxUsPerRequest: cpuUs, coreShare: 0.5 } } : {}),
  });
  const list = goals([
    row('same node', 'keep-alive', 1000, 0.1, 10.29), row('haproxy tcp', 'keep-alive', 1000), row('same node, no metrics', 'keep-alive', 990, 0.1, 10),
    row('same node', 'new per request', 990, 0.1, 100), row('haproxy tcp', 'new per request', 1000), row('same node, no metrics', 'new per request', 1000, 0.1, 110),
    row('direct', 'one connection', 1, 0.030), row('same node', 'one connection', 1, 0.059), row('haproxy tcp', 'one connection', 1, 0.048),
    row('http same node', 'keep-alive', 600, 0.1, 40), row('haproxy http', 'keep-alive', 1000, 0.1, 20), row('node-http-proxy', 'keep-alive', 121),
    row('http same node, no metrics', 'keep-alive', 600, 0.1, 38.7),
    row('http same node', 'new per request', 790, 0.1, 61), row('haproxy http', 'new per request', 1000, 0.1, 30),
  ]);
  t.same(list.map((g) => [g.what, g.measured, g.met]), [
    ['mesh tcp, same node ≥ 1.0× HAProxy, mode tcp req/s, keep-alive', '1.00×', true],
    ['mesh tcp, same node ≥ 1.0× HAProxy, mode tcp req/s, new per request', '0.99×', false],
    // +29 µs against HAProxy's +18: 11 µs more, one over.
    ["mesh tcp, same node: added p50 within 10 µs of HAProxy, mode tcp's, one connection", '+29 µs against +18 µs', false],
    ['mesh http, same node ≥ 0.6× HAProxy, mode http req/s, keep-alive', '0.60×', true],
    ['mesh http, same node ≥ 5.0× node-http-proxy, defaults req/s, keep-alive', '4.96×', false],
    ['mesh http, same node ≥ 0.8× HAProxy, mode http req/s, new per request', '0.79×', false],
    ["mesh http, same node: CPU per request ≤ 2× HAProxy, mode http's, keep-alive", '2.00× (40.0 µs against 20.0)', true],
    ["mesh http, same node: CPU per request ≤ 2× HAProxy, mode http's, new per request", '2.03× (61.0 µs against 30.0)', false],
    ['mesh tcp, same node: metrics on ≤ 3% more CPU per request than off, keep-alive', '2.9% more with them', true],
    // Cheaper with metrics on is noise, not a cost: met.
    ['mesh tcp, same node: metrics on ≤ 3% more CPU per request than off, new per request', '9.1% less with them', true],
    ['mesh http, same node: metrics on ≤ 3% more CPU per request than off, keep-alive', '3.4% more with them', false],
    // No metrics-off row with a new connection per request: not run, rather than a figure from the wrong row.
    ['mesh http, same node: metrics on ≤ 3% more CPU per request than off, new per request', undefined, undefined],
  ]);

  const withoutCpu = goals([row('http same node', 'keep-alive', 600), row('haproxy http', 'keep-alive', 1000, 0.1, 20)]);
  t.same(withoutCpu.map((g) => g.met), [undefined, undefined, undefined, true, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined],
    'a row whose CPU was not read (a peer not installed) leaves its CPU targets not run, and req/s ones still measured');
});

t.test('the summary takes each figure\'s median over the rounds and keeps the req/s spread', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  const run = (round: number, reqPerSec: number, p50Ms: number, p99Ms: number, errors = 0): Measurement => ({
    route: 'same node', mode: 'keep-alive', round, position: round,
    result: { responses: reqPerSec, reqPerSec, p50Ms, p99Ms, errors, timeouts: 0, non2xx: 0, elapsedSec: 1, warmupResponses: 0 },
  });
  const [summary] = summarize([run(1, 900, 0.3, 2), run(2, 1200, 0.2, 9), run(3, 1000, 0.5, 1, 2)], [{ route: 'same node', mode: 'keep-alive' }]);
  t.match(summary, { rounds: 3, reqPerSec: 1000, p50Ms: 0.3, p99Ms: 2, minReqPerSec: 900, maxReqPerSec: 1200, errors: 2 });
  t.equal(summary!.cpu, undefined, 'no CPU figure where none was read');

  const withCpu = (round: number, usPerRequest: number, coreShare: number): Measurement => ({ ...run(round, 1000, 0.3, 2), cpu: { usPerRequest, coreShare } });
  const [cpu] = summarize([withCpu(1, 20, 0.4), withCpu(2, 14, 0.6), withCpu(3, 17, 0.5)], [{ route: 'same node', mode: 'keep-alive' }]);
  t.same(cpu!.cpu, { usPerRequest: 17, minUsPerRequest: 14, maxUsPerRequest: 20, coreShare: 0.5 }, 'CPU per request: the median of the rounds and their spread');
});

t.test('CPU per request counts the warm-up\'s answers and the non-2xx ones, which the CPU reading also paid for', async (t) => {
  const result = { responses: 900, reqPerSec: 450, p50Ms: 1, p99Ms: 2, errors: 0, timeouts: 0, non2xx: 100, elapsedSec: 2, warmupResponses: 250 };
  t.equal(cpuPerRequest(25_000, result), 20);
});

t.test('the CPU table holds the rows whose CPU was read, each against HAProxy of its layer and connection mode', async (t) => {
  const row = (route: Route, mode: Measurement['mode'], cpuUs?: number): ScenarioSummary => ({
    route, mode, rounds: 3, reqPerSec: 1000, p50Ms: 0.1, p99Ms: 1, minReqPerSec: 900, maxReqPerSec: 1100, errors: 0,
    ...(cpuUs !== undefined ? { cpu: { usPerRequest: cpuUs, minUsPerRequest: cpuUs - 1, maxUsPerRequest: cpuUs + 2, coreShare: 0.42 } } : {}),
  });
  const lines = formatCpuTable([row('direct', 'keep-alive'), row('http same node', 'keep-alive', 45), row('haproxy http', 'keep-alive', 15),
    row('http same node', 'new per request', 90), row('haproxy http', 'new per request', 30), row('node-http-proxy', 'keep-alive', 60)]).split('\n');
  const cells = lines.slice(2).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(cells, [
    ['mesh http, same node', 'keep-alive', '45.0', '44.0–47.0', '3.00×', '42%', '1000'],
    ['HAProxy, mode http', 'keep-alive', '15.0', '14.0–17.0', '1.00×', '42%', '1000'],
    ['mesh http, same node', 'new per request', '90.0', '89.0–92.0', '3.00×', '42%', '1000'],
    ['HAProxy, mode http', 'new per request', '30.0', '29.0–32.0', '1.00×', '42%', '1000'],
    ['node-http-proxy, defaults', 'keep-alive', '60.0', '59.0–62.0', '4.00×', '42%', '1000'],
  ], 'no row for direct, whose CPU is not read');
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
