// The agent against a real store and a runtime that starts nothing: what it reads to start the tasks
// assigned to its node.
import t from 'tap';
import { Agent } from '../src/engine/index.js';
import type { Runtime } from '../src/runtime/index.js';
import { Store } from '../src/swarm/index.js';
import { node, service, task } from './support/swarmObjects.js';

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
