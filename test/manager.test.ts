// The control plane against a real in-memory store (swarmkit's habit): orchestration, restarts,
// history, addresses and node changes, with the agents' reports played by the test and timers injected.
import t from 'tap';
import { Manager } from '../src/swarm/index.js';
import type { ManagerOptions, Task } from '../src/swarm/index.js';
import { agents, fakeTimers } from './support/managerDriver.js';

function cluster(nodes = 3, taskSubnet = '127.200.0.0/16', options: Partial<ManagerOptions> = {}) {
  const timers = fakeTimers();
  const manager = new Manager({ taskSubnet, vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now, ...options });
  const ids = Array.from({ length: nodes }, (_, i) =>
    manager.addNode({ hostname: `node${i + 1}`, addr: `127.202.0.${i + 1}`, role: i === 0 ? 'manager' : 'worker' }).ID);
  return { manager, timers, ids };
}

const spec = (name: string, replicas: number, extra: Record<string, unknown> = {}) => ({
  Name: name, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: replicas } }, ...extra,
});

const live = (manager: Manager, serviceId: string): Task[] =>
  manager.store.tasksOfService(serviceId).filter((task) => task.DesiredState === 'running');

const SECONDS = 1e9;
const images = (manager: Manager, serviceId: string) =>
  live(manager, serviceId).map((task) => `${task.Slot}:${task.Spec.ContainerSpec.Image}:${task.Status.State}`).sort();

t.test('a rolling update goes one slot at a time, waits the delay between batches and the monitor at the end', async (t) => {
  const { manager, timers } = cluster();
  t.teardown(() => manager.close());
  const update = { Parallelism: 1, Delay: 10 * SECONDS, Monitor: 5 * SECONDS, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' };
  const service = await manager.createService(spec('web', 3, { UpdateConfig: update }));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'updating');
  t.same(images(manager, service.ID), ['1:nginx:1.27:assigned', '2:nginx:running', '3:nginx:running'], 'stop-first: slot 1 first, never more than 3 tasks');
  await agents(manager);
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:running', '3:nginx:running'], 'the next batch waits out the delay');
  timers.advance(10_000);
  await agents(manager);
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:1.27:running', '3:nginx:running']);
  timers.advance(10_000);
  await agents(manager);
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:1.27:running', '3:nginx:1.27:running']);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'updating', 'still monitoring');
  timers.advance(5_000);
  t.match(manager.store.service(service.ID)!.UpdateStatus, { State: 'completed', Message: 'update completed' });
  t.equal(manager.store.tasksOfService(service.ID).length, 6, 'the old tasks stay as history');
});

t.test('start-first runs the new task beside the old one, then stops the old one', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 2, { UpdateConfig: { Parallelism: 1, Order: 'start-first', Monitor: 0 } }));
  await agents(manager);
  const [old1] = live(manager, service.ID).filter((task) => task.Slot === 1);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  t.same(images(manager, service.ID), ['1:nginx:1.27:assigned', '1:nginx:running', '2:nginx:running'], 'slot 1 runs its old task until the new one is up');
  t.equal(manager.store.task(old1!.ID)!.DesiredState, 'running');
  await agents(manager);
  t.equal(manager.store.task(old1!.ID)!.Status.State, 'shutdown', 'the old task stopped once its replacement ran');
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:1.27:running']);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
});

t.test('stop-first never stops the last running tasks: a batch as large as the service starts first', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 2, { UpdateConfig: { Parallelism: 2, Order: 'stop-first', Monitor: 0 } }));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  t.same(images(manager, service.ID), ['1:nginx:1.27:assigned', '2:nginx:1.27:assigned', '2:nginx:running'],
    'slot 1 stops first; slot 2, the last one serving, keeps running until its replacement does');
  await agents(manager);
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:1.27:running']);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
});

