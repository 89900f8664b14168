// A swarm exported as JSON and made again (Manager.exportState, `new Manager({ restore })`): same IDs,
// tokens, CA, spec and objects; new writes above the old index and addresses nobody holds; nodes given
// three heartbeat periods to come back. No sockets.
import t from 'tap';
import type { Test } from 'tap';
import { Manager, isTerminal } from '../../src/swarm/index.js';
import type { ManagerOptions, SwarmState, Task } from '../../src/swarm/index.js';
import { agents, fakeTimers } from '../support/managerDriver.js';

const SUBNETS = { taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16' };
const HEARTBEAT_MS = 1000;

const spec = (name: string, replicas: number, extra: Record<string, unknown> = {}) => ({
  Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: replicas } }, ...extra,
});

/** A swarm with some history: nodes, a VIP service with published ports, a dnsrr one, a global one, a swarm update. */
async function busySwarm(t: Test) {
  const timers = fakeTimers();
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now, heartbeatPeriodMs: HEARTBEAT_MS });
  t.teardown(() => manager.close());
  const ids = ['node1', 'node2', 'node3'].map((hostname, i) =>
    manager.addNode({ hostname, addr: `127.202.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' }).ID);
  const web = await manager.createService(spec('web', 3, {
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }, { Protocol: 'tcp', TargetPort: 81 }] },
  }));
  await manager.createService(spec('db', 2, { EndpointSpec: { Mode: 'dnsrr' } }));
  await manager.createService({ Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Global: {} } });
  await agents(manager);
  const current = manager.store.service(web.ID)!;
  await manager.updateService(web.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  await agents(manager);
  timers.advance(5000);
  await manager.settled();
  t.equal(manager.store.service(web.ID)!.UpdateStatus?.State, 'completed', 'the update done, monitor and all');
  manager.updateSwarm(manager.swarmVersion, { ...manager.swarmSpec, Orchestration: { TaskHistoryRetentionLimit: 3 } }, { worker: true, manager: false });
  return { manager, ids, web };
}

function restore(state: SwarmState, options: Partial<ManagerOptions> = {}) {
  const timers = fakeTimers();
  // Through JSON, as the data directory hands it back.
  const manager = new Manager({ ...SUBNETS, setTimer: timers.setTimer, now: timers.now, ...options, restore: JSON.parse(JSON.stringify(state)) as SwarmState });
  return { manager, timers };
}

t.test('a restored manager is the same swarm: IDs, tokens, CA, spec, objects and index', async (t) => {
  const { manager } = await busySwarm(t);
  const state = JSON.parse(JSON.stringify(manager.exportState())) as SwarmState;
  const { manager: again } = restore(state);
  t.teardown(() => again.close());
  await again.settled();

  t.equal(again.swarmId, manager.swarmId);
  t.equal(again.ingressNetworkId, manager.ingressNetworkId);
  t.equal(again.createdAt, manager.createdAt);
  t.equal(again.swarmVersion, manager.swarmVersion);
  t.equal(again.swarmUpdatedAt, manager.swarmUpdatedAt);
  t.same(again.swarmSpec, manager.swarmSpec, 'the updated spec, not the default');
  t.equal(again.tokens.token('worker'), manager.tokens.token('worker'), 'the rotated worker token');
  t.equal(again.tokens.token('manager'), manager.tokens.token('manager'));
  t.equal(again.tokens.roleOf(manager.tokens.token('worker')), 'worker', 'the old token still joins');
  t.equal(again.rootCA.certificatePem, manager.rootCA.certificatePem);
  t.equal(again.rootCA.keyPem, manager.rootCA.keyPem);
  t.same(again.rootCA.tlsInfo, manager.rootCA.tlsInfo, 'subject and public key as before');
  t.equal(again.store.index, manager.store.index);
  t.same(JSON.parse(JSON.stringify(again.exportState())), state, 'nothing written by the restore of a converged swarm');
});

t.test('writes after a restore get new IDs above the old index, and addresses and ports nobody holds', async (t) => {
  const { manager } = await busySwarm(t);
  const state = manager.exportState();
  const { manager: again } = restore(state);
  t.teardown(() => again.close());
  const oldIds = new Set([...state.nodes, ...state.services, ...state.tasks].map((o) => o.ID));
  const oldVips = state.services.flatMap((s) => s.Endpoint.VirtualIPs ?? []).map((v) => v.Addr);
  // A task holds its address until it has really stopped (an orphaned one, on a node that went down, still does).
  const holdsAddress = (task: Task) => !isTerminal(task.Status.State) || task.Status.State === 'orphaned';
  const oldAddresses = state.tasks.filter(holdsAddress).flatMap((task) => task.NetworksAttachments?.[0]?.Addresses ?? []);
  const oldPorts = state.services.flatMap((s) => s.Endpoint.Ports ?? []).map((p) => p.PublishedPort);
  t.ok(oldVips.length && oldAddresses.length && oldPorts.includes(30000), 'the old swarm holds VIPs, task addresses and dynamic port 30000');

  const api = await again.createService(spec('api', 4, { EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 82 }] } }));
  await agents(again);
  t.notOk(oldIds.has(api.ID), 'a new service ID');
  t.ok(api.Version.Index > state.index, `its version ${api.Version.Index} continues above ${state.index}`);
  t.notOk(oldVips.includes(api.Endpoint.VirtualIPs![0]!.Addr), `its VIP ${api.Endpoint.VirtualIPs![0]!.Addr} was free`);
  t.notOk(oldPorts.includes(api.Endpoint.Ports![0]!.PublishedPort), `its dynamic port ${api.Endpoint.Ports![0]!.PublishedPort} was free`);
  const tasks = again.store.tasksOfService(api.ID);
  t.equal(tasks.filter((task) => task.Status.State === 'running').length, 4);
  for (const task of tasks) {
    t.notOk(oldIds.has(task.ID), 'a new task ID');
    t.ok(task.Version.Index > state.index);
    t.notOk(oldAddresses.includes(task.NetworksAttachments![0]!.Addresses[0]!), `task address ${task.NetworksAttachments![0]!.Addresses[0]} was free`);
  }
  await t.rejects(again.createService(spec('clash', 1, { EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] } })),
    { message: /port '8080' is already in use by service 'web'/ }, 'restored services keep their published ports');
});

t.test('a restored node that never beats again goes Down after six periods (twice the usual grace), and its tasks are replaced', async (t) => {
  const { manager, ids } = await busySwarm(t);
  const { manager: again, timers } = restore(manager.exportState());
  t.teardown(() => again.close());
  t.same(again.store.nodes().map((n) => n.Status.State), ['ready', 'ready', 'ready'], 'nodes keep their stored state at first');
  const [node1, node2, node3] = ids as [string, string, string];
  // A period at a time, so that the sweep looks once in each (the fake clock fires a timer late, never twice).
  for (let period = 1; period < 6; period++) {
    timers.advance(HEARTBEAT_MS);
    again.heartbeat(node1);
    again.heartbeat(node2);
  }
  timers.advance(HEARTBEAT_MS - 1);
  t.equal(again.store.node(node3)!.Status.State, 'ready', 'not before six periods, though three have long passed');
  timers.advance(2);
  t.equal(again.store.node(node3)!.Status.State, 'down', 'six periods without a beat');
  t.equal(again.store.node(node1)!.Status.State, 'ready');
  await agents(again);
  const web = again.resolveService('web');
  const running = again.store.tasksOfService(web.ID).filter((task) => task.DesiredState === 'running' && task.Status.State === 'running');
  t.equal(running.length, 3);
  t.notOk(running.some((task) => task.NodeID === node3), 'none of them on the node that did not come back');
});

t.test('swarm-level changes are told to onSwarmChanged listeners', async (t) => {
  const { manager } = await busySwarm(t);
  let told = 0;
  const stop = manager.onSwarmChanged(() => told++);
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: false, manager: true });
  t.equal(told, 1);
  stop();
  manager.updateSwarm(manager.swarmVersion, manager.swarmSpec, { worker: false, manager: true });
  t.equal(told, 1, 'not after it stopped listening');
});

t.test('a state this manager cannot restore is refused with what to do', async (t) => {
  const { manager } = await busySwarm(t);
  const state = manager.exportState();
  t.throws(() => restore({ ...state, format: 2 } as unknown as SwarmState), { message: /format 2, and this routemesh reads only format 1/ });
  t.throws(() => restore({ ...state, swarm: { ...state.swarm, tokens: { worker: 'x', manager: 'y' } } }), { message: /join token secrets/ });
  t.throws(() => restore(state, { taskSubnet: '127.210.0.0/16' }),
    { message: /does not fit this cluster's addresses .*start it with the --task-subnet it was made with, or start over with --fresh/ });
  t.throws(() => restore(state, { vipSubnet: '127.211.0.0/16' }), { message: /--vip-subnet/ });
});
