// OutlierDetector over a Pool, both on one injected clock: how many failures eject, how long each ejection
// lasts, coming back by itself, the cap on how much of a pool may be out, and ejections across Pool.set.
import t from 'tap';
import { OutlierDetector, Pool } from '../../src/lb/index.js';
import type { Backend, BackendDesired, OutlierDetectorOptions } from '../../src/lb/index.js';

interface Harness {
  clock: { t: number };
  pool: Pool;
  detector: OutlierDetector;
  /** onEject calls, in order: id and ms. */
  ejected: { id: string; ms: number; backend: Backend }[];
  /** onReturn calls, in order. */
  returned: string[];
  b: (id: string) => Backend;
  available: () => string;
}

function desired(id: string, extra: Partial<BackendDesired> = {}): BackendDesired {
  return { id, host: `127.31.0.${id.charCodeAt(0) - 96}`, port: 9000, state: 'up', ...extra };
}

/** A pool of backends a, b, c ... (`size` of them) and a detector, on one clock starting at `start`. */
function harness(size: number, options: Partial<OutlierDetectorOptions> = {}, start = 1_000_000): Harness {
  const clock = { t: start };
  const now = (): number => clock.t;
  const returned: string[] = [];
  const ejected: Harness['ejected'] = [];
  const pool = new Pool({ now, onReturn: (backend) => returned.push(backend.id) });
  pool.set(Array.from({ length: size }, (_, i) => desired(String.fromCharCode(97 + i))));
  const detector = new OutlierDetector({
    consecutiveFailures: 3, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedPercent: 50,
    ...options,
    now,
    onEject: (backend, ms) => ejected.push({ id: backend.id, ms, backend }),
  });
  return {
    clock, pool, detector, ejected, returned,
    b: (id) => pool.get(id)!,
    available: () => pool.available.map((x) => x.id).join(''),
  };
}

// ---------------------------------------------------------------------------------------------------
// How many failures eject
// ---------------------------------------------------------------------------------------------------

interface CountRow {
  name: string;
  n: number;
  /** Events on a pool of a..d: `af` a failure of a, `as` a success of a. */
  events: string[];
  /** What each failure() returned, in order ('' for a success). */
  returns: string;
  ejected: string;
}

const countRows: CountRow[] = [
  { name: 'N-1 failures do not eject', n: 3, events: ['af', 'af'], returns: '--', ejected: '' },
  { name: 'the N-th failure ejects', n: 3, events: ['af', 'af', 'af'], returns: '--E', ejected: 'a' },
  { name: 'a success in between resets the count', n: 3, events: ['af', 'af', 'as', 'af', 'af'], returns: '--.--', ejected: '' },
  { name: 'after the reset, N more in a row eject', n: 3, events: ['af', 'af', 'as', 'af', 'af', 'af'], returns: '--.--E', ejected: 'a' },
  { name: 'another backend\'s success does not reset it', n: 3, events: ['af', 'af', 'bs', 'af'], returns: '--.E', ejected: 'a' },
  { name: 'failures are counted per backend', n: 3, events: ['af', 'bf', 'af', 'bf', 'cf'], returns: '-----', ejected: '' },
  { name: 'N=1: the first failure ejects', n: 1, events: ['bf'], returns: 'E', ejected: 'b' },
  { name: 'N=5: four, a success, four: no ejection', n: 5, events: ['af', 'af', 'af', 'af', 'as', 'af', 'af', 'af', 'af'], returns: '----.----', ejected: '' },
  { name: 'N=0 disables: 50 failures eject nothing', n: 0, events: Array.from({ length: 50 }, () => 'af'), returns: '-'.repeat(50), ejected: '' },
];

for (const row of countRows) {
  t.test(`consecutive failures: ${row.name}`, async (t) => {
    const h = harness(4, { consecutiveFailures: row.n });
    let returns = '';
    for (const event of row.events) {
      const backend = h.b(event[0]!);
      if (event[1] === 's') {
        h.detector.success(backend);
        returns += '.';
      } else {
        returns += h.detector.failure(h.pool, backend) ? 'E' : '-';
      }
    }
    t.equal(returns, row.returns, 'what failure() said each time');
    t.equal(h.ejected.map((e) => e.id).join(''), row.ejected, 'onEject calls');
    t.equal(h.pool.ejectedCount, row.ejected.length, 'ejectedCount');
    t.equal(h.available(), 'abcd'.replace(new RegExp(`[${row.ejected || '_'}]`, 'g'), ''), 'available');
  });
}

