// RoundRobin over a Pool: cycle order, fenced backends, exclusions, and membership changes mid-cycle.
import t from 'tap';
import { Backend, Pool, RoundRobin } from '../../src/lb/index.js';
import type { BackendDesired, BackendState } from '../../src/lb/index.js';

function desired(id: string, state: BackendState = 'up', port = 80): BackendDesired {
  return { id, host: `127.20.0.${id.replace(/\D/g, '') || '1'}`, port, state, label: `web.${id}` };
}

/** A pool of b1..bn, all up unless listed in `fenced`. */
function pool(n: number, fenced: string[] = []): Pool {
  const p = new Pool();
  p.set(Array.from({ length: n }, (_, i) => `b${i + 1}`).map((id) => desired(id, fenced.includes(id) ? 'fenced' : 'up')));
  return p;
}

function picks(rr: RoundRobin, p: Pool, n: number, exclude?: ReadonlySet<Backend>): (string | undefined)[] {
  return Array.from({ length: n }, () => rr.pick(p, exclude)?.id);
}

function tally(ids: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[String(id)] = (out[String(id)] ?? 0) + 1;
  return out;
}

t.test('round robin gives 60 picks over 6 backends exactly 10 each, in cycle order', async (t) => {
  const got = picks(new RoundRobin(), pool(6), 60);
  t.same(tally(got), { b1: 10, b2: 10, b3: 10, b4: 10, b5: 10, b6: 10 });
  const cycle = ['b1', 'b2', 'b3', 'b4', 'b5', 'b6'];
  t.same(got, Array.from({ length: 60 }, (_, i) => cycle[i % 6]));
});

interface FenceRow {
  name: string;
  size: number;
  fenced: string[];
  expect: (string | undefined)[];
}

const fenceRows: FenceRow[] = [
  { name: 'round robin skips a fenced backend', size: 4, fenced: ['b2'], expect: ['b1', 'b3', 'b4', 'b1', 'b3', 'b4'] },
  { name: 'round robin skips several fenced backends', size: 5, fenced: ['b1', 'b3', 'b5'], expect: ['b2', 'b4', 'b2', 'b4'] },
  { name: 'round robin picks nothing when every backend is fenced', size: 3, fenced: ['b1', 'b2', 'b3'], expect: [undefined, undefined] },
  { name: 'round robin picks nothing from an empty pool', size: 0, fenced: [], expect: [undefined] },
  { name: 'round robin keeps picking the only backend', size: 1, fenced: [], expect: ['b1', 'b1', 'b1'] },
];

for (const row of fenceRows) {
  t.test(row.name, async (t) => {
    t.same(picks(new RoundRobin(), pool(row.size, row.fenced), row.expect.length), row.expect);
  });
}

t.test('pool lists fenced backends but keeps them out of `available`', async (t) => {
  const p = pool(3, ['b2']);
  t.same(p.backends.map((b) => b.id), ['b1', 'b2', 'b3']);
  t.same(p.available.map((b) => b.id), ['b1', 'b3']);
  t.equal(p.get('b2')?.state, 'fenced');
});

t.test('pool keeps the Backend objects (and their counters) of unchanged members', async (t) => {
  const p = pool(3);
  const b2 = p.get('b2')!;
  const b3 = p.get('b3')!;
  b2.total = 7;
  b2.active = 2;
  p.set([desired('b2'), desired('b3'), desired('b4')]);
  t.equal(p.get('b2'), b2, 'same object for b2');
  t.equal(p.get('b3'), b3, 'same object for b3');
  t.equal(p.get('b2')?.total, 7);
  t.equal(p.get('b2')?.active, 2);
  t.equal(p.get('b1'), undefined, 'b1 left the pool');
  t.equal(p.get('b4')?.total, 0, 'b4 is new');
  t.same(p.available.map((b) => b.id), ['b2', 'b3', 'b4']);
});

t.test('pool fences a member in place: same object, new state, out of available', async (t) => {
  const p = pool(3);
  const b1 = p.get('b1')!;
  b1.active = 1;
  p.set([desired('b1', 'fenced'), desired('b2'), desired('b3')]);
  t.equal(p.get('b1'), b1);
  t.equal(b1.state, 'fenced');
  t.equal(b1.active, 1, 'open connections are still counted');
  t.same(p.available.map((b) => b.id), ['b2', 'b3']);
  p.set([desired('b1'), desired('b2'), desired('b3')]);
  t.equal(p.get('b1'), b1, 'and back up, still the same object');
  t.same(p.available.map((b) => b.id), ['b1', 'b2', 'b3']);
});

t.test('pool makes a new Backend when a member moves to another address or port', async (t) => {
  const p = new Pool();
  p.set([desired('b1')]);
  const old = p.get('b1')!;
  old.total = 5;
  p.set([{ ...desired('b1'), port: 8080 }]);
  t.not(p.get('b1'), old);
  t.equal(p.get('b1')?.port, 8080);
  t.equal(p.get('b1')?.total, 0);
  p.set([{ ...desired('b1'), port: 8080, host: '127.20.9.9' }]);
  t.equal(p.get('b1')?.host, '127.20.9.9');
});

