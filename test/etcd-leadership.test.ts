// EtcdLeadership against a real etcd (one member per test on 127.176.0.x; a cutting proxy on 127.176.1.x):
// one leader among three candidates, failover when the leader dies (its lease ends) or is cut off from etcd,
// an immediate handover on resign, and a deposed leader's fenced write refused (after it died or resigned).
import t from 'tap';
import type { Test } from 'tap';
import { EtcdKeyspace, EtcdLeadership } from '../src/swarm/index.js';
import type { LeadershipView } from '../src/swarm/index.js';
import { waitFor } from './support/cluster.js';
import { cuttingProxy, startEtcd } from './support/etcd.js';

const PREFIX = '/routemesh/test-swarm/';
const LEADER_KEY = 'managers/leader';
const TTL_SECONDS = 2;

interface Running {
  id: string;
  leadership: EtcdLeadership;
  keys: EtcdKeyspace;
  /** Every view it reported, with when. */
  views: Array<LeadershipView & { at: number }>;
  readonly view: LeadershipView;
}

/** A candidate with a connection of its own (as a manager process has), closed at the test's end. */
function candidate(t: Test, endpoint: string, id: string): Running {
  const keys = new EtcdKeyspace({ endpoints: [endpoint], prefix: PREFIX });
  const views: Running['views'] = [];
  const leadership = new EtcdLeadership(keys, {
    key: LEADER_KEY,
    candidate: { id, address: `${id}.example:2377` },
    ttlSeconds: TTL_SECONDS,
    onChange: (view) => views.push({ ...view, at: Date.now() }),
  });
  t.teardown(async () => {
    leadership.close();
    await keys.close();
  });
  leadership.start();
  return { id, leadership, keys, views, get view() { return leadership.view; } };
}

/**
 * The one candidate that leads, once every one of `all` agrees on it. Without `timeoutMs` (the first
 * agreement, connections to etcd and all) 10 s, which a loaded suite needed; a takeover's bound is given.
 */
async function agreedLeader(all: Running[], timeoutMs = 10_000): Promise<Running> {
  return waitFor('one leader every candidate agrees on', () => {
    const leaders = all.filter((c) => c.view.leading);
    if (leaders.length !== 1) return undefined;
    const [leader] = leaders as [Running];
    return all.every((c) => c.view.leader?.id === leader.id) ? leader : undefined;
  }, timeoutMs);
}

/** When (ms since epoch) `c` first reported leading at or after `since`. */
function ledAt(c: Running, since: number): number | undefined {
  return c.views.find((view) => view.leading && view.at >= since)?.at;
}

t.test('of three candidates exactly one leads, and the others report it, address included', async (t) => {
  const etcd = await startEtcd(t, '127.176.0.1');
  const all = ['m1', 'm2', 'm3'].map((id) => candidate(t, etcd.endpoint, id));
  const leader = await agreedLeader(all);
  t.same(leader.view, { leader: { id: leader.id, address: `${leader.id}.example:2377` }, leading: true });
  for (const other of all.filter((c) => c !== leader)) {
    t.same(other.view, { leader: { id: leader.id, address: `${leader.id}.example:2377` }, leading: false }, `${other.id} follows`);
    t.equal(other.leadership.fence, undefined, `${other.id} has no fence`);
  }
  t.equal(all.flatMap((c) => c.views).filter((view) => view.leading).length, 1, 'nobody else ever led');
  // Read before the etcdctl below: a loaded machine took more than the 2 s lease to run it, and the leader,
  // its renewals late, rightly counted its lease lost and dropped its fence meanwhile.
  t.equal(leader.leadership.fence?.key, LEADER_KEY);
  const stored = JSON.parse(await etcd.ctl('get', PREFIX + LEADER_KEY, '--print-value-only'));
  t.same(stored, { id: leader.id, address: `${leader.id}.example:2377` });
});