t.test('Parallelism 0 replaces every slot in one batch', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 4, { UpdateConfig: { Parallelism: 0, Monitor: 0 } }));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  t.equal(live(manager, service.ID).filter((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27').length, 4);
  await agents(manager);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
});

t.test('a failing update pauses, or rolls itself back, as its FailureAction says', async (t) => {
  const { manager, timers } = cluster();
  t.teardown(() => manager.close());
  const paused = await manager.createService(spec('paused', 3, { UpdateConfig: { Parallelism: 1, Monitor: 0 } }));
  await agents(manager);
  let current = manager.store.service(paused.ID)!;
  await manager.updateService(paused.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'broken' } } });
  await agents(manager);
  t.match(manager.store.service(paused.ID)!.UpdateStatus, { State: 'paused', Message: /^update paused due to failure or early termination of task [0-9a-z]{25}$/ });
  timers.fireAll(); // the failed task's restart comes, but the update goes no further
  await agents(manager);
  t.equal(live(manager, paused.ID).filter((task) => task.Spec.ContainerSpec.Image === 'nginx').length, 2, 'slots 2 and 3 keep the old image');

  const rolled = await manager.createService(spec('rolled', 3, { UpdateConfig: { Parallelism: 1, Monitor: 0, FailureAction: 'rollback' }, RollbackConfig: { Parallelism: 0, Monitor: 0 } }));
  await agents(manager);
  current = manager.store.service(rolled.ID)!;
  await manager.updateService(rolled.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'broken' } } });
  await agents(manager);
  const after = manager.store.service(rolled.ID)!;
  t.match(after.UpdateStatus, { State: 'rollback_completed', Message: 'rollback completed' });
  t.equal(after.Spec.TaskTemplate.ContainerSpec.Image, 'nginx');
  timers.fireAll(); // the slot whose new task failed waits out its restart delay, then runs the old image again
  await agents(manager);
  t.same(live(manager, rolled.ID).map((task) => `${task.Spec.ContainerSpec.Image}:${task.Status.State}`), ['nginx:running', 'nginx:running', 'nginx:running']);
});

t.test('a rollback returns to the previous template with the rollback config', async (t) => {
  const { manager, timers } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 3));
  await agents(manager);
  let current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  await agents(manager);
  timers.advance(5_000);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
  current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, undefined, true);
  t.match(manager.store.service(service.ID)!.UpdateStatus, { State: 'rollback_started', Message: 'manually requested rollback' });
  await agents(manager);
  timers.advance(5_000);
  const after = manager.store.service(service.ID)!;
  t.equal(after.UpdateStatus?.State, 'rollback_completed');
  t.equal(after.Spec.TaskTemplate.ContainerSpec.Image, 'nginx');
  t.same(live(manager, service.ID).map((task) => task.Spec.ContainerSpec.Image), ['nginx', 'nginx', 'nginx']);
});

t.test('unscheduled tasks leave at once on scale-down and removal, and free their addresses', async (t) => {
  const { manager } = cluster(3, '127.200.0.0/29'); // five task addresses
  t.teardown(() => manager.close());
  const stuck = await manager.createService(spec('stuck', 2, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['node.labels.zone == mars'] } } }));
  t.same(live(manager, stuck.ID).map((task) => task.Status.Err), [
    'no suitable node (scheduling constraints not satisfied on 3 nodes)',
    'no suitable node (scheduling constraints not satisfied on 3 nodes)',
  ]);
  const current = manager.store.service(stuck.ID)!;
  await manager.updateService(stuck.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 0 } } });
  t.equal(manager.store.tasksOfService(stuck.ID).length, 0, 'nothing lingers as Remove / Pending');
  const web = await manager.createService(spec('web', 5));
  t.equal(live(manager, web.ID).filter((task) => task.Status.State === 'assigned').length, 5, 'all five addresses were free again');
});

t.test('an exhausted task address pool leaves tasks waiting in `new` and never throws', async (t) => {
  const { manager, timers } = cluster(3, '127.200.0.0/29');
  t.teardown(() => manager.close());
  // The services fit in the pool's 5 addresses together, but web's tasks being scaled away keep theirs until they end.
  const service = await manager.createService(spec('web', 4));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 2 } } });
  const other = await manager.createService(spec('api', 3));
  t.equal(live(manager, other.ID).filter((task) => task.Status.State === 'assigned').length, 1);
  const waiting = live(manager, other.ID).filter((task) => task.Status.State === 'new');
  t.equal(waiting.length, 2);
  t.match(waiting[0]!.Status.Err, /address pool 127\.200\.0\.0\/29 is exhausted/);
  // A crash frees an address; a waiting task gets it, and the restart timer firing later must not throw.
  const victim = live(manager, service.ID).find((task) => task.Status.State === 'running')!;
  manager.reportTaskStatus(victim.ID, { State: 'failed', Message: 'started', Err: 'task: non-zero exit (1)', ExitCode: 1 });
  await manager.settled();
  t.equal(live(manager, other.ID).filter((task) => task.Status.State === 'assigned').length, 2, 'one waiting task got the freed address');
  t.doesNotThrow(() => timers.fireAll());
});

