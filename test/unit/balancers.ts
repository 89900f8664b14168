// The balancing algorithms as pure tables over a Pool: weighted round robin (nginx's smooth kind), least
// connections, power of two choices (with an injected random), source hash (rendezvous), and round robin
// against ejected backends. No sockets, no timers: the pool's clock and the random source are injected.
import t from 'tap';
import {
  Backend, LeastConnections, Pool, PowerOfTwoChoices, RoundRobin, SourceHash, WeightedRoundRobin,
} from '../../src/lb/index.js';
import type { Balancer, BackendDesired, BackendState } from '../../src/lb/index.js';

interface Spec {
  id: string;
  weight?: number;
  active?: number;
  state?: BackendState;
}

/** A settable clock the pool measures ejections on. */
function clock(start = 0): { t: number; now: () => number } {
  const c = { t: start, now: () => c.t };
  return c;
}

function desired(spec: Spec, index: number): BackendDesired {
  return {
    id: spec.id, host: `127.30.0.${index + 1}`, port: 8080, state: spec.state ?? 'up', label: `web.${spec.id}`,
    ...(spec.weight === undefined ? {} : { weight: spec.weight }),
  };
}

/** A pool of `specs`, in order, with their open connections set. */
function poolOf(specs: readonly Spec[], now: () => number = () => 0): Pool {
  const p = new Pool({ now });
  p.set(specs.map(desired));
  for (const spec of specs) if (spec.active !== undefined) p.get(spec.id)!.active = spec.active;
  return p;
}

/** Specs named a, b, c ... with these weights. */
function weighted(weights: readonly number[]): Spec[] {
  return weights.map((weight, i) => ({ id: String.fromCharCode(97 + i), weight }));
}

function picks(balancer: Balancer, p: Pool, n: number, exclude?: ReadonlySet<Backend>, client?: string): string {
  return Array.from({ length: n }, () => balancer.pick(p, exclude, client)?.id ?? '-').join('');
}

function tally(sequence: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of sequence) out[id] = (out[id] ?? 0) + 1;
  return out;
}

function excluding(p: Pool, ids: string): Set<Backend> {
  return new Set([...ids].map((id) => p.get(id)!));
}

// ---------------------------------------------------------------------------------------------------
// WeightedRoundRobin
// ---------------------------------------------------------------------------------------------------

interface WrrSequenceRow {
  weights: number[];
  /** One full cycle (sum of weights picks), exactly as nginx's smooth weighted round robin gives it. */
  cycle: string;
}

const wrrSequenceRows: WrrSequenceRow[] = [
  { weights: [5, 1, 1], cycle: 'aabacaa' }, // nginx's own example
  { weights: [1, 1, 1], cycle: 'abc' }, // equal weights: plain round robin
  { weights: [1, 1, 1, 1, 1], cycle: 'abcde' },
  { weights: [3, 1], cycle: 'aaba' },
  { weights: [2, 1], cycle: 'aba' },
  { weights: [1, 2], cycle: 'bab' },
  { weights: [1], cycle: 'a' },
];

for (const row of wrrSequenceRows) {
  t.test(`weighted round robin ${row.weights.join(':')} gives ${row.cycle} and repeats it`, async (t) => {
    const p = poolOf(weighted(row.weights));
    const wrr = new WeightedRoundRobin();
    t.equal(picks(wrr, p, row.cycle.length), row.cycle, 'first cycle');
    t.equal(picks(wrr, p, row.cycle.length * 3), row.cycle.repeat(3), 'the next three cycles are the same');
  });
}

interface WrrShareRow {
  weights: number[];
  picks: number;
}

const wrrShareRows: WrrShareRow[] = [
  { weights: [5, 3, 2], picks: 1000 },
  { weights: [7, 2, 1], picks: 1000 },
  { weights: [3, 1, 1], picks: 1000 },
  { weights: [1, 1, 1, 1], picks: 1000 },
  { weights: [100, 1], picks: 1010 },
  { weights: [4, 4, 2], picks: 1000 },
];