t.test('an ejection starts a new count: N more failures after it comes back are needed', async (t) => {
  const h = harness(4, { consecutiveFailures: 3 });
  const a = h.b('a');
  for (let i = 0; i < 3; i++) h.detector.failure(h.pool, a);
  t.equal(a.consecutiveFailures, 0, 'reset by the ejection');
  h.clock.t += 30_000;
  t.equal(h.available(), 'abcd');
  t.equal(h.detector.failure(h.pool, a), false);
  t.equal(h.detector.failure(h.pool, a), false);
  t.equal(h.detector.failure(h.pool, a), true, 'the third in a row ejects again');
});

// ---------------------------------------------------------------------------------------------------
// How long an ejection lasts
// ---------------------------------------------------------------------------------------------------

interface LengthRow {
  base: number;
  max: number;
  /** Seconds of the 1st, 2nd ... ejection of the same backend. */
  seconds: number[];
}

const lengthRows: LengthRow[] = [
  { base: 30_000, max: 300_000, seconds: [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300] },
  { base: 10_000, max: 25_000, seconds: [10, 20, 25, 25] },
  { base: 5_000, max: 5_000, seconds: [5, 5, 5] },
  { base: 1, max: 2 ** 31 - 1, seconds: [0.001, 0.002, 0.003] },
];

for (const row of lengthRows) {
  t.test(`ejection length: base ${row.base}ms, max ${row.max}ms -> ${row.seconds.join(', ')} s`, async (t) => {
    const h = harness(4, { consecutiveFailures: 2, baseEjectionMs: row.base, maxEjectionMs: row.max });
    const a = h.b('a');
    const got: number[] = [];
    const until: boolean[] = [];
    for (let k = 1; k <= row.seconds.length; k++) {
      h.detector.failure(h.pool, a);
      const at = h.clock.t;
      t.equal(h.detector.failure(h.pool, a), true, `ejection ${k}`);
      got.push(h.ejected.at(-1)!.ms / 1000);
      until.push(a.ejectedUntil === at + h.ejected.at(-1)!.ms);
      t.equal(a.ejections, k);
      h.clock.t = a.ejectedUntil;
      t.equal(h.available(), 'abcd', `back after ejection ${k}`);
      h.clock.t += 1234; // some time in the pool before it fails again
    }
    t.same(got, row.seconds, 'onEject ms, in seconds');
    t.ok(until.every(Boolean), 'ejectedUntil is the failure time plus the length');
    t.same(h.returned, Array.from({ length: row.seconds.length }, () => 'a'), 'one return per ejection');
  });
}

t.test('ejection lengths are counted per backend', async (t) => {
  const h = harness(4, { consecutiveFailures: 1 });
  h.detector.failure(h.pool, h.b('a'));
  h.clock.t += 30_000;
  void h.pool.available;
  h.detector.failure(h.pool, h.b('a'));
  h.detector.failure(h.pool, h.b('b'));
  t.same(h.ejected.map((e) => `${e.id}${e.ms / 1000}`), ['a30', 'a60', 'b30']);
});

// ---------------------------------------------------------------------------------------------------
// Out, then back by itself
// ---------------------------------------------------------------------------------------------------