t.test('restart policy: delay, conditions, attempts, and five tasks per slot, the running one included', async (t) => {
  const { manager, timers } = cluster(1);
  t.teardown(() => manager.close());
  const crash = async (serviceId: string, code: number) => {
    const task = live(manager, serviceId).find((x) => x.Status.State === 'running')!;
    manager.reportTaskStatus(task.ID, code === 0
      ? { State: 'complete', Message: 'finished', ExitCode: 0 }
      : { State: 'failed', Message: 'started', Err: `task: non-zero exit (${code})`, ExitCode: code });
    await manager.settled();
    return task;
  };

  const any = await manager.createService(spec('any', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Delay: 2e9 } } }));
  await agents(manager);
  const first = await crash(any.ID, 1);
  t.equal(live(manager, any.ID).length, 0, 'the slot waits out the restart delay');
  t.equal(timers.pending.at(-1)!.ms, 2000);
  timers.fireAll();
  const replacement = live(manager, any.ID);
  t.equal(replacement.length, 1);
  t.equal(replacement[0]!.Slot, first.Slot, 'the replacement keeps the slot');
  for (let i = 0; i < 6; i++) { await agents(manager); await crash(any.ID, 1); timers.fireAll(); }
  await agents(manager);
  const history = manager.store.tasksOfService(any.ID).filter((task) => task.DesiredState !== 'running');
  t.equal(history.length, 4, 'four ended tasks kept beside the running one (swarmkit\'s TaskHistoryRetentionLimit of 5 counts both)');

  const none = await manager.createService(spec('none', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'none' } } }));
  await agents(manager);
  await crash(none.ID, 1);
  timers.fireAll();
  t.equal(manager.store.tasksOfService(none.ID).length, 1, 'condition none: no replacement');
  t.match(live(manager, none.ID), [{ Status: { State: 'failed' } }], 'the ended task keeps its slot, so the service shows 0/1');

  const onFailure = await manager.createService(spec('onfail', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'on-failure' } } }));
  await agents(manager);
  await crash(onFailure.ID, 0);
  timers.fireAll();
  t.same(manager.store.tasksOfService(onFailure.ID).map((task) => task.Status.State), ['complete'], 'on-failure: a clean exit is not restarted');

  const limited = await manager.createService(spec('limited', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { MaxAttempts: 2 } } }));
  for (let i = 0; i < 3; i++) { await agents(manager); await crash(limited.ID, 1); timers.fireAll(); }
  t.same(manager.store.tasksOfService(limited.ID).map((task) => task.Status.State), ['failed', 'failed', 'failed'], 'no restart after MaxAttempts');

  // With a Window, only the restarts within it count: attempts spread out never run out.
  const windowed = await manager.createService(spec('windowed', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { MaxAttempts: 1, Window: 10e9, Delay: 0 } } }));
  await agents(manager);
  await crash(windowed.ID, 1);
  timers.fireAll();
  await agents(manager);
  await crash(windowed.ID, 1);
  timers.fireAll();
  t.equal(live(manager, windowed.ID).filter((task) => task.Status.State !== 'failed').length, 0, 'a second crash within the window is not restarted');
  timers.advance(11_000);
  const windowed2 = await manager.createService(spec('windowed2', 1, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { MaxAttempts: 1, Window: 10e9, Delay: 0 } } }));
  await agents(manager);
  await crash(windowed2.ID, 1);
  timers.fireAll();
  await agents(manager);
  timers.advance(11_000);
  await crash(windowed2.ID, 1);
  timers.fireAll();
  t.equal(live(manager, windowed2.ID).filter((task) => task.Status.State === 'assigned').length, 1, 'a crash after the window has passed is restarted');
});

t.test('drain moves tasks to other nodes; pause only stops new placements', async (t) => {
  const { manager, ids } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 6));
  await agents(manager);
  const node3 = manager.store.node(ids[2]!)!;
  manager.updateNode(node3.ID, node3.Version.Index, { ...node3.Spec, Availability: 'pause' });
  t.equal(live(manager, service.ID).filter((task) => task.NodeID === node3.ID).length, 2, 'a paused node keeps its tasks');
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 9 } } });
  t.equal(live(manager, service.ID).filter((task) => task.NodeID === node3.ID).length, 2, 'and gets no new one');
  await agents(manager);
  const paused = manager.store.node(ids[2]!)!;
  manager.updateNode(paused.ID, paused.Version.Index, { ...paused.Spec, Availability: 'drain' });
  await agents(manager);
  const after = live(manager, service.ID);
  t.equal(after.length, 9);
  t.equal(after.filter((task) => task.NodeID === node3.ID).length, 0, 'a drained node runs nothing');
  t.ok(manager.store.tasks().filter((task) => task.NodeID === node3.ID).every((task) => task.Status.State === 'shutdown'),
    'its tasks were shut down');
  t.equal(after.filter((task) => task.Status.State === 'running').length, 9);
});

t.test('global services follow the nodes', async (t) => {
  const { manager, ids } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService({ Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Global: {} } });
  t.same(live(manager, service.ID).map((task) => task.NodeID).sort(), [...ids].sort(), 'one task per node');
  const node4 = manager.addNode({ hostname: 'node4', addr: '127.202.0.4', role: 'worker' });
  t.equal(live(manager, service.ID).filter((task) => task.NodeID === node4.ID).length, 1, 'a node that joins gets one');
  const node2 = manager.store.node(ids[1]!)!;
  manager.updateNode(node2.ID, node2.Version.Index, { ...node2.Spec, Availability: 'drain' });
  t.equal(live(manager, service.ID).filter((task) => task.NodeID === node2.ID).length, 0, 'a drained node loses it');
  t.equal(live(manager, service.ID).length, 3, 'and it is not replaced elsewhere');
});