for (const row of wrrShareRows) {
  t.test(`weighted round robin ${row.weights.join(':')} over ${row.picks} picks: shares exactly the weights in every cycle`, async (t) => {
    const p = poolOf(weighted(row.weights));
    const sequence = picks(new WeightedRoundRobin(), p, row.picks);
    const cycle = row.weights.reduce((a, b) => a + b, 0);
    t.equal(row.picks % cycle, 0, 'the row is a whole number of cycles');
    const expected = (n: number): Record<string, number> =>
      Object.fromEntries(weighted(row.weights).map((s) => [s.id, (s.weight! * n) / cycle]));
    t.same(tally(sequence), expected(row.picks), 'whole run');
    let bad = 0;
    for (let start = 0; start < row.picks; start += cycle) {
      const got = tally(sequence.slice(start, start + cycle));
      if (JSON.stringify(Object.entries(got).sort()) !== JSON.stringify(Object.entries(expected(cycle)).sort())) bad++;
    }
    t.equal(bad, 0, 'every full cycle on its own has exactly the weights');
  });
}

t.test('weighted round robin: a weight change through Pool.set takes effect on the next cycle', async (t) => {
  const p = poolOf(weighted([1, 1]));
  const a = p.get('a')!;
  const wrr = new WeightedRoundRobin();
  t.equal(picks(wrr, p, 4), 'abab', '1:1');
  p.set([desired({ id: 'a', weight: 3 }, 0), desired({ id: 'b', weight: 1 }, 1)]);
  t.equal(p.get('a'), a, 'the same backend object, with its new weight');
  t.equal(a.weight, 3);
  t.equal(picks(wrr, p, 8), 'aabaaaba', '3:1 from now on');
  p.set([desired({ id: 'a' }, 0), desired({ id: 'b', weight: 2 }, 1)]);
  t.equal(a.weight, 1, 'a weight left out goes back to 1');
  t.same(tally(picks(wrr, p, 300)), { a: 100, b: 200 }, '1:2 after the second change');
});

interface WrrExcludeRow {
  weights: number[];
  exclude: string;
  n: number;
  expect: Record<string, number>;
}

const wrrExcludeRows: WrrExcludeRow[] = [
  { weights: [5, 1, 1], exclude: 'a', n: 12, expect: { b: 6, c: 6 } },
  { weights: [5, 1, 1], exclude: 'b', n: 12, expect: { a: 10, c: 2 } },
  { weights: [5, 1, 1], exclude: 'bc', n: 5, expect: { a: 5 } },
  { weights: [5, 1, 1], exclude: 'abc', n: 3, expect: { '-': 3 } },
  { weights: [2, 3, 5], exclude: 'c', n: 50, expect: { a: 20, b: 30 } },
];

for (const row of wrrExcludeRows) {
  t.test(`weighted round robin ${row.weights.join(':')} excluding ${row.exclude}: ${JSON.stringify(row.expect)}`, async (t) => {
    const p = poolOf(weighted(row.weights));
    t.same(tally(picks(new WeightedRoundRobin(), p, row.n, excluding(p, row.exclude))), row.expect);
  });
}

t.test('weighted round robin: an excluded backend builds up no credit while it is skipped (as nginx skips tried peers)', async (t) => {
  const p = poolOf(weighted([5, 1, 1]));
  const wrr = new WeightedRoundRobin();
  t.equal(picks(wrr, p, 12, excluding(p, 'a')), 'bcbcbcbcbcbc', 'a excluded: b and c alternate');
  t.equal(picks(wrr, p, 14), 'aabacaa'.repeat(2), 'a back: the usual cycle, not a burst of a');
});