t.test('a leader that dies without resigning is replaced within the TTL and 1.5 s, and its fence is refused', async (t) => {
  const etcd = await startEtcd(t, '127.176.0.2');
  const all = ['m1', 'm2', 'm3'].map((id) => candidate(t, etcd.endpoint, id));
  const leader = await agreedLeader(all);
  const oldFence = leader.leadership.fence!;
  const others = all.filter((c) => c !== leader);
  const killedAt = Date.now();
  leader.leadership.close();
  const next = await agreedLeader(others, TTL_SECONDS * 1000 + 1_500);
  const failoverMs = ledAt(next, killedAt)! - killedAt;
  t.comment(`failover after the leader died: ${failoverMs} ms (TTL ${TTL_SECONDS} s)`);
  t.ok(failoverMs <= TTL_SECONDS * 1000 + 1_500, `${failoverMs} ms`);
  t.ok(failoverMs >= TTL_SECONDS * 1000 * 0.5, 'not before the lease could have ended: nobody deposes a live leader');
  t.equal(others.flatMap((c) => c.views).filter((view) => view.leading).length, 1, 'one of them took over, once');

  t.not(next.leadership.fence!.createRevision, oldFence.createRevision, 'the leader key was made again');
  const deposed = await leader.keys.writeIf(oldFence, [{ type: 'put', key: 'services/a', value: 'stale' }]);
  t.equal(deposed.applied, false, "the dead leader's fenced write (as from a process that only seemed dead) is refused");
  t.equal(await etcd.ctl('get', PREFIX + 'services/a', '--print-value-only'), '', 'nothing written');
});

t.test('resign hands over at once, and the resigned leader writes nothing with its old fence', async (t) => {
  const etcd = await startEtcd(t, '127.176.0.3');
  const all = ['m1', 'm2', 'm3'].map((id) => candidate(t, etcd.endpoint, id));
  const leader = await agreedLeader(all);
  const oldFence = leader.leadership.fence!;
  t.ok((await leader.keys.writeIf(oldFence, [{ type: 'put', key: 'services/a', value: 'by the leader' }])).applied, 'the leader writes');
  const others = all.filter((c) => c !== leader);
  const resignedAt = Date.now();
  await leader.leadership.resign();
  t.same(leader.view, { leader: undefined, leading: false });
  const next = await agreedLeader(others, 1_000);
  const handoverMs = ledAt(next, resignedAt)! - resignedAt;
  t.comment(`handover after resign: ${handoverMs} ms (TTL ${TTL_SECONDS} s)`);
  t.ok(handoverMs < TTL_SECONDS * 1000 / 4, `${handoverMs} ms, well under the TTL`);
  t.match(await etcd.ctl('lease', 'list'), /^found 2 leases/, "the resigned leader's lease was revoked, the others' live on");

  const deposed = await leader.keys.writeIf(oldFence, [{ type: 'put', key: 'services/a', value: 'by the deposed leader' }]);
  t.equal(deposed.applied, false, "the deposed leader's fenced write is refused");
  t.ok((await next.keys.writeIf(next.leadership.fence!, [{ type: 'put', key: 'services/a', value: 'by the new leader' }])).applied);
  t.equal((await etcd.ctl('get', PREFIX + 'services/a', '--print-value-only')).trim(), 'by the new leader');
});

t.test('a leader cut off from etcd says it no longer leads before another does, which then leads', async (t) => {
  const etcd = await startEtcd(t, '127.176.0.4');
  const proxy = await cuttingProxy(t, '127.176.1.4', etcd.endpoint);
  const cutOff = candidate(t, proxy.endpoint, 'm1');
  await waitFor('m1 to lead', () => cutOff.view.leading);
  const other = candidate(t, etcd.endpoint, 'm2');
  await waitFor('m2 to follow m1', () => other.view.leader?.id === 'm1');

  const cutAt = Date.now();
  proxy.cutAndRefuse();
  await waitFor('m2 to lead', () => other.view.leading, TTL_SECONDS * 1000 + 1_500);
  const stepDown = cutOff.views.find((view) => !view.leading && view.at >= cutAt);
  t.ok(stepDown, 'm1 reported that it no longer leads');
  t.equal(cutOff.view.leading, false);
  t.equal(cutOff.leadership.fence, undefined, 'and holds no fence');
  const takeOver = ledAt(other, cutAt)!;
  t.ok(stepDown!.at <= takeOver, `m1 stepped down ${stepDown!.at - cutAt} ms after the cut, m2 led ${takeOver - cutAt} ms after it`);
  t.comment(`cut off: m1 stepped down after ${stepDown!.at - cutAt} ms, m2 led after ${takeOver - cutAt} ms`);

  const reopenedAt = Date.now();
  proxy.reopen();
  await waitFor('m1 to follow m2 once it reaches etcd again', () => cutOff.view.leader?.id === 'm2' && !cutOff.view.leading, 10_000);
  t.pass(`m1 follows m2 ${Date.now() - reopenedAt} ms after etcd can be reached again`);
});