t.test('a node that goes down: its tasks are replaced, their addresses held until forgotten', async (t) => {
  const { manager, ids } = cluster(3, '127.200.0.0/29');
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 3));
  await agents(manager);
  manager.setNodeState(ids[2]!, 'down');
  const orphaned = manager.store.tasksOfService(service.ID).filter((task) => task.Status.State === 'orphaned');
  t.equal(orphaned.length, 1);
  await agents(manager);
  t.equal(live(manager, service.ID).filter((task) => task.Status.State === 'running').length, 3, 'replaced on the nodes that are up');
  // Five addresses: three live tasks and the orphan hold four. Scaling to 5 wants two more: one is free,
  // the other would only come from the orphan, which nobody saw stop.
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 5 } } });
  const waiting = live(manager, service.ID).filter((task) => task.Status.State === 'new');
  t.equal(waiting.length, 1, 'the orphan\'s address is not handed out again');
  t.throws(() => manager.removeNode(ids[1]!, false), { message: /is not down and can't be removed/ });
  manager.removeNode(ids[2]!, false);
  t.equal(manager.store.tasksOfService(service.ID).filter((task) => task.NodeID === ids[2]).length, 0, 'node rm forgets its tasks');
  t.equal(manager.store.task(waiting[0]!.ID)!.Endpoint?.Addr, orphaned[0]!.Endpoint!.Addr, 'and the waiting task gets the address it frees');
  t.throws(() => manager.removeNode(ids[0]!, true), { message: /can not remove the last manager/ });
});

t.test('addresses freed by one service go to tasks of another that wait for them', async (t) => {
  const { manager } = cluster(3, '127.200.0.0/29');
  t.teardown(() => manager.close());
  const a = await manager.createService(spec('a', 5));
  await agents(manager);
  const current = manager.store.service(a.ID)!;
  await manager.updateService(a.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 0 } } });
  const b = await manager.createService(spec('b', 1));
  t.equal(live(manager, b.ID)[0]!.Status.State, 'new', 'b waits for an address: a\'s tasks keep theirs until they stop');
  await agents(manager);
  t.equal(live(manager, b.ID)[0]!.Status.State, 'running', 'b got one as soon as a\'s tasks stopped');
});

t.test('a removed task that had already ended leaves the store at once', async (t) => {
  const { manager } = cluster(1);
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('once', 2, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, RestartPolicy: { Condition: 'none' } } }));
  await agents(manager);
  const [failed] = live(manager, service.ID);
  manager.reportTaskStatus(failed!.ID, { State: 'failed', Message: 'started', Err: 'task: non-zero exit (1)', ExitCode: 1 });
  await manager.settled();
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 0 } } });
  await agents(manager);
  t.same(manager.store.tasksOfService(service.ID), [], 'no task is left waiting for a report that never comes');
});

t.test('a spec sent back re-encoded (other key order, empty objects) is not a new template', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 2, { TaskTemplate: { ContainerSpec: { Image: 'nginx', Env: ['A=1'], Init: false } } }));
  await agents(manager);
  const before = live(manager, service.ID).map((task) => task.ID).sort();
  const current = manager.store.service(service.ID)!;
  const reencoded = {
    ...current.Spec,
    TaskTemplate: { Placement: {}, Resources: { Limits: {}, Reservations: {} }, ForceUpdate: 0, ContainerSpec: { Env: ['A=1'], Image: 'nginx' } },
    Mode: { Replicated: { Replicas: 3 } },
  };
  await manager.updateService(service.ID, current.Version.Index, reencoded);
  t.notOk(manager.store.service(service.ID)!.UpdateStatus, 'a scale, not an update');
  const after = live(manager, service.ID).map((task) => task.ID);
  t.equal(after.length, 3);
  t.same(after.filter((id) => before.includes(id)).sort(), before, 'the running tasks were kept');
});

t.test('a scale in the middle of an update lets the update go on instead of abandoning it', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 3, { UpdateConfig: { Parallelism: 1, Order: 'start-first', Monitor: 0 } }));
  await agents(manager);
  let current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 4 } } });
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'updating', 'still updating');
  await agents(manager);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
  t.same(images(manager, service.ID), ['1:nginx:1.27:running', '2:nginx:1.27:running', '3:nginx:1.27:running', '4:nginx:1.27:running'],
    'four tasks, all of the new image: none left behind, none doubled');
});