t.test('weighted round robin: excluding a backend for one pick keeps the others in weight over the run', async (t) => {
  const p = poolOf(weighted([5, 1, 1]));
  const wrr = new WeightedRoundRobin();
  const first = picks(wrr, p, 2);
  t.equal(first, 'aa');
  // The third pick would be b; with b excluded (it refused) another one answers.
  const retry = wrr.pick(p, excluding(p, 'b'))?.id;
  t.not(retry, 'b', 'the excluded backend is not returned');
  t.ok(retry === 'a' || retry === 'c');
});

interface OutRow {
  name: string;
  specs: Spec[];
  eject?: string;
  n: number;
  expect: Record<string, number>;
}

const wrrOutRows: OutRow[] = [
  { name: 'fenced a', specs: [{ id: 'a', weight: 5, state: 'fenced' }, { id: 'b', weight: 1 }, { id: 'c', weight: 2 }], n: 30, expect: { b: 10, c: 20 } },
  { name: 'ejected a', specs: weighted([5, 1, 2]), eject: 'a', n: 30, expect: { b: 10, c: 20 } },
  { name: 'fenced b, ejected a', specs: [{ id: 'a', weight: 5 }, { id: 'b', weight: 1, state: 'fenced' }, { id: 'c', weight: 2 }], eject: 'a', n: 6, expect: { c: 6 } },
  { name: 'everything fenced', specs: [{ id: 'a', weight: 5, state: 'fenced' }, { id: 'b', state: 'fenced' }], n: 3, expect: { '-': 3 } },
  { name: 'empty pool', specs: [], n: 3, expect: { '-': 3 } },
];

for (const row of wrrOutRows) {
  t.test(`weighted round robin never picks what is out: ${row.name}`, async (t) => {
    const c = clock(1000);
    const p = poolOf(row.specs, c.now);
    if (row.eject) p.eject(p.get(row.eject)!, 5000);
    t.same(tally(picks(new WeightedRoundRobin(), p, row.n)), row.expect);
  });
}

t.test('weighted round robin: an ejected backend is back in its share once the clock passes its ejection', async (t) => {
  const c = clock(0);
  const p = poolOf(weighted([2, 1, 1]), c.now);
  const wrr = new WeightedRoundRobin();
  p.eject(p.get('a')!, 100);
  t.same(tally(picks(wrr, p, 10)), { b: 5, c: 5 });
  c.t = 100;
  t.same(tally(picks(wrr, p, 400)), { a: 200, b: 100, c: 100 });
});

t.test('weighted round robin on an empty pool picks nothing', async (t) => {
  t.equal(new WeightedRoundRobin().pick(new Pool()), undefined);
  t.equal(new WeightedRoundRobin().pick(new Pool(), new Set()), undefined);
});

// ---------------------------------------------------------------------------------------------------
// LeastConnections
// ---------------------------------------------------------------------------------------------------

interface LcRow {
  name: string;
  specs: Spec[];
  exclude?: string;
  eject?: string;
  /** Picks in a row, without changing `active` between them. */
  expect: string;
}

