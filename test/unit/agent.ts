// The agent against a real store and a runtime that starts nothing: what it reads to start the tasks
// assigned to its node.
import t from 'tap';
import { Agent } from '../../src/engine/index.js';
import type { Runtime } from '../../src/runtime/index.js';
import { Store } from '../../src/swarm/index.js';
import { node, service, task } from '../support/swarmObjects.js';

t.test('the agent reads each assigned task once to start it: its own reports are not looked at again', async (t) => {
  const store = new Store();
  store.putNode(node('n1'));
  store.putService(service('s1', 'web'));
  const count = 100;
  for (let i = 1; i <= count; i++) store.putTask(task(`t${i}`, 's1', { slot: i, state: 'assigned', endpoint: { Addr: `127.6.0.${i}`, Ports: [] } }));
  let reads = 0;
  const read = store.task.bind(store);
  store.task = (id) => { reads++; return read(id); };
  const runtime = {
    start: async (spec: { address: string }) => ({ address: spec.address, ports: [], pid: 1, exited: new Promise<number>(() => {}), stop: async () => 0 }),
  } as unknown as Runtime;
  const agent = new Agent({
    nodeId: 'n1', runtime,
    link: { view: store, reportTaskStatus: (id, report) => { store.updateTask(id, (t) => { t.Status = { ...t.Status, State: report.State }; }); } },
  });
  agent.start();
  t.teardown(() => agent.stop());
  const deadline = Date.now() + 10_000;
  while (store.tasks().some((t) => t.Status.State !== 'running') && Date.now() < deadline) await new Promise(setImmediate);
  t.ok(store.tasks().every((t) => t.Status.State === 'running'), 'every task runs');
  // Turns after the last report would show a late second look.
  for (let i = 0; i < 10; i++) await new Promise(setImmediate);
  t.equal(reads, count, `${count} tasks started with one read each`);
});

t.test('a planned stop waits until every mesh has said it applied the view that fences the task', async (t) => {
  const store = new Store();
  store.putNode(node('n1'));
  store.putService(service('s1', 'web'));
  store.putTask(task('t1', 's1', { slot: 1, state: 'assigned', endpoint: { Addr: '127.6.0.1', Ports: [] } }));
  const events: string[] = [];
  const runtime = {
    start: async (spec: { address: string }) => ({
      address: spec.address, ports: [], pid: 1, exited: new Promise<number>(() => {}),
      fence: () => { events.push('fence'); }, stop: async () => { events.push('stop'); return 0; },
    }),
  } as unknown as Runtime;
  let acknowledge: () => void = () => {};
  const agent = new Agent({
    nodeId: 'n1', runtime, fencePeriodMs: 0,
    link: {
      view: store,
      reportTaskStatus: (id, report) => { store.updateTask(id, (t) => { t.Status = { ...t.Status, State: report.State }; }); },
      fenced: () => new Promise<void>((resolve) => { events.push('fenced?'); acknowledge = resolve; }),
    },
  });
  agent.start();
  t.teardown(() => agent.stop());
  const turns = async (until: () => boolean, most = 1000): Promise<void> => { for (let i = 0; i < most && !until(); i++) await new Promise(setImmediate); };
  await turns(() => store.task('t1')!.Status.State === 'running');
  store.updateTask('t1', (t) => { t.DesiredState = 'shutdown'; });
  await turns(() => events.includes('fenced?'));
  // Turns go by; without the meshes' acknowledgement the task is neither fenced nor stopped.
  await turns(() => false, 50);
  t.same(events, ['fenced?'], 'asked whether every mesh fenced it, and waiting');
  acknowledge();
  await turns(() => events.includes('stop'));
  t.same(events, ['fenced?', 'fence', 'stop'], 'fenced and stopped once every mesh said so');
});