t.test('an ejected backend is out of available until the clock reaches ejectedUntil, then back by itself', async (t) => {
  const h = harness(3, { consecutiveFailures: 2, baseEjectionMs: 30_000 });
  const b = h.b('b');
  const start = h.clock.t;
  h.detector.failure(h.pool, b);
  t.equal(h.detector.failure(h.pool, b), true);
  t.equal(h.ejected.length, 1);
  t.equal(h.ejected[0]!.backend, b, 'onEject gets the backend itself');
  t.equal(h.ejected[0]!.ms, 30_000, 'and the length in ms');
  t.equal(b.ejectedUntil, start + 30_000);

  const steps: { at: number; available: string; count: number; returned: number }[] = [
    { at: start, available: 'ac', count: 1, returned: 0 },
    { at: start + 1, available: 'ac', count: 1, returned: 0 },
    { at: start + 29_999, available: 'ac', count: 1, returned: 0 },
    { at: start + 30_000, available: 'abc', count: 0, returned: 1 },
    { at: start + 30_001, available: 'abc', count: 0, returned: 1 },
    { at: start + 900_000, available: 'abc', count: 0, returned: 1 },
  ];
  for (const step of steps) {
    h.clock.t = step.at;
    t.equal(h.pool.ejectedCount, step.count, `ejectedCount at +${step.at - start}ms`);
    t.equal(h.available(), step.available, `available at +${step.at - start}ms`);
    t.equal(h.available(), step.available, `available read again at +${step.at - start}ms`);
    t.equal(h.returned.length, step.returned, `onReturn calls by +${step.at - start}ms`);
  }
  t.same(h.returned, ['b'], 'onReturn called exactly once, for b');
  t.equal(b.ejectedUntil, 0, 'no longer ejected');
  t.equal(h.pool.get('b'), b, 'the same backend object came back');
});

t.test('two backends ejected at different times come back each at its own time', async (t) => {
  const h = harness(4, { consecutiveFailures: 1, maxEjectedPercent: 50 });
  const start = h.clock.t;
  h.detector.failure(h.pool, h.b('a'));
  h.clock.t = start + 10_000;
  h.detector.failure(h.pool, h.b('c'));
  t.equal(h.available(), 'bd');
  h.clock.t = start + 30_000;
  t.equal(h.available(), 'abd', 'a is back, c is not');
  t.same(h.returned, ['a']);
  h.clock.t = start + 40_000;
  t.equal(h.available(), 'abcd');
  t.same(h.returned, ['a', 'c']);
});

// ---------------------------------------------------------------------------------------------------
// Never more than a share of the pool
// ---------------------------------------------------------------------------------------------------

interface PercentRow {
  size: number;
  percent: number;
  /** Backends failing in this order, each N times. */
  failing: string;
  ejected: string;
}

const percentRows: PercentRow[] = [
  { size: 4, percent: 50, failing: 'abc', ejected: 'ab' },
  { size: 4, percent: 50, failing: 'dcba', ejected: 'dc' },
  { size: 4, percent: 25, failing: 'abcd', ejected: 'a' },
  { size: 4, percent: 74, failing: 'abcd', ejected: 'ab' },
  { size: 4, percent: 75, failing: 'abcd', ejected: 'abc' },
  { size: 4, percent: 100, failing: 'abcd', ejected: 'abcd' },
  { size: 4, percent: 0, failing: 'abcd', ejected: '' },
  { size: 3, percent: 50, failing: 'abc', ejected: 'a' },
  { size: 10, percent: 10, failing: 'abcdefghij', ejected: 'a' },
  { size: 10, percent: 50, failing: 'abcdefghij', ejected: 'abcde' },
  { size: 2, percent: 50, failing: 'ab', ejected: 'a' },
  { size: 1, percent: 50, failing: 'a', ejected: '' },
  { size: 1, percent: 99, failing: 'a', ejected: '' },
  { size: 1, percent: 0, failing: 'a', ejected: '' },
];

for (const row of percentRows) {
  t.test(`max ejected percent: pool of ${row.size} at ${row.percent}%, ${row.failing} failing -> ${row.ejected || 'none'} ejected`, async (t) => {
    const h = harness(row.size, { consecutiveFailures: 2, maxEjectedPercent: row.percent });
    const all = h.available();
    let said = '';
    for (const id of row.failing) {
      // Many more failures than N: a refused ejection must stay refused while the cap is reached.
      for (let i = 0; i < 6; i++) if (h.detector.failure(h.pool, h.b(id))) said += id;
    }
    t.equal(said, row.ejected, 'failure() said ejected for these, once each');
    t.equal(h.ejected.map((e) => e.id).join(''), row.ejected, 'onEject');
    t.equal(h.pool.ejectedCount, row.ejected.length);
    t.equal(h.available(), [...all].filter((id) => !row.ejected.includes(id)).join(''), 'the others stay in');
  });
}