const lcRows: LcRow[] = [
  { name: 'the fewest open connections wins', specs: [{ id: 'a', active: 3 }, { id: 'b', active: 1 }, { id: 'c', active: 2 }], expect: 'bbb' },
  { name: 'the last one can win', specs: [{ id: 'a', active: 9 }, { id: 'b', active: 9 }, { id: 'c', active: 8 }], expect: 'cc' },
  { name: 'an idle pool of 3 rotates', specs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], expect: 'abcabc' },
  { name: 'ties rotate among the least loaded only', specs: [{ id: 'a', active: 1 }, { id: 'b' }, { id: 'c' }, { id: 'd', active: 4 }], expect: 'bcbcbc' },
  { name: 'weight divides: 4/4 beats 2/1', specs: [{ id: 'a', active: 4, weight: 4 }, { id: 'b', active: 2, weight: 1 }], expect: 'aa' },
  { name: 'weight divides: 5/2 loses to 2/1', specs: [{ id: 'a', active: 5, weight: 2 }, { id: 'b', active: 2, weight: 1 }], expect: 'bb' },
  { name: 'weight divides: 6/3 ties with 2/1 and rotates', specs: [{ id: 'a', active: 6, weight: 3 }, { id: 'b', active: 2, weight: 1 }], expect: 'abab' },
  { name: 'the excluded least loaded is skipped', specs: [{ id: 'a' }, { id: 'b', active: 1 }, { id: 'c', active: 2 }], exclude: 'a', expect: 'bb' },
  { name: 'excluded ties are skipped', specs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], exclude: 'b', expect: 'acac' },
  { name: 'all excluded: nothing', specs: [{ id: 'a' }, { id: 'b' }], exclude: 'ab', expect: '--' },
  { name: 'fenced idle backend is never picked', specs: [{ id: 'a', state: 'fenced' }, { id: 'b', active: 5 }], expect: 'bb' },
  { name: 'ejected idle backend is never picked', specs: [{ id: 'a' }, { id: 'b', active: 5 }, { id: 'c', active: 6 }], eject: 'a', expect: 'bb' },
  { name: 'empty pool: nothing', specs: [], expect: '--' },
  { name: 'everything fenced: nothing', specs: [{ id: 'a', state: 'fenced' }], expect: '-' },
];

for (const row of lcRows) {
  t.test(`least connections: ${row.name}`, async (t) => {
    const c = clock(0);
    const p = poolOf(row.specs, c.now);
    if (row.eject) p.eject(p.get(row.eject)!, 1);
    const exclude = row.exclude ? excluding(p, row.exclude) : undefined;
    t.equal(picks(new LeastConnections(), p, row.expect.length, exclude), row.expect);
  });
}

t.test('least connections: counting each pick as an open connection spreads by weight', async (t) => {
  const p = poolOf(weighted([3, 1, 2]));
  const lc = new LeastConnections();
  let sequence = '';
  for (let i = 0; i < 600; i++) {
    const backend = lc.pick(p)!;
    backend.active++;
    sequence += backend.id;
  }
  t.same(tally(sequence), { a: 300, b: 100, c: 200 });
  t.equal(sequence.slice(0, 6), 'abcaca', 'each pick is the lowest active/weight, ties in rotation');
});

// ---------------------------------------------------------------------------------------------------
// PowerOfTwoChoices
// ---------------------------------------------------------------------------------------------------

/** A random source that returns `values` in turn (cycling), and counts its calls. */
function sequence(values: readonly number[]): { random: () => number; calls: () => number } {
  let i = 0;
  return { random: () => values[i++ % values.length]!, calls: () => i };
}

/** Replaces `backend.active` with an accessor that records which backends a pick looked at. */
function watchLoads(p: Pool, seen: Set<string>): void {
  for (const backend of p.backends) {
    let value = backend.active;
    Object.defineProperty(backend, 'active', {
      get: () => { seen.add(backend.id); return value; },
      set: (v: number) => { value = v; },
      configurable: true,
    });
  }
}

interface P2cRow {
  name: string;
  specs: Spec[];
  random: number[];
  exclude?: string;
  expect: string;
}

// Four backends a..d: the first draw is floor(r1 * 4), the second is among the other three.
const loaded: Spec[] = [{ id: 'a', active: 5 }, { id: 'b', active: 2 }, { id: 'c', active: 0 }, { id: 'd', active: 1 }];