t.test('a new task that fails within the monitor window fails the update', async (t) => {
  const { manager, timers } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 2, { UpdateConfig: { Parallelism: 1, Monitor: 5 * SECONDS, FailureAction: 'pause' } }));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  await agents(manager);
  timers.advance(1000);
  const fresh = live(manager, service.ID).find((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27' && task.Status.State === 'running')!;
  manager.reportTaskStatus(fresh.ID, { State: 'failed', Message: 'started', Err: 'task: non-zero exit (1)', ExitCode: 1 });
  await manager.settled();
  t.match(manager.store.service(service.ID)!.UpdateStatus, { State: 'paused', Message: new RegExp(`task ${fresh.ID}$`) });
});

t.test('a replacement stopped by a drain is not counted as the update failing', async (t) => {
  const { manager } = cluster();
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('web', 3, { UpdateConfig: { Parallelism: 1, Monitor: 0, FailureAction: 'pause' } }));
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  const replacement = live(manager, service.ID).find((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27')!;
  const node = manager.store.node(replacement.NodeID)!;
  manager.updateNode(node.ID, node.Version.Index, { ...node.Spec, Availability: 'drain' });
  await agents(manager);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
  t.equal(live(manager, service.ID).filter((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27' && task.Status.State === 'running').length, 3);
  t.notOk(live(manager, service.ID).some((task) => task.ID === replacement.ID), 'the drain stopped the replacement');
  t.notOk(live(manager, service.ID).some((task) => task.NodeID === node.ID), 'nothing is left to run on the drained node');
});

t.test('a manager that joins while there is no quorum does not become Leader', async (t) => {
  const timers = fakeTimers();
  const manager = new Manager({ taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => manager.close());
  const [n1, n2, n3] = [1, 2, 3].map((i) => manager.addNode({ hostname: `node${i}`, addr: `127.202.0.${i}`, role: 'manager' }));
  t.ok(manager.store.node(n1!.ID)!.ManagerStatus?.Leader, 'the first manager leads');
  manager.setNodeState(n1!.ID, 'down');
  t.ok(manager.store.node(n2!.ID)!.ManagerStatus?.Leader, 'then the next reachable one');
  manager.setNodeState(n3!.ID, 'down');
  t.notOk(manager.hasQuorum());
  const n4 = manager.addNode({ hostname: 'node4', addr: '127.202.0.4', role: 'manager' });
  t.notOk(manager.store.nodes().some((n) => n.ManagerStatus?.Leader), `no Leader without a quorum, not even ${n4.Description.Hostname}`);
});

t.test('a replica count beyond the address pool or the cap is refused at create and update, naming the limit', async (t) => {
  const timers = fakeTimers();
  const manager = new Manager({ taskSubnet: '127.200.0.0/24', vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now, maxReplicas: 50 });
  t.teardown(() => manager.close());
  manager.addNode({ hostname: 'node1', addr: '127.202.0.1', role: 'manager' });
  await t.rejects(manager.createService(spec('huge', 1_000_000_000)), {
    code: 'invalid_argument',
    message: /replicas 1000000000 is more than this cluster can hold \(253 task addresses in 127\.200\.0\.0\/24, and a cap of 50 replicas per service\): ask for 50 or fewer, or start the cluster with a higher --max-replicas/,
  });
  t.equal(manager.store.services().length, 0, 'nothing was written');
  const web = await manager.createService(spec('web', 50));
  const current = manager.store.service(web.ID)!;
  await t.rejects(manager.updateService(web.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 51 } } }),
    { code: 'invalid_argument', message: /replicas 51 is more than this cluster can hold/ });
  t.equal(manager.store.service(web.ID)!.Version.Index, current.Version.Index, 'the service is as it was');

  const small = new Manager({ taskSubnet: '127.200.0.0/29', vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now });
  t.teardown(() => small.close());
  await t.rejects(small.createService(spec('web', 6)), { message: /replicas 6 is more than this cluster can hold \(5 task addresses in 127\.200\.0\.0\/29, and a cap of 10000 replicas per service\): ask for 5 or fewer, or start the cluster with a larger --task-subnet/ });
  t.ok(await small.createService(spec('web', 5)), 'as many as the pool holds is fine');
});

t.test('thousands of replicas are created and removed in bounded slices, not in one call', async (t) => {
  const { manager } = cluster(3);
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('many', 3000));
  const first = manager.store.tasksOfService(service.ID).length;
  t.ok(first > 0 && first < 3000, `the request made a first slice only (${first} tasks)`);
  await manager.settled();
  t.equal(live(manager, service.ID).length, 3000, 'the rest followed on later turns');
  t.equal(live(manager, service.ID).filter((task) => task.Status.State === 'assigned').length, 3000, 'every task placed');
  await agents(manager);

  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 10 } } });
  const stopping = manager.store.tasksOfService(service.ID).filter((task) => task.DesiredState === 'remove').length;
  t.ok(stopping > 0 && stopping < 2990, `a scale-down stops a slice at a time (${stopping} in the first)`);
  await manager.settled();
  t.equal(live(manager, service.ID).length, 10);

  manager.removeService(service.ID);
  await manager.settled();
  t.ok(manager.store.tasksOfService(service.ID).every((task) => task.DesiredState === 'remove'), 'a removed service\'s tasks all stop');
  await agents(manager);
  t.same(manager.store.tasksOfService(service.ID), []);
});