t.test('max ejected percent: a refused backend is ejected once an ejection ends and makes room', async (t) => {
  const h = harness(4, { consecutiveFailures: 2, maxEjectedPercent: 50 });
  const start = h.clock.t;
  for (const id of 'abc') for (let i = 0; i < 2; i++) h.detector.failure(h.pool, h.b(id));
  t.equal(h.available(), 'cd', 'c was refused: the cap was reached');
  h.clock.t = start + 30_000;
  t.equal(h.available(), 'abcd');
  t.equal(h.detector.failure(h.pool, h.b('c')), true, 'c still has its failures in a row: the next one ejects it');
  t.equal(h.available(), 'abd');
  t.equal(h.b('c').ejectedUntil, start + 60_000);
});

// ---------------------------------------------------------------------------------------------------
// Already ejected
// ---------------------------------------------------------------------------------------------------

t.test('a backend already ejected is not ejected again: further failures do not extend its ejection', async (t) => {
  const h = harness(4, { consecutiveFailures: 2 });
  const a = h.b('a');
  const start = h.clock.t;
  h.detector.failure(h.pool, a);
  h.detector.failure(h.pool, a);
  t.equal(a.ejectedUntil, start + 30_000);
  const said: boolean[] = [];
  for (const at of [0, 1, 5_000, 10_000, 29_999]) {
    h.clock.t = start + at;
    for (let i = 0; i < 4; i++) said.push(h.detector.failure(h.pool, a));
  }
  t.ok(said.every((x) => !x), 'failure() never says ejected while it is out');
  t.equal(a.ejectedUntil, start + 30_000, 'the ejection still ends when it did');
  t.equal(a.ejections, 1, 'still its first ejection');
  t.equal(h.ejected.length, 1, 'onEject once');
  t.equal(h.pool.ejectedCount, 1);
  h.clock.t = start + 30_000;
  t.equal(h.available(), 'abcd', 'back on time');
  t.same(h.returned, ['a']);
});

// ---------------------------------------------------------------------------------------------------
// Across Pool.set
// ---------------------------------------------------------------------------------------------------

interface ResyncRow {
  name: string;
  /** The membership after the re-sync, as changes to a..d. */
  next: BackendDesired[];
  /** Is b (ejected before) the same object, still ejected? */
  stillEjected: boolean;
  available: string;
}

const resyncRows: ResyncRow[] = [
  { name: 'the same backends: b stays ejected', next: ['a', 'b', 'c', 'd'].map((id) => desired(id)), stillEjected: true, available: 'acd' },
  { name: 'the same backends in another order', next: ['d', 'c', 'b', 'a'].map((id) => desired(id)), stillEjected: true, available: 'dca' },
  { name: 'b fenced and weighted: still the same ejected b', next: [desired('a'), desired('b', { state: 'fenced', weight: 3 }), desired('c')], stillEjected: true, available: 'ac' },
  { name: 'b moved to another port: a new, clean b', next: [desired('a'), desired('b', { port: 9001 }), desired('c'), desired('d')], stillEjected: false, available: 'abcd' },
  { name: 'b moved to another host: a new, clean b', next: [desired('a'), desired('b', { host: '127.31.9.9' }), desired('c'), desired('d')], stillEjected: false, available: 'abcd' },
];