const p2cRows: P2cRow[] = [
  { name: 'a (5) against b (2): b', specs: loaded, random: [0, 0], expect: 'b' },
  { name: 'c (0) drawn first beats whatever is second', specs: loaded, random: [0.5, 0], expect: 'c' },
  { name: 'c (0) drawn first beats whatever is second (other second draw)', specs: loaded, random: [0.5, 0.99], expect: 'c' },
  { name: 'd (1) against a (5): d', specs: loaded, random: [0.99, 0], expect: 'd' },
  { name: 'b (2) against d (1): d', specs: loaded, random: [0.25, 0.4], expect: 'd' },
  { name: 'equal loads: the first drawn wins', specs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], random: [0.4, 0.9], expect: 'b' },
  { name: 'weight divides: a 4/4 beats b 2/1', specs: [{ id: 'a', active: 4, weight: 4 }, { id: 'b', active: 2 }], random: [0.9, 0], expect: 'a' },
  { name: 'weight divides: a 5/2 loses to b 2/1', specs: [{ id: 'a', active: 5, weight: 2 }, { id: 'b', active: 2 }], random: [0, 0], expect: 'b' },
  { name: 'one backend: it', specs: [{ id: 'a', active: 50 }], random: [0.7], expect: 'a' },
  { name: 'one left after exclusion: it', specs: loaded, exclude: 'abd', random: [0, 0], expect: 'c' },
  { name: 'excluded least loaded is never returned', specs: loaded, exclude: 'c', random: [0.5, 0], expect: 'd' },
  { name: 'no backend: nothing', specs: [], random: [0.5], expect: '-' },
  { name: 'all excluded: nothing', specs: loaded, exclude: 'abcd', random: [0.5], expect: '-' },
  { name: 'all fenced: nothing', specs: [{ id: 'a', state: 'fenced' }, { id: 'b', state: 'fenced' }], random: [0.5], expect: '-' },
];

for (const row of p2cRows) {
  t.test(`power of two choices: ${row.name}`, async (t) => {
    const p = poolOf(row.specs);
    const random = sequence(row.random);
    const exclude = row.exclude ? excluding(p, row.exclude) : undefined;
    t.equal(picks(new PowerOfTwoChoices(random.random), p, 1, exclude), row.expect);
    const candidates = p.available.filter((b) => !exclude?.has(b)).length;
    t.equal(random.calls(), candidates >= 2 ? 2 : 0, 'two draws when there is a choice, none otherwise');
  });
}

t.test('power of two choices: over a grid of random values the two drawn are always two different backends, and the less loaded one wins', async (t) => {
  const grid = Array.from({ length: 50 }, (_, i) => i / 50).concat([0.999999]);
  for (const size of [2, 3, 4, 7]) {
    // Distinct loads, so the winner tells which two were compared.
    const p = poolOf([4, 1, 6, 2, 7, 3, 5].slice(0, size).map((active, i) => ({ id: String.fromCharCode(97 + i), active })));
    const seen = new Set<string>();
    watchLoads(p, seen);
    let notTwo = 0;
    let notLeast = 0;
    let maxWins = 0;
    const heaviest = p.backends.reduce((x, y) => (y.active > x.active ? y : x)).id;
    for (const r1 of grid) {
      for (const r2 of grid) {
        seen.clear();
        const random = sequence([r1, r2]);
        const winner = new PowerOfTwoChoices(random.random).pick(p)!;
        const compared = [...seen];
        if (compared.length !== 2) notTwo++;
        const least = compared.map((id) => p.get(id)!).reduce((x, y) => (y.active < x.active ? y : x));
        if (winner !== least) notLeast++;
        if (winner.id === heaviest) maxWins++;
      }
    }
    t.equal(notTwo, 0, `${size} backends: every pick compares exactly two distinct backends`);
    t.equal(notLeast, 0, `${size} backends: the less loaded of the two always wins`);
    t.equal(maxWins, 0, `${size} backends: the most loaded never wins (it would need to be drawn twice)`);
  }
});

t.test('power of two choices: excluded backends are never returned, whatever the draws', async (t) => {
  const grid = Array.from({ length: 40 }, (_, i) => i / 40);
  const rows: { exclude: string; allowed: string }[] = [
    { exclude: 'c', allowed: 'abd' },
    { exclude: 'cd', allowed: 'ab' },
    { exclude: 'abc', allowed: 'd' },
  ];
  for (const row of rows) {
    const p = poolOf([{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }]); // equal loads: the first drawn wins
    const exclude = excluding(p, row.exclude);
    const got = new Set<string>();
    for (const r1 of grid) for (const r2 of grid) got.add(new PowerOfTwoChoices(sequence([r1, r2]).random).pick(p, exclude)!.id);
    t.same([...got].sort().join(''), row.allowed, `excluding ${row.exclude}`);
  }
});

