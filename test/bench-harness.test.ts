// The bench harness end to end on tiny settings (`bench/run.ts --quick` as a child process on an
// address block of its own), and the round order and medians it reports. Never how fast anything is.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { roundOrders, SCENARIOS } from '../bench/schedule.js';
import { median, summarize } from '../bench/summary.js';
import { ROUTE_LABEL, ROUTES } from '../bench/table.js';
import type { Measurement } from '../bench/table.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('../bench/results/', import.meta.url));
const BLOCK = '127'; // nodes 127.127.0.x, tasks 127.128/16, VIPs 127.129/16; without metrics 127.130-132

/** Names and modification times under bench/results, to see that a run left it untouched. */
async function snapshot(): Promise<string[]> {
  const names = await readdir(RESULTS).catch(() => [] as string[]);
  return Promise.all(names.sort().map(async (n) => `${n} ${(await stat(`${RESULTS}${n}`)).mtimeMs}`));
}

t.test('bench --quick prints a table with every scenario and leaves bench/results alone', async (t) => {
  const before = await snapshot();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BLOCK: BLOCK, BENCH_NO_WRITE: '1', BENCH_DURATION: '0.5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

  t.equal(code, 0, `exits 0${code ? `; stderr: ${stderr}` : ''}`);
  t.match(stdout, /Node v\d+/, 'names the Node version');
  t.match(stdout, /\d+ cores/, 'names the core count');
  t.match(stdout, /; 1 round \(quick mode/, 'quick mode runs one round');
  const rows = stdout.split('\n').filter((l) => l.startsWith('| ')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(rows[0]?.slice(0, 5), ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms'], 'a table header');
  t.equal(ROUTES.length, 8, 'direct, tcp and http mode on two nodes, node-http-proxy, and tcp and http mode with metrics off');
  for (const scenario of ROUTES.map((route) => ROUTE_LABEL[route])) {
    const found = rows.filter((r) => r[0] === scenario);
    t.equal(found.length, 2, `${scenario}: a keep-alive row and a new-connection row`);
    for (const row of found) t.ok(Number(row[2]) > 0, `${scenario} (${row[1]}): req/s ${row[2]} is a number above 0`);
  }
  t.same(await snapshot(), before, 'bench/results is untouched');
});

t.test('rounds turn the order: among the runs compared with each other, no route holds one place twice', async (t) => {
  const orders = roundOrders(3);
  t.equal(orders.length, 3);
  const half = ROUTES.length;
  for (const order of orders) {
    t.equal(new Set(order).size, SCENARIOS.length, 'every round runs every scenario once');
    t.same(order.map((s) => s.mode), [...Array(half).fill('keep-alive'), ...Array(half).fill('new per request')], 'keep-alive runs first, as a block');
  }
  for (const mode of ['keep-alive', 'new per request'] as const) {
    for (const route of ROUTES) {
      const places = orders.map((order) => order.filter((s) => s.mode === mode).findIndex((s) => s.route === route));
      t.equal(new Set(places).size, 3, `${route}, ${mode}: a different place in each round (${places.join(', ')})`);
    }
  }
  t.same(roundOrders(1), [SCENARIOS], 'one round (quick mode) runs the report\'s order');
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
