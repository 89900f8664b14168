// Docker's health state machine as a table: starting until the first success, failures in the start
// period not counted, unhealthy after `retries` failures in a row, any success resetting the count.
import t from 'tap';
import { HealthChecker } from '../../src/lb/index.js';
import type { Health } from '../../src/lb/index.js';

function checker(options: { retries: number; startPeriodMs: number }) {
  let clock = 0;
  const seen: Health[] = [];
  const c = new HealthChecker({
    probe: async () => true, intervalMs: 1000, timeoutMs: 500, onStatus: (h) => seen.push(h), now: () => clock, ...options,
    setTimer: () => ({ cancel: () => {} }), // the table records results itself: nothing is armed
  });
  return { c, seen, at: (ms: number) => { clock = ms; } };
}

const rows: { name: string; retries: number; startPeriodMs: number; results: [number, boolean][]; expect: Health[] }[] = [
  { name: 'the first success makes it healthy', retries: 3, startPeriodMs: 0, results: [[1000, true]], expect: ['healthy'] },
  { name: 'retries failures in a row make it unhealthy', retries: 3, startPeriodMs: 0, results: [[1000, false], [2000, false], [3000, false]], expect: ['unhealthy'] },
  { name: 'fewer failures than retries change nothing', retries: 3, startPeriodMs: 0, results: [[1000, false], [2000, false]], expect: [] },
  { name: 'a success resets the count', retries: 2, startPeriodMs: 0, results: [[1000, true], [2000, false], [3000, true], [4000, false]], expect: ['healthy'] },
  { name: 'healthy, then retries failures: unhealthy', retries: 2, startPeriodMs: 0, results: [[1000, true], [2000, false], [3000, false]], expect: ['healthy', 'unhealthy'] },
  { name: 'failures inside the start period are not counted', retries: 1, startPeriodMs: 5000, results: [[1000, false], [2000, false], [4000, false]], expect: [] },
  { name: 'a failure after the start period counts', retries: 1, startPeriodMs: 5000, results: [[1000, false], [6000, false]], expect: ['unhealthy'] },
  { name: 'a success inside the start period makes it healthy', retries: 1, startPeriodMs: 5000, results: [[1000, false], [2000, true]], expect: ['healthy'] },
  { name: 'once healthy, the start period no longer shields failures', retries: 1, startPeriodMs: 5000, results: [[1000, true], [2000, false]], expect: ['healthy', 'unhealthy'] },
];

for (const row of rows) {
  t.test(`health: ${row.name}`, async (t) => {
    const { c, seen, at } = checker(row);
    for (const [time, ok] of row.results) {
      at(time);
      c.record(ok);
    }
    t.same(seen, row.expect);
  });
}

t.test('a probe that outlives its timeout counts as a failure', async (t) => {
  const timers: { fn: () => void; ms: number }[] = [];
  const seen: Health[] = [];
  const c = new HealthChecker({
    probe: () => new Promise<boolean>(() => {}), // never answers
    intervalMs: 1000, timeoutMs: 500, retries: 1, startPeriodMs: 0,
    onStatus: (h) => seen.push(h),
    setTimer: (fn, ms) => { timers.push({ fn, ms }); return { cancel: () => {} }; },
  });
  c.start();
  t.equal(timers[0]!.ms, 1000, 'the first probe comes one interval after the start');
  timers.shift()!.fn();
  t.equal(timers[0]!.ms, 500, 'then the timeout');
  timers.shift()!.fn();
  await new Promise((resolve) => setImmediate(resolve));
  t.same(seen, ['unhealthy']);
  c.stop();
});