t.test('power of two choices: fenced and ejected backends are never returned, whatever the draws', async (t) => {
  const c = clock(0);
  const p = poolOf([{ id: 'a' }, { id: 'b', state: 'fenced' }, { id: 'c' }, { id: 'd' }], c.now);
  p.eject(p.get('a')!, 10);
  const grid = Array.from({ length: 40 }, (_, i) => i / 40);
  const got = new Set<string>();
  for (const r1 of grid) for (const r2 of grid) got.add(new PowerOfTwoChoices(sequence([r1, r2]).random).pick(p)!.id);
  t.same([...got].sort().join(''), 'cd');
  c.t = 10;
  t.equal(new PowerOfTwoChoices(sequence([0, 0]).random).pick(p)?.id, 'a', 'a is back once its ejection ends');
});

t.test('power of two choices with Math.random: a backend at 100 open connections among idle ones is never picked', async (t) => {
  const p = poolOf([{ id: 'a' }, { id: 'b', active: 100 }, { id: 'c' }]);
  const counts = tally(picks(new PowerOfTwoChoices(), p, 10_000));
  t.equal(counts.b ?? 0, 0, 'exactly 0 of 10000: the two draws are distinct, so an idle one is always compared');
  t.equal((counts.a ?? 0) + (counts.c ?? 0), 10_000);
  // Ties go to the first draw, so a and c each take about half (the bound is ~20 standard deviations wide).
  t.ok(counts.a! > 4000 && counts.a! < 6000, `a took ${counts.a}`);
  t.ok(counts.c! > 4000 && counts.c! < 6000, `c took ${counts.c}`);
});

// ---------------------------------------------------------------------------------------------------
// SourceHash
// ---------------------------------------------------------------------------------------------------