t.test('pool keeps `available` in the order it was given', async (t) => {
  const p = new Pool();
  p.set([desired('b3'), desired('b1'), desired('b2')]);
  t.same(p.available.map((b) => b.id), ['b3', 'b1', 'b2']);
  t.same(picks(new RoundRobin(), p, 4), ['b3', 'b1', 'b2', 'b3']);
});

t.test('pool set to nothing empties it', async (t) => {
  const p = pool(3);
  p.set([]);
  t.same(p.backends, []);
  t.same(p.available, []);
  t.equal(new RoundRobin().pick(p), undefined);
});

t.test('backend label defaults to its id', async (t) => {
  t.equal(new Backend('x', '127.0.0.1', 80).label, 'x');
  t.equal(new Backend('x', '127.0.0.1', 80, 'web.1').label, 'web.1');
  const p = new Pool();
  p.set([{ id: 'nolabel', host: '127.20.0.2', port: 80, state: 'up' }]);
  t.equal(p.get('nolabel')?.label, 'nolabel');
});

t.test('round robin with exclude skips tried backends and continues after the one it returns', async (t) => {
  const p = pool(4);
  const rr = new RoundRobin();
  const b1 = p.get('b1')!;
  const b2 = p.get('b2')!;
  t.equal(rr.pick(p, new Set([b1]))?.id, 'b2', 'b1 was tried: b2');
  t.equal(rr.pick(p)?.id, 'b3', 'the cycle goes on after b2');
  t.equal(rr.pick(p, new Set([b1, b2]))?.id, 'b4');
  t.equal(rr.pick(p, new Set([b1, b2]))?.id, 'b3', 'wraps past the excluded ones');
});

t.test('round robin returns undefined when every available backend is excluded', async (t) => {
  const p = pool(3, ['b3']);
  const rr = new RoundRobin();
  t.equal(rr.pick(p, new Set([p.get('b1')!, p.get('b2')!])), undefined);
  t.equal(rr.pick(p, new Set(p.backends)), undefined);
  t.equal(rr.pick(p)?.id, 'b1', 'an exhausted pick does not move the position');
});

t.test('round robin ignores an exclude set holding backends from another pool', async (t) => {
  const p = pool(2);
  const other = pool(2);
  t.same(picks(new RoundRobin(), p, 3, new Set(other.backends)), ['b1', 'b2', 'b1']);
});

t.test('two balancers over one pool keep independent positions', async (t) => {
  const p = pool(3);
  const a = new RoundRobin();
  const b = new RoundRobin();
  t.same(picks(a, p, 2), ['b1', 'b2']);
  t.same(picks(b, p, 1), ['b1'], 'b starts at the beginning');
  t.same(picks(a, p, 1), ['b3'], 'a was not moved by b');
  t.same(picks(b, p, 2), ['b2', 'b3']);
});

t.test('one balancer over two pools still picks only from the pool it is given', async (t) => {
  const web = pool(3);
  const api = new Pool();
  api.set([desired('a7'), desired('a8')]);
  const rr = new RoundRobin();
  for (let i = 0; i < 12; i++) {
    const p = i % 2 ? api : web;
    const got = rr.pick(p)!;
    t.ok(p.available.includes(got), `pick ${i} came from its own pool`);
  }
});

t.test('round robin keeps picking valid backends when the pool shrinks mid-cycle', async (t) => {
  const p = pool(6);
  const rr = new RoundRobin();
  t.same(picks(rr, p, 5), ['b1', 'b2', 'b3', 'b4', 'b5']);
  p.set([desired('b1'), desired('b2'), desired('b3')]);
  const after = picks(rr, p, 30);
  t.ok(after.every((id) => id === 'b1' || id === 'b2' || id === 'b3'), 'only current members');
  t.same(tally(after), { b1: 10, b2: 10, b3: 10 }, 'and still evenly');
});

t.test('round robin keeps picking valid backends when members are fenced mid-cycle', async (t) => {
  const p = pool(4);
  const rr = new RoundRobin();
  t.same(picks(rr, p, 3), ['b1', 'b2', 'b3']);
  p.set([desired('b1'), desired('b2'), desired('b3', 'fenced'), desired('b4', 'fenced')]);
  const after = picks(rr, p, 10);
  t.ok(after.every((id) => id === 'b1' || id === 'b2'), `only up backends: ${after.join(',')}`);
  t.same(tally(after), { b1: 5, b2: 5 });
});

t.test('round robin takes in a backend that joins mid-cycle', async (t) => {
  const p = pool(2);
  const rr = new RoundRobin();
  t.same(picks(rr, p, 1), ['b1']);
  p.set([desired('b1'), desired('b2'), desired('b3')]);
  t.same(tally(picks(rr, p, 30)), { b1: 10, b2: 10, b3: 10 });
});

t.test('round robin survives a pool that empties and refills', async (t) => {
  const p = pool(3);
  const rr = new RoundRobin();
  picks(rr, p, 2);
  p.set([]);
  t.equal(rr.pick(p), undefined);
  p.set([desired('b9')]);
  t.same(picks(rr, p, 2), ['b9', 'b9']);
});