/**
 * The store's writes in each turn of the event loop (a reconcile slice, and whatever ran in the same turn)
 * until `stop()`: how long a synchronous turn is, told without the machine's speed.
 */
function writesPerTurn(manager: Manager): { stop(): number[] } {
  const turns: number[] = [];
  let writes = 0;
  const count = () => { writes++; };
  manager.store.on('change', count);
  let next = setImmediate(function turn() {
    turns.push(writes);
    writes = 0;
    next = setImmediate(turn);
  });
  return {
    stop: () => {
      clearImmediate(next);
      manager.store.off('change', count);
      return [...turns, writes].filter((n) => n > 0);
    },
  };
}

/** A slice's task writes (DEFAULT_SLICE_BUDGET), and the few writes of a request or a service's status beside them: what one turn may write at most. */
const MOST_WRITES_PER_TURN = 100 + 10;

t.test('services that together ask for more task addresses than the pool has are refused, naming the numbers', async (t) => {
  const { manager, ids } = cluster(3, '127.96.0.0/20'); // 4,093 task addresses
  t.teardown(() => manager.close());
  const first = await manager.createService(spec('first', 4000));
  await t.rejects(manager.createService(spec('second', 4000)), {
    code: 'invalid_argument',
    message: 'rpc error: code = InvalidArgument desc = replicas 4000 is more than the task address pool has left: 127.96.0.0/20 has ' +
      '4093 task addresses, and the other service asks for 4000 of them: ask for 93 or fewer, scale another service down or remove it, ' +
      'or start the cluster with a larger --task-subnet',
  });
  t.equal(manager.store.services().length, 1, 'nothing was written');
  const second = await manager.createService(spec('second', 92));
  await t.rejects(manager.createService({ Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Global: {} } }), {
    message: /a global service here needs a task address on each of 3 nodes, more than the task address pool has left: 127\.96\.0\.0\/20 has 4093 task addresses, and the other 2 services ask for 4092 of them: constrain it to 1 nodes or fewer, scale another service down/,
  });
  const one = await manager.createService({
    Name: 'agent', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: [`node.id == ${ids[0]}`] } }, Mode: { Global: {} },
  });
  t.ok(one, 'a global service on as many nodes as there are addresses left is fine');

  const current = manager.store.service(first.ID)!;
  await t.rejects(manager.updateService(first.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 4001 } } }),
    { message: /replicas 4001 is more than the task address pool has left: .* the other 2 services ask for 93 of them: ask for 4000 or fewer, scale another service down/ });
  t.equal(manager.store.service(first.ID)!.Version.Index, current.Version.Index, 'the service is as it was');
  // Asking for no more than it had is never refused, even when the pool is overcommitted (a node joined).
  manager.addNode({ hostname: 'node4', addr: '127.202.0.4', role: 'worker' });
  const image = await manager.updateService(first.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  const fewer = await manager.updateService(second.ID, manager.store.service(second.ID)!.Version.Index,
    { ...second.Spec, Mode: { Replicated: { Replicas: 1 } } });
  t.ok(image && fewer, 'a new image and a scale-down are accepted');
});