const CLIENTS = Array.from({ length: 1000 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
const FOUR: Spec[] = [{ id: 't1' }, { id: 't2' }, { id: 't3' }, { id: 't4' }];

function assignment(p: Pool, balancer: Balancer = new SourceHash(), exclude?: (client: string) => ReadonlySet<Backend> | undefined): Map<string, string> {
  return new Map(CLIENTS.map((client) => [client, balancer.pick(p, exclude?.(client), client)?.id ?? '-']));
}

t.test('source hash: the same client always gets the same backend while the pool is stable (1000 clients x 5 picks)', async (t) => {
  const p = poolOf(FOUR);
  const sh = new SourceHash();
  const first = assignment(p, sh);
  let moved = 0;
  for (let round = 0; round < 4; round++) {
    for (const [client, id] of assignment(p, sh)) if (id !== first.get(client)) moved++;
  }
  t.equal(moved, 0);
  t.same(assignment(p, new SourceHash()), first, 'another SourceHash (another node) agrees: it keeps no state');
  const reordered = new Pool();
  reordered.set([...FOUR].reverse().map(desired));
  t.same(assignment(reordered), first, 'the order of the pool does not matter, only the backend ids');
});

interface ShareRow {
  specs: Spec[];
}

const shareRows: ShareRow[] = [
  { specs: FOUR },
  { specs: [{ id: 'web.1' }, { id: 'web.2' }, { id: 'web.3' }, { id: 'web.4' }] },
  { specs: [{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }] },
  { specs: [{ id: 'x8gk2q3m0vbn' }, { id: 'x8gk2q3m0vbo' }, { id: 'x8gk2q3m0vbp' }, { id: 'x8gk2q3m0vbq' }] },
];

for (const row of shareRows) {
  t.test(`source hash spreads 1000 clients over ${row.specs.map((s) => s.id).join(', ')}: each 15% to 35%`, async (t) => {
    const byId: Record<string, number> = {};
    for (const id of assignment(poolOf(row.specs)).values()) byId[id] = (byId[id] ?? 0) + 1;
    t.same(Object.keys(byId).sort(), row.specs.map((s) => s.id).sort(), 'every backend gets clients');
    for (const [id, n] of Object.entries(byId)) t.ok(n >= 150 && n <= 350, `${id} has ${n} of 1000`);
  });
}

for (const gone of FOUR.map((s) => s.id)) {
  t.test(`source hash: removing ${gone} moves only ${gone}'s clients`, async (t) => {
    const p = poolOf(FOUR);
    const before = assignment(p);
    p.set(FOUR.filter((s) => s.id !== gone).map(desired));
    const after = assignment(p);
    let keptWrongly = 0;
    let movedWrongly = 0;
    const landed: Record<string, number> = {};
    for (const client of CLIENTS) {
      const was = before.get(client)!;
      const now = after.get(client)!;
      if (was === gone) {
        if (now === gone) keptWrongly++;
        landed[now] = (landed[now] ?? 0) + 1;
      } else if (now !== was) {
        movedWrongly++;
      }
    }
    t.equal(movedWrongly, 0, 'clients of the other backends keep theirs');
    t.equal(keptWrongly, 0, `no client is left on ${gone}`);
    t.equal(Object.keys(landed).length, 3, `${gone}'s clients spread over all three that are left`);
  });
}

t.test('source hash: a new backend takes clients only for itself', async (t) => {
  const p = poolOf(FOUR);
  const before = assignment(p);
  p.set([...FOUR, { id: 't5' }].map(desired));
  const after = assignment(p);
  let wrong = 0;
  let toNew = 0;
  for (const client of CLIENTS) {
    if (after.get(client) === before.get(client)) continue;
    if (after.get(client) === 't5') toNew++;
    else wrong++;
  }
  t.equal(wrong, 0, 'a client that moves moves to the new backend');
  t.ok(toNew >= 100 && toNew <= 300, `the new backend took ${toNew} of 1000 (about a fifth)`);
});

t.test('source hash: excluding the chosen backend gives a different one, deterministically (the next in rank)', async (t) => {
  const p = poolOf(FOUR);
  const first = assignment(p);
  const excludeFirst = (client: string): ReadonlySet<Backend> => new Set([p.get(first.get(client)!)!]);
  const retry = assignment(p, new SourceHash(), excludeFirst);
  const again = assignment(p, new SourceHash(), excludeFirst);
  let same = 0;
  for (const client of CLIENTS) if (retry.get(client) === first.get(client)) same++;
  t.equal(same, 0, 'never the excluded one');
  t.same(again, retry, 'the same retry backend every time');
  // The retry is where the client would go with its first choice gone from the pool.
  let differs = 0;
  for (const client of CLIENTS) {
    const without = poolOf(FOUR.filter((s) => s.id !== first.get(client)));
    if (new SourceHash().pick(without, undefined, client)?.id !== retry.get(client)) differs++;
  }
  t.equal(differs, 0, 'excluding is the same as removing');
  t.equal(new SourceHash().pick(p, new Set(p.backends), CLIENTS[0]), undefined, 'all excluded: nothing');
});

interface ShOutRow {
  name: string;
  fence?: string;
  eject?: string;
}

const shOutRows: ShOutRow[] = [
  { name: 'fenced t2', fence: 't2' },
  { name: 'ejected t3', eject: 't3' },
  { name: 'fenced t1 and ejected t4', fence: 't1', eject: 't4' },
];

for (const row of shOutRows) {
  t.test(`source hash skips what is out (${row.name}); the others keep their clients; it gets them back`, async (t) => {
    const c = clock(0);
    const p = poolOf(FOUR, c.now);
    const before = assignment(p);
    const out = new Set([row.fence, row.eject].filter((x): x is string => x !== undefined));
    if (row.fence) p.set(FOUR.map((s) => desired(s.id === row.fence ? { ...s, state: 'fenced' } : s, FOUR.indexOf(s))));
    if (row.eject) p.eject(p.get(row.eject)!, 1000);
    const during = assignment(p);
    let onOut = 0;
    let movedWrongly = 0;
    for (const client of CLIENTS) {
      if (out.has(during.get(client)!)) onOut++;
      if (!out.has(before.get(client)!) && during.get(client) !== before.get(client)) movedWrongly++;
    }
    t.equal(onOut, 0, 'no client on a fenced or ejected backend');
    t.equal(movedWrongly, 0, 'clients of the others keep theirs');
    c.t = 1000;
    if (row.fence) p.set(FOUR.map(desired));
    t.same(assignment(p), before, 'back in: every client is where it was');
  });
}

t.test('source hash: an empty pool gives nothing; no client address still picks deterministically', async (t) => {
  t.equal(new SourceHash().pick(new Pool(), undefined, '10.0.0.1'), undefined);
  const p = poolOf(FOUR);
  const id = new SourceHash().pick(p)?.id;
  t.ok(id);
  t.equal(new SourceHash().pick(p)?.id, id);
});

// ---------------------------------------------------------------------------------------------------
// RoundRobin
// ---------------------------------------------------------------------------------------------------

interface RrEjectRow {
  name: string;
  size: number;
  eject: string[];
  expect: string;
}

const rrEjectRows: RrEjectRow[] = [
  { name: 'one ejected', size: 4, eject: ['b2'], expect: '134134' },
  { name: 'two ejected', size: 5, eject: ['b1', 'b4'], expect: '235235' },
  { name: 'all ejected', size: 2, eject: ['b1', 'b2'], expect: '--' },
];

for (const row of rrEjectRows) {
  t.test(`round robin skips ejected backends: ${row.name}, and takes them back when the ejection ends`, async (t) => {
    const c = clock(0);
    const specs = Array.from({ length: row.size }, (_, i) => ({ id: `b${i + 1}` }));
    const p = poolOf(specs, c.now);
    for (const id of row.eject) p.eject(p.get(id)!, 50);
    const rr = new RoundRobin();
    const short = (s: string): string => s.replace(/b/g, '');
    t.equal(short(Array.from({ length: row.expect.length }, () => rr.pick(p)?.id ?? '-').join('')), row.expect);
    c.t = 49;
    t.equal(short(Array.from({ length: row.expect.length }, () => rr.pick(p)?.id ?? '-').join('')), row.expect, 'still out 1ms before');
    c.t = 50;
    t.same(tally(short(Array.from({ length: row.size * 3 }, () => rr.pick(p)?.id ?? '-').join(''))),
      Object.fromEntries(specs.map((s) => [s.id.slice(1), 3])), 'all back in the cycle');
  });
}

t.test('least-conn and p2c count failed connects in a row as load: a backend that refuses does not draw every connection', async (t) => {
  // b refuses: it has no open connection, but three failed connects in a row; a and c each hold one.
  const pool = poolOf([{ id: 'a', active: 1 }, { id: 'b' }, { id: 'c', active: 1 }]);
  pool.get('b')!.consecutiveFailures = 3;
  const least = new LeastConnections();
  t.not(least.pick(pool)!.id, 'b', 'least-conn passes it over');
  // p2c drawing b and a: a (load 1) wins over b (load 3).
  const draws = [1 / 3 + 0.01, 0.5];
  const p2c = new PowerOfTwoChoices(() => draws.shift()!);
  t.equal(p2c.pick(pool)!.id, 'a', 'p2c prefers the one that answers');
  pool.get('b')!.consecutiveFailures = 0;
  t.equal(least.pick(pool)!.id, 'b', 'once it connects again, it is the least loaded');
});
