// Which manager a node is told to take its session from at its join (the first of the managers it is
// given): the leader, unless every manager serves sessions (etcd), where workers are spread over the
// managers by node ID while a manager still goes to the leader, whose watermark it passes on.
import t from 'tap';
import type { Test } from 'tap';
import { Dispatcher, ManagerFeed, SessionStreams, newNodeKey } from '../../src/cluster/index.js';
import { Manager } from '../../src/swarm/index.js';
import { fakeTimers } from '../support/managerDriver.js';

function swarmOfThreeManagers(t: Test) {
  const timers = fakeTimers();
  const manager = new Manager({ taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  const [leader] = [1, 2, 3].map((i) => manager.addNode({ hostname: `node${i}`, addr: `127.199.0.${i}`, role: 'manager' }));
  manager.runsOn(leader!.ID);
  return manager;
}

const { publicKeyPem } = newNodeKey();
const join = (dispatcher: Dispatcher, manager: Manager, role: 'worker' | 'manager', i: number) =>
  dispatcher.join({ token: manager.tokens.token(role), hostname: `${role}${i}`, addr: `127.199.1.${i}`, publicKey: publicKeyPem }, undefined).managers;

t.test('with every manager serving sessions, workers start at each of them, managers at the leader', async (t) => {
  const manager = swarmOfThreeManagers(t);
  const streams = new SessionStreams(new ManagerFeed(manager), () => 1000);
  const dispatcher = new Dispatcher(manager, { streams });
  t.teardown(() => { dispatcher.close(); streams.close(); streams.feed.close(); });
  const all = dispatcher.managers();
  t.equal(all[0], '127.199.0.1:2377', 'the leader first');
  const firsts = new Set<string>();
  for (let i = 1; i <= 60; i++) {
    const given = join(dispatcher, manager, 'worker', i);
    t.same([...given].sort(), [...all].sort(), `worker${i} is told of every manager`);
    const at = all.indexOf(given[0]!);
    t.same(given, [...all.slice(at), ...all.slice(0, at)], '... in the same ring, from where it starts');
    firsts.add(given[0]!);
  }
  t.same([...firsts].sort(), [...all].sort(), 'sixty workers start at all three managers');
  t.equal(join(dispatcher, manager, 'manager', 61)[0], all[0], 'a manager starts at the leader');
});

t.test('with sessions served by the leader alone, every node starts at the leader', async (t) => {
  const manager = swarmOfThreeManagers(t);
  const dispatcher = new Dispatcher(manager);
  t.teardown(() => dispatcher.close());
  for (let i = 1; i <= 10; i++) t.equal(join(dispatcher, manager, 'worker', i)[0], '127.199.0.1:2377');
});
