// TaskRoutes turns the view into `ip` batch commands: a /32 in the local table for each address of another
// node's task (its address on each network too), through that node's address; none for its own tasks or
// for tasks that are over; one batch per turn of changes; every route removed when it closes.
import { setImmediate as turn } from 'node:timers/promises';
import t from 'tap';
import { Store } from '../../src/swarm/index.js';
import type { SwarmNode, Task } from '../../src/swarm/index.js';
import { TaskRoutes } from '../../src/engine/TaskRoutes.js';

const node = (id: string, addr: string) => ({ ID: id, Status: { Addr: addr, State: 'ready' }, Spec: { Role: 'worker' } }) as unknown as SwarmNode;
const task = (id: string, nodeId: string, address: string, state = 'running', networkAddress?: string) => ({
  ID: id, NodeID: nodeId, Status: { State: state }, DesiredState: 'running',
  NetworksAttachments: [{ Network: { ID: 'ingress' }, Addresses: [`${address}/16`] },
    ...(networkAddress ? [{ Network: { ID: 'net' }, Addresses: ['10.0.0.2/24'], LoopbackAddresses: [`${networkAddress}/24`] }] : [])],
}) as unknown as Task;

t.test('routes other nodes\' task addresses through them, follows changes a batch a turn, and removes all at close', async (t) => {
  const view = new Store();
  view.putNode(node('me', '127.95.1.1'));
  view.putNode(node('n2', '127.95.2.1'));
  view.putTask(task('mine', 'me', '127.96.0.9'));
  view.putTask(task('a', 'n2', '127.96.0.2', 'assigned', '127.98.0.2'));
  const batches: string[][] = [];
  const routes = new TaskRoutes({ view, nodeId: 'me', address: '127.95.1.1', log: () => {}, runIp: async (commands) => { batches.push(commands); return ''; } });
  routes.start();
  await turn();
  await turn();
  t.same(batches, [[
    'route replace 127.96.0.2/32 via 127.95.2.1 src 127.95.1.1 table local',
    'route replace 127.98.0.2/32 via 127.95.2.1 src 127.95.1.1 table local',
  ]], 'an assigned task of node n2, its address and its address on a network; not its own task, not 10.0.0.2 (the shown subnet)');

  batches.length = 0;
  view.putTask(task('b', 'n2', '127.96.0.3'));
  view.putTask(task('a', 'n2', '127.96.0.2', 'running', '127.98.0.2'));
  view.putTask(task('c', 'n2', '127.96.0.4', 'failed'));
  await turn();
  await turn();
  t.same(batches, [['route replace 127.96.0.3/32 via 127.95.2.1 src 127.95.1.1 table local']], 'one batch for a turn of changes, only what is new; a task that is over is not routed');

  batches.length = 0;
  view.putTask(task('a', 'n2', '127.96.0.2', 'shutdown', '127.98.0.2'));
  await turn();
  await turn();
  t.same(batches, [['route del 127.96.0.2/32 table local', 'route del 127.98.0.2/32 table local']], 'a task that ended loses its routes');

  batches.length = 0;
  await routes.close();
  t.same(batches, [['route del 127.96.0.3/32 table local']], 'close removes what is left');
  view.putTask(task('d', 'n2', '127.96.0.5'));
  await turn();
  t.same(batches.length, 1, 'and follows no more');
});

t.test('what ip says on failure is logged, with what the flag needs', async (t) => {
  const view = new Store();
  view.putNode(node('n2', '127.95.2.1'));
  view.putTask(task('a', 'n2', '127.96.0.2'));
  const log: string[] = [];
  const routes = new TaskRoutes({ view, nodeId: 'me', address: '127.95.1.1', log: (line) => log.push(line), runIp: async () => 'RTNETLINK answers: Operation not permitted' });
  routes.start();
  await turn();
  await turn();
  t.match(log, [/Operation not permitted \(is this node on a host of its own, as root\? --route-tasks needs that\)/]);
  await routes.close();
});
