// A manager's copy of the swarm in etcd when etcd is away or the copy lags: a read is answered at once, a
// role closed meanwhile leaves nothing behind, a copy that cannot catch up ends the sessions it serves (its
// nodes go to another manager), and a node is never handed an older view than it had. Addresses 127.157.0.x.
import t from 'tap';
import type { Test } from 'tap';
import { EtcdKeyspace, EtcdSwarmStore, EtcdSwarmView } from '../src/swarm/index.js';
import { EtcdFeed, NO_LEADER, SessionStreams } from '../src/cluster/index.js';
import { ManagerRole } from '../src/engine/ManagerRole.js';
import { waitFor } from './support/cluster.js';
import { cuttingProxy, startEtcd } from './support/etcd.js';

/** Resolves to what `promise` settled with, or 'still pending' after `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: Error } | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still pending'>((resolve) => { timer = setTimeout(() => resolve('still pending'), ms); });
  const settled = promise.then((value) => ({ value }), (error: Error) => ({ error }));
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A manager role campaigning with etcd down from the start (a manager restarted, or promoted, while etcd is
 * away: nothing listens on its address), and the promise rejections left unhandled meanwhile.
 */
function roleWithoutEtcd(t: Test) {
  const store = new EtcdSwarmStore({ endpoints: ['127.157.0.9:2379'], prefix: '/review/', leaseTtlSeconds: 2, log: () => {} });
  const role = new ManagerRole({
    hostname: 'm1', address: '127.157.0.10', clusterPort: 2377, engineApi: () => {}, log: () => {},
    newManager: () => { throw new Error('not used'); }, newCopy: () => { throw new Error('not reached'); }, durable: async () => {}, store,
  }, { leader: () => undefined, copyIndex: () => 0 });
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => { process.off('unhandledRejection', onUnhandled); });
  role.campaign(async () => { throw new Error('never elected') as never; });
  // close() waits for the follow's current try (it fails within the keyspace's call timeout, 5 s), which then sees the role closed.
  // Once, whether the test calls it or (having failed before) its teardown does; a close that hangs fails the test.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= (async () => {
    for (const [what, stop] of [['the role', () => role.close()], ['the store', () => store.close()]] as const) {
      if ((await within(stop(), 10_000)) === 'still pending') throw new Error(`closing ${what} still pending after 10 s`);
    }
  })());
  t.teardown(close);
  return { role, unhandled, close };
}

t.test("a follower's read while etcd was down when it began to follow is answered at once (the leader's, or Swarm's no-leader error), never hangs", async (t) => {
  const { role, close } = roleWithoutEtcd(t);
  // Engine.reader() asks role.copy() for every GET /services, /tasks, /nodes ... of a manager that does not lead.
  const read = await within(role.copy(), 15_000);
  t.not(read, 'still pending', 'the read is answered within 15 s (etcd calls time out after 5 s)');
  // Without a copy yet, the engine asks the leader (which, etcd away, has none: Swarm's no-leader answer).
  if (read !== 'still pending') t.ok(read.value === undefined && (read.error === undefined || read.error.message === NO_LEADER), 'no copy to read, or Swarm\'s words');
  await close();
});

t.test('a role closed while its follow still retries (etcd down) leaves no promise rejection unhandled', async (t) => {
  // A node demoted, or leaving, while etcd is away; nobody reads meanwhile.
  const { unhandled, close } = roleWithoutEtcd(t);
  await close();
  for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve));
  t.same(unhandled.map(String), [], 'no promise rejection left unhandled (without a listener, Node 20 ends the process on one)');
});