for (const row of resyncRows) {
  t.test(`pool.set and ejections: ${row.name}`, async (t) => {
    const h = harness(4, { consecutiveFailures: 2 });
    const start = h.clock.t;
    const old = h.b('b');
    h.detector.failure(h.pool, old);
    h.detector.failure(h.pool, old);
    h.detector.failure(h.pool, h.b('c')); // one failure of c on the way
    h.clock.t = start + 10_000;
    h.pool.set(row.next);
    const b = h.b('b');
    t.equal(h.available(), row.available);
    if (row.stillEjected) {
      t.equal(b, old, 'the same backend object');
      t.equal(b.ejectedUntil, start + 30_000, 'its ejection still ends when it did');
      t.equal(b.ejections, 1);
      t.equal(h.pool.ejectedCount, 1);
      h.clock.t = start + 30_000;
      void h.pool.available;
      t.same(h.returned, ['b'], 'and it returns by itself');
    } else {
      t.not(b, old, 'a new backend object');
      t.equal(b.ejectedUntil, 0, 'not ejected');
      t.equal(b.ejections, 0, 'no ejections behind it');
      t.equal(b.consecutiveFailures, 0, 'no failures behind it');
      t.equal(h.pool.ejectedCount, 0);
      h.detector.failure(h.pool, b);
      t.equal(h.detector.failure(h.pool, b), true, 'N new failures eject it');
      t.equal(h.ejected.at(-1)!.ms, 30_000, 'for a first ejection\'s length');
      h.clock.t = start + 1_000_000;
      void h.pool.available;
      t.same(h.returned, ['b'], 'only the new b returns: the replaced one left with its ejection');
    }
    t.equal(h.b('c').consecutiveFailures, 1, 'c kept its failure count across the re-sync');
  });
}

// ---------------------------------------------------------------------------------------------------
// What does not count
// ---------------------------------------------------------------------------------------------------

t.test('failures while ejected (connects begun before) do not carry over: it takes N new ones after', async (t) => {
  const h = harness(4, { consecutiveFailures: 3 });
  for (let i = 0; i < 3; i++) h.detector.failure(h.pool, h.b('a'));
  t.equal(h.ejected.length, 1, 'ejected once');
  for (let i = 0; i < 2; i++) t.notOk(h.detector.failure(h.pool, h.b('a')), 'a late failure while ejected');
  h.clock.t += 30_000;
  t.equal(h.available(), 'abcd', 'back');
  t.notOk(h.detector.failure(h.pool, h.b('a')), 'one failure after it returns');
  t.notOk(h.detector.failure(h.pool, h.b('a')), 'two');
  t.ok(h.detector.failure(h.pool, h.b('a')), 'the third new one ejects it again');
  t.same(h.ejected.map((e) => e.ms), [30_000, 60_000]);
});

t.test('the share that may be ejected is of the backends serving, not of fenced ones', async (t) => {
  const h = harness(4, { consecutiveFailures: 1, maxEjectedPercent: 50 });
  h.pool.set([desired('a'), desired('b'), desired('c', { state: 'fenced' }), desired('d', { state: 'fenced' })]);
  t.ok(h.detector.failure(h.pool, h.b('a')), 'one of the two serving may go');
  t.notOk(h.detector.failure(h.pool, h.b('b')), 'not the other: half of what serves is out already');
  t.equal(h.available(), 'b');
});

t.test('a backend that has left the pool is not ejected (a connect begun before it left)', async (t) => {
  const h = harness(3, { consecutiveFailures: 1 });
  const gone = h.b('c');
  h.pool.set([desired('a'), desired('b')]);
  t.notOk(h.detector.failure(h.pool, gone));
  t.same(h.ejected, [], 'nothing logged');
});

t.test('a healthy stretch as long as the longest ejection earns back a step of the ejection length', async (t) => {
  const h = harness(4, { consecutiveFailures: 1, baseEjectionMs: 30_000, maxEjectionMs: 300_000 });
  h.detector.failure(h.pool, h.b('a'));
  h.clock.t += 30_000;
  t.equal(h.available(), 'abcd', 'back after 30 s');
  h.detector.success(h.b('a'));
  t.equal(h.b('a').ejections, 1, 'a success right after its return earns nothing yet');
  h.clock.t += 299_999;
  h.detector.success(h.b('a'));
  t.equal(h.b('a').ejections, 1, 'nor one just short of the longest ejection');
  h.clock.t += 1;
  h.detector.success(h.b('a'));
  t.equal(h.b('a').ejections, 0, 'after 300 s of health, the step is earned back');
  h.detector.failure(h.pool, h.b('a'));
  t.same(h.ejected.map((e) => e.ms), [30_000, 30_000], 'so its next ejection is the base length again, not 60 s');
});