t.test('tasks waiting for an address are written only when one is freed, oldest first, a slice at a time', async (t) => {
  const { manager } = cluster(3, '127.96.0.0/22'); // 1,021 task addresses
  t.teardown(() => manager.close());
  const old = await manager.createService(spec('old', 1000));
  await manager.settled();
  await agents(manager);
  const current = manager.store.service(old.ID)!;
  await manager.updateService(old.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 0 } } });
  await manager.settled();
  // old's tasks keep their addresses until their nodes say they stopped: the new service's wait.
  const fresh = await manager.createService(spec('new', 1000));
  await manager.settled();
  const waiting = live(manager, fresh.ID).filter((task) => task.Status.State === 'new').sort((a, b) => (a.CreatedAt < b.CreatedAt ? -1 : 1));
  t.equal(waiting.length, 979);
  const waitingIds = new Set(waiting.map((task) => task.ID));
  const writes: string[] = [];
  const count = (change: { kind: string; id: string }) => { writes.push(change.kind === 'task' && waitingIds.has(change.id) ? change.id : change.kind); };
  manager.store.on('change', count);
  t.teardown(() => manager.store.off('change', count));

  await manager.createService(spec('one', 1));
  await manager.settled();
  const stopping = manager.store.tasksOfService(old.ID);
  for (const task of stopping.slice(0, 20)) manager.reportTaskStatus(task.ID, { State: 'running', Message: 'started', Health: 'healthy' });
  await manager.settled();
  t.same(writes.filter((w) => waitingIds.has(w)), [], 'no waiting task was written while no address was freed');
  t.equal(writes.length, 22, 'a create (its service and its waiting task) and 20 reports: 22 writes');

  writes.length = 0;
  manager.reportTaskStatus(stopping[0]!.ID, { State: 'shutdown', Message: 'shutdown', ExitCode: 0 });
  await manager.settled();
  t.same([...new Set(writes.filter((w) => waitingIds.has(w)))], [waiting[0]!.ID], 'the one freed address went to the task that waited longest');
  t.equal(manager.store.task(waiting[0]!.ID)!.Status.State, 'assigned');
  t.notOk(manager.store.task(waiting[0]!.ID)!.Status.Err, 'and its "exhausted" message is gone');

  const turns = writesPerTurn(manager);
  for (const task of stopping.slice(1)) manager.reportTaskStatus(task.ID, { State: 'shutdown', Message: 'shutdown', ExitCode: 0 });
  const reports = stopping.length - 1;
  await manager.settled();
  const [reported, ...slices] = turns.stop();
  t.ok(reported! >= reports, `the reports' own turn wrote the reports (${reported})`);
  t.ok(slices.length > 1 && Math.max(...slices) <= MOST_WRITES_PER_TURN,
    `the waiting tasks got their addresses over ${slices.length} turns of at most ${Math.max(...slices)} writes`);
  t.equal(live(manager, fresh.ID).filter((task) => task.Status.State === 'assigned').length, 1000, 'every task of the new service placed');
});

t.test('a Parallelism 0 update of thousands of replicas starts its one batch over several slices, then completes', async (t) => {
  const { manager } = cluster(3);
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('many', 3000, { UpdateConfig: { Parallelism: 0, Monitor: 0 } }));
  await manager.settled();
  await agents(manager);
  const current = manager.store.service(service.ID)!;
  const turns = writesPerTurn(manager);
  await manager.updateService(service.ID, current.Version.Index, { ...current.Spec, TaskTemplate: { ContainerSpec: { Image: 'nginx:1.27' } } });
  const first = live(manager, service.ID).filter((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27').length;
  t.ok(first > 0 && first < 3000, `the request started a first slice of the batch only (${first} tasks)`);
  await manager.settled();
  const slices = turns.stop();
  t.ok(slices.length > 1 && Math.max(...slices) <= MOST_WRITES_PER_TURN, `the batch took ${slices.length} turns of at most ${Math.max(...slices)} writes`);
  t.equal(live(manager, service.ID).filter((task) => task.Spec.ContainerSpec.Image === 'nginx:1.27').length, 3000, 'the whole batch started');
  await agents(manager);
  t.equal(manager.store.service(service.ID)!.UpdateStatus?.State, 'completed');
  t.same(new Set(live(manager, service.ID).map((task) => `${task.Spec.ContainerSpec.Image} ${task.Status.State}`)), new Set(['nginx:1.27 running']));
  t.equal(live(manager, service.ID).length, 3000);
});

t.test('draining, or losing, a node with thousands of tasks stops them a slice at a time', async (t) => {
  const { manager, ids } = cluster(3);
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('many', 3000));
  await manager.settled();
  await agents(manager);
  const on = (nodeId: string) => manager.store.tasksOfNode(nodeId);
  t.equal(on(ids[2]!).length, 1000);

  let turns = writesPerTurn(manager);
  const node3 = manager.store.node(ids[2]!)!;
  manager.updateNode(node3.ID, node3.Version.Index, { ...node3.Spec, Availability: 'drain' });
  const stopped = on(ids[2]!).filter((task) => task.DesiredState !== 'running').length;
  t.ok(stopped > 0 && stopped < 1000, `the request stopped a first slice only (${stopped} tasks)`);
  await manager.settled();
  let slices = turns.stop();
  t.ok(slices.length > 1 && Math.max(...slices) <= MOST_WRITES_PER_TURN, `the drain took ${slices.length} turns of at most ${Math.max(...slices)} writes`);
  t.ok(on(ids[2]!).every((task) => task.DesiredState === 'shutdown'), 'every task of the drained node was told to stop');
  await agents(manager);
  t.equal(live(manager, service.ID).filter((task) => task.Status.State === 'running').length, 3000, 'and replaced on the others');

  turns = writesPerTurn(manager);
  manager.setNodeState(ids[1]!, 'down');
  const orphaned = on(ids[1]!).filter((task) => task.Status.State === 'orphaned').length;
  t.ok(orphaned > 0 && orphaned < 1500, `a node down: a first slice of its tasks orphaned at once (${orphaned})`);
  await manager.settled();
  slices = turns.stop();
  t.ok(slices.length > 1 && Math.max(...slices) <= MOST_WRITES_PER_TURN, `the rest over ${slices.length} turns of at most ${Math.max(...slices)} writes`);
  t.ok(on(ids[1]!).every((task) => task.Status.State === 'orphaned' || task.Status.State === 'shutdown'), 'every task of the down node orphaned');
  await agents(manager);
  t.equal(live(manager, service.ID).filter((task) => task.Status.State === 'running' && task.NodeID === ids[0]).length, 3000, 'all on the one node left');
});