t.test("a session a follower serves from a copy that can no longer follow etcd ends, not goes on saying alive over a frozen view", async (t) => {
  const etcd = await startEtcd(t, '127.157.0.1');
  const store = new EtcdSwarmStore({ endpoints: [etcd.endpoint], prefix: '/review/', leaseTtlSeconds: 2, log: () => {} });
  t.teardown(() => within(store.close(), 10_000));
  const node = { ID: 'node1', Version: { Index: 1 }, Spec: { Role: 'manager', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: '127.157.0.2' }, Description: { Hostname: 'node1' } };
  await etcd.ctl('put', '/review/node/node1', JSON.stringify(node));
  const view = await store.follow();
  const streams = new SessionStreams(new EtcdFeed(view), () => 300);
  t.teardown(() => { streams.close(); streams.feed.close(); });
  await streams.admit('node1');
  const lines: string[] = [];
  let ended = false;
  streams.open('node1', { write: (line) => { lines.push(JSON.parse(line).type); return true; }, end: () => { ended = true; } });
  t.equal(lines[0], 'complete');

  // etcd goes (or this manager is cut off from it): the copy can no longer learn any change the leader makes.
  await etcd.kill();
  const alivesAtKill = lines.filter((type) => type === 'alive').length;
  await waitFor('ten heartbeat periods', () => lines.filter((type) => type === 'alive').length >= alivesAtKill + 10 || ended, 10_000);
  t.ok(ended, `the session ended, so that the node looks for a manager that follows the swarm (it was said alive ${lines.filter((type) => type === 'alive').length - alivesAtKill} times since)`);
});

t.test("a node that moves to a lagging manager is not handed an older whole view in the same epoch (its mesh would go back)", async (t) => {
  const etcd = await startEtcd(t, '127.157.0.1');
  const proxy = await cuttingProxy(t, '127.157.0.2', etcd.endpoint);
  const prefix = '/review-lag/';
  const node = { ID: 'node1', Version: { Index: 1 }, Spec: { Role: 'worker', Availability: 'active', Labels: {} }, Status: { State: 'ready', Addr: '127.157.0.3' }, Description: { Hostname: 'node1' } };
  await etcd.ctl('put', `${prefix}node/node1`, JSON.stringify(node));
  // Two managers' copies: m1 straight to etcd, m2 through a connection that will break (its watch reopens later).
  const managers = await Promise.all([etcd.endpoint, proxy.endpoint].map(async (endpoint) => {
    const keys = new EtcdKeyspace({ endpoints: [endpoint], prefix });
    const view = await EtcdSwarmView.open(keys);
    const streams = new SessionStreams(new EtcdFeed(view), () => 1000);
    t.teardown(async () => { streams.close(); streams.feed.close(); view.close(); await keys.close(); });
    return { view, streams };
  }));
  const [m1, m2] = managers as [typeof managers[0], typeof managers[0]];
  proxy.cutAndRefuse();
  // The leader writes a change (a task fenced, a service removed: here a service made), which m1 hears at once.
  await etcd.ctl('put', `${prefix}service/svc1`, JSON.stringify({ ID: 'svc1', Version: { Index: 2 }, Spec: { Name: 'svc1' } }));
  await waitFor('m1 to hear the change', () => m1.view.store.service('svc1') !== undefined);

  const completeFrom = async (streams: typeof m1.streams) => {
    await streams.admit('node1');
    let complete: { epoch: string; seq: number; services: unknown[] } | undefined;
    const close = streams.open('node1', { write: (line) => { const m = JSON.parse(line); if (m.type === 'complete') complete = m; return true; }, end: () => {} });
    close();
    return complete!;
  };
  const first = await completeFrom(m1.streams);
  t.equal(first.services.length, 1, 'the node had the change from m1 (and acknowledged its seq)');
  // Its session with m1 breaks; the next manager in its ring is m2.
  const second = await completeFrom(m2.streams).then((complete) => complete, (error: Error) => ({ refused: error.message }));
  if ('refused' in second) return t.match(second.refused, /copy of the swarm is not up to date/, 'm2 refused the session while it cannot catch up');
  t.ok(second.epoch !== first.epoch || second.seq >= first.seq,
    `not an older view in the same epoch, which ManagerLink takes as "the same manager again" (epoch ${second.epoch}: seq ${second.seq} after ${first.seq}; services ${second.services.length})`);
});