t.test('thousands of tasks that waited for a node are placed a slice at a time once one can take them, and spread', async (t) => {
  const { manager, ids } = cluster(3);
  t.teardown(() => manager.close());
  const service = await manager.createService(spec('waiting', 3000, { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['node.labels.go == yes'] } } }));
  await manager.settled();
  t.ok(live(manager, service.ID).every((task) => task.Status.State === 'pending' && task.Status.Err), 'no node matches: every task waits, and says why');

  for (const id of ids.slice(0, 2)) {
    const node = manager.store.node(id)!;
    let writes = 0;
    const count = () => { writes++; };
    manager.store.on('change', count);
    manager.updateNode(id, node.Version.Index, { ...node.Spec, Labels: { go: 'yes' } });
    manager.store.off('change', count);
    t.ok(writes > 1 && writes <= MOST_WRITES_PER_TURN, `labelling ${node.Description.Hostname} placed a slice only (${writes} writes)`);
  }
  const turns = writesPerTurn(manager);
  await manager.settled();
  const slices = turns.stop();
  t.ok(slices.length > 1 && Math.max(...slices) <= MOST_WRITES_PER_TURN, `the rest over ${slices.length} turns of at most ${Math.max(...slices)} writes`);
  const placed = live(manager, service.ID).filter((task) => task.Status.State === 'assigned');
  t.equal(placed.length, 3000, 'every task placed');
  t.same(ids.map((id) => placed.filter((task) => task.NodeID === id).length), [1500, 1500, 0], 'spread over the two labelled nodes');
});

t.test('a reconcile that throws is logged, and neither the request nor the timer that ran its slice sees it', async (t) => {
  const log: string[] = [];
  const { manager, timers } = cluster(1, '127.200.0.0/16', { log: (line) => log.push(line) });
  t.teardown(() => manager.close());
  const broken = await manager.createService(spec('broken', 1));
  const healthy = await manager.createService(spec('healthy', 1));
  await agents(manager);
  // A task of broken fails: its service is queued for the next turn, and a restart timer is set.
  manager.reportTaskStatus(live(manager, broken.ID)[0]!.ID, { State: 'failed', Message: 'started', Err: 'task: non-zero exit (1)', ExitCode: 1 });
  const tasksOfService = manager.store.tasksOfService.bind(manager.store);
  manager.store.tasksOfService = (id) => {
    if (id === broken.ID) throw new Error('a bug in one reconcile');
    return tasksOfService(id);
  };
  const current = manager.store.service(healthy.ID)!;
  // This request's slice runs broken's queued reconcile too.
  await manager.updateService(healthy.ID, current.Version.Index, { ...current.Spec, Mode: { Replicated: { Replicas: 2 } } });
  t.equal(live(manager, healthy.ID).length, 2, 'the request was applied and answered');
  t.match(log, [new RegExp(`^manager: reconciling service ${broken.ID} failed, the others go on: Error: a bug in one reconcile`)]);
  t.doesNotThrow(() => timers.fireAll(), 'the restart timer that reconciles broken again does not throw');
  t.equal(log.length, 2, 'and its error is logged too');
  await manager.settled();
});

t.test('heartbeat period: a node is Down three of its periods after its last beat, counted with the period it was told then', async (t) => {
  const { manager, timers, ids } = cluster(2);
  t.teardown(() => manager.close());
  const state = () => manager.store.node(ids[1]!)!.Status.State;
  manager.heartbeat(ids[1]!);
  manager.updateSwarm(manager.swarmVersion, { ...manager.swarmSpec, Dispatcher: { HeartbeatPeriod: 1e9 } }, { worker: false, manager: false });
  t.equal(manager.heartbeatPeriodMs, 1000);
  t.equal(timers.pending.filter((p) => !p.cancelled).at(-1)!.ms, 1000, 'the sweep runs at the new pace');
  timers.advance(4000);
  t.equal(state(), 'ready', 'not Down after four new periods: its last beat was told 5 s');
  manager.heartbeat(ids[1]!);
  timers.advance(2500);
  t.equal(state(), 'ready');
  timers.advance(1000);
  t.equal(state(), 'down', 'Down three new periods after a beat that was told them');
});
