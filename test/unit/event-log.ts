// The event log, its filter, the times /events reads, and the swarm's events from a store, without sockets.
import t from 'tap';
import { EventLog, eventJson } from '../../src/engine/EventLog.js';
import type { EventMessage } from '../../src/engine/EventLog.js';
import type { EngineEvent } from '../../src/engine/EventSink.js';
import { SwarmEvents } from '../../src/engine/SwarmEvents.js';
import { eventFilter } from '../../src/engine/api/eventFilter.js';
import { eventTime } from '../../src/engine/api/eventRoutes.js';
import { parseFilters } from '../../src/engine/api/filters.js';
import { Agent } from '../../src/engine/index.js';
import type { Runtime } from '../../src/runtime/index.js';
import { Store } from '../../src/swarm/index.js';
import { node, service, task } from '../support/swarmObjects.js';

const container = (action: string, attributes: Record<string, string> = {}): EngineEvent => ({
  Type: 'container', Action: action, Actor: { ID: 'c0ffee', Attributes: { image: 'nginx:1.27', name: 'web.1.abc', ...attributes } }, scope: 'local',
});
const swarmEvent = (type: EngineEvent['Type'], action: string, id: string, name: string): EngineEvent => ({
  Type: type, Action: action, Actor: { ID: id, Attributes: { name } }, scope: 'swarm',
});

t.test('a message as dockerd sends it: legacy fields for containers only, times exact and increasing', async (t) => {
  const log = new EventLog();
  const before = BigInt(Date.now()) * 1_000_000n;
  log.record(container('start'));
  log.record(swarmEvent('service', 'create', 's1', 'web'));
  const [start, create] = log.history(0n, undefined, () => true);
  t.match(start, { status: 'start', id: 'c0ffee', from: 'nginx:1.27', Type: 'container', Action: 'start', scope: 'local' });
  t.notOk('status' in create! || 'id' in create! || 'from' in create!, 'none on a swarm event');
  t.ok(start!.timeNano >= before && create!.timeNano > start!.timeNano, 'stamped now, never twice the same');
  t.equal(start!.time, Number(start!.timeNano / 1_000_000_000n));
  const json = eventJson(start!);
  t.match(json, /^\{"status":"start","id":"c0ffee","from":"nginx:1\.27","Type":"container","Action":"start","Actor":\{.*\},"scope":"local","time":\d+,"timeNano":\d{19}\}$/);
  t.ok(json.endsWith(`"timeNano":${start!.timeNano}}`), 'timeNano written exactly, past 2^53');
});

t.test('the history: bounded, none without since or until, both bounds included', async (t) => {
  const log = new EventLog(3);
  for (const action of ['a', 'b', 'c', 'd']) log.record(container(action));
  const all = log.history(0n, undefined, () => true);
  t.same(all.map((m) => m.Action), ['b', 'c', 'd'], 'the oldest goes first');
  t.same(log.history(undefined, undefined, () => true), [], 'a plain `docker events` starts from now');
  t.same(log.history(all[1]!.timeNano, all[1]!.timeNano, () => true).map((m) => m.Action), ['c']);
  t.same(log.history(undefined, all[1]!.timeNano, () => true).map((m) => m.Action), ['b', 'c'], 'until alone: everything before it');
  t.same(log.history(0n, undefined, (m) => m.Action !== 'c').map((m) => m.Action), ['b', 'd']);
});

t.test('feeds get each new event until they stop following or the node stops', async (t) => {
  const log = new EventLog();
  const got: string[] = [];
  let ended = 0;
  const stop = log.follow({ message: (m) => got.push(m.Action), end: () => ended++ });
  log.follow({ message: () => {}, end: () => ended++ });
  t.equal(log.following, 2);
  log.record(container('create'));
  stop();
  log.record(container('start'));
  t.same(got, ['create']);
  log.endFeeds();
  t.equal(ended, 1, 'only the feed still following is ended');
  t.equal(log.following, 0);
});

t.test("since and until as moby's timetypes.ParseTimestamps reads them", async (t) => {
  t.equal(eventTime(null), undefined);
  t.equal(eventTime(''), undefined);
  t.equal(eventTime('1796597059'), 1796597059_000_000_000n);
  t.equal(eventTime('1796594400.000000000'), 1796594400_000_000_000n, 'what the CLI sends for an RFC 3339 time');
  t.equal(eventTime('1765000000.5'), 1765000000_500_000_000n, 'a short fraction is tenths');
  t.equal(eventTime('1.1234567891'), 1_123_456_789n, 'past nanoseconds: cut');
  t.throws(() => eventTime('10m'), { status: 400, message: 'strconv.ParseInt: parsing "10m": invalid syntax' });
  t.throws(() => eventTime('1.x'), { status: 400, message: 'strconv.ParseInt: parsing "x": invalid syntax' });
  t.throws(() => eventTime('99999999999999999999'), { status: 400, message: /value out of range/ });
});

t.test("filters as moby's daemon/events/filter.go", async (t) => {
  const log = new EventLog();
  log.record(container('create', { 'com.docker.swarm.service.name': 'web', tier: 'front' }));
  log.record(container('health_status: healthy'));
  log.record(container('die', { exitCode: '1' }));
  log.record(swarmEvent('service', 'create', 's1web', 'web'));
  log.record(swarmEvent('node', 'update', 'n1', 'node1'));
  const picked = (filters: Record<string, string[]>): string[] =>
    log.history(0n, undefined, eventFilter(parseFilters(JSON.stringify(filters), 'any'))).map((m: EventMessage) => `${m.Type} ${m.Action}`);
  t.same(picked({ type: ['service', 'node'] }), ['service create', 'node update']);
  t.same(picked({ type: ['image'] }), [], 'a type with no events: nothing');
  t.same(picked({ type: ['volume'] }), []);
  t.same(picked({ event: ['create'] }), ['container create', 'service create']);
  t.same(picked({ event: ['health_status'] }), ['container health_status: healthy'], 'health_status alone by prefix');
  t.same(picked({ scope: ['swarm'] }), ['service create', 'node update']);
  t.same(picked({ service: ['web'] }), ['container create', 'container health_status: healthy', 'container die', 'service create'], 'a name (web.1.abc) or ID it prefixes');
  t.same(picked({ node: ['node1'] }), ['node update']);
  t.same(picked({ node: ['n'] }), ['node update'], 'an ID prefix');
  t.same(picked({ container: ['c0f'] }), ['container create', 'container health_status: healthy', 'container die']);
  t.same(picked({ image: ['nginx'] }), ['container create', 'container health_status: healthy', 'container die'], 'the image without its tag');
  t.same(picked({ image: ['nginx:1.27'] }), ['container create', 'container health_status: healthy', 'container die']);
  t.same(picked({ image: ['redis'] }), []);
  t.same(picked({ label: ['tier'] }), ['container create']);
  t.same(picked({ label: ['tier=front', 'com.docker.swarm.service.name=web'] }), ['container create']);
  t.same(picked({ label: ['tier=back'] }), []);
  t.same(picked({ nonsense: ['x'] }).length, 5, 'a key it does not know is ignored, as dockerd ignores it');
  t.throws(() => parseFilters('{', 'any'), { status: 400, message: /^invalid filter/ });
});

t.test("a manager's swarm events from its view: create, update with what changed, remove; a resync is no change", async (t) => {
  const store = new Store();
  store.putNode(node('n0'));
  const log = new EventLog();
  const events = new SwarmEvents(store, log);
  t.teardown(() => events.close());
  const recorded = (): string[] => log.history(0n, undefined, () => true).map((m) => `${m.Type} ${m.Action} ${m.Actor.ID} ${JSON.stringify(m.Actor.Attributes)}`);
  t.same(recorded(), [], 'what the view held already is not announced');

  const n1 = store.putNode({ ...node('n1'), Spec: { Labels: {}, Role: 'manager', Availability: 'active' }, ManagerStatus: { Leader: false, Reachability: 'reachable', Addr: 'x:2377' } });
  store.putNode({ ...structuredClone(n1), Spec: { Labels: {}, Role: 'manager', Availability: 'drain' } });
  store.putNode({ ...structuredClone(store.node('n1')!), Status: { State: 'down', Addr: '127.1.0.1' }, ManagerStatus: { Leader: true, Reachability: 'unreachable', Addr: 'x:2377' } });
  store.mirror('node', structuredClone(store.node('n1')!));
  store.deleteNode('n1');
  t.same(recorded(), [
    'node create n1 {"name":"n1"}',
    'node update n1 {"name":"n1","availability.old":"active","availability.new":"drain"}',
    'node update n1 {"name":"n1","state.old":"ready","state.new":"down","leader.old":"false","leader.new":"true","reachability.old":"reachable","reachability.new":"unreachable"}',
    'node remove n1 {"name":"n1"}',
  ]);

  const log2 = new EventLog();
  const events2 = new SwarmEvents(store, log2);
  t.teardown(() => events2.close());
  const s1 = store.putService(service('s1', 'web'));
  const next = structuredClone(s1);
  next.Spec.TaskTemplate.ContainerSpec.Image = 'nginx:1.27';
  next.Spec.Mode = { Replicated: { Replicas: 3 } };
  next.UpdateStatus = { State: 'updating', Message: 'update in progress' };
  store.putService(next);
  store.putService({ ...structuredClone(next), UpdateStatus: { State: 'completed', Message: 'update completed' } });
  store.deleteService('s1');
  t.same(log2.history(0n, undefined, () => true).map((m) => `${m.Action} ${JSON.stringify(m.Actor.Attributes)}`), [
    'create {"name":"web"}',
    'update {"name":"web","image.old":"nginx","image.new":"nginx:1.27","replicas.old":"1","replicas.new":"3","updatestate.new":"updating"}',
    'update {"name":"web","updatestate.old":"updating","updatestate.new":"completed"}',
    'remove {"name":"web"}',
  ]);
  t.equal(log2.history(0n, undefined, (m) => m.scope !== 'swarm').length, 0, 'all of scope swarm');
});

t.test('networks, secrets and configs: create, update and remove with their names; a network\'s writes and a bridge network are not the swarm\'s events', async (t) => {
  const store = new Store();
  const log = new EventLog();
  const events = new SwarmEvents(store, log);
  t.teardown(() => events.close());
  const meta = { Version: { Index: 0 }, CreatedAt: '', UpdatedAt: '' };
  const network = store.put('network', { ID: 'net1', ...meta, Spec: { Name: 'mynet', Labels: {} } });
  store.put('network', { ...structuredClone(network), Spec: { Name: 'mynet', Labels: { a: 'b' } } });
  store.put('secret', { ID: 'sec1', ...meta, Spec: { Name: 'mysql_pass', Labels: {} } });
  store.put('config', { ID: 'cfg1', ...meta, Spec: { Name: 'nginx.conf', Labels: {} } });
  store.put('secret', { ...structuredClone(store.get('secret', 'sec1')!), Spec: { Name: 'mysql_pass', Labels: { tier: 'db' } } });
  const bridge = store.put('network', { ID: 'br1', ...meta, Spec: { Name: 'mybr', Labels: {}, Scope: 'local' }, NodeID: 'n1' });
  store.delete('network', bridge.ID);
  store.delete('network', 'net1');
  store.delete('secret', 'sec1');
  t.same(log.history(0n, undefined, () => true).map((m) => `${m.Type} ${m.Action} ${m.Actor.ID} ${m.Actor.Attributes.name} ${m.scope}`), [
    'network create net1 mynet swarm',
    'secret create sec1 mysql_pass swarm',
    'config create cfg1 nginx.conf swarm',
    'secret update sec1 mysql_pass swarm',
    'network remove net1 mynet swarm',
    'secret remove sec1 mysql_pass swarm',
  ]);
});

t.test("the agent's task containers: create and start, die with the exit code, destroy once the task is gone or the node leaves", async (t) => {
  const store = new Store();
  store.putNode(node('n1'));
  store.putService(service('s1', 'web'));
  const exits = new Map<string, (code: number) => void>();
  const runtime = {
    start: async (spec: { taskId: string; address: string }) => ({
      address: spec.address, ports: [], pid: 1,
      exited: new Promise<number>((resolve) => exits.set(spec.taskId, resolve)),
      stop: async () => 143,
    }),
  } as unknown as Runtime;
  const log = new EventLog();
  const agent = new Agent({
    nodeId: 'n1', runtime, events: log,
    link: { view: store, reportTaskStatus: (id, report) => { store.updateTask(id, (t) => { t.Status = { ...t.Status, State: report.State }; }); } },
  });
  agent.start();
  t.teardown(() => agent.stop());
  const recorded = (taskId: string): string[] => log.history(0n, undefined, (m) => m.Actor.Attributes['com.docker.swarm.task.id'] === taskId)
    .map((m) => `${m.Action}${m.Actor.Attributes.exitCode !== undefined ? ` ${m.Actor.Attributes.exitCode}` : ''}`);
  const settle = async (what: string, check: () => boolean): Promise<void> => {
    for (let i = 0; i < 1000 && !check(); i++) await new Promise(setImmediate);
    t.ok(check(), what);
  };

  store.putTask(task('t1', 's1', { slot: 1, node: 'n1', state: 'assigned' }));
  store.putTask(task('t2', 's1', { slot: 2, node: 'n1', state: 'assigned' }));
  await settle('both run', () => store.tasks().every((x) => x.Status.State === 'running'));
  const [create] = log.history(0n, undefined, (m) => m.Action === 'create');
  t.match(create, { Type: 'container', scope: 'local', Actor: { Attributes: { name: 's1.1.t1', image: 'nginx', 'com.docker.swarm.service.name': 'web', 'com.docker.swarm.task': '' } } });

  exits.get('t1')!(3);
  await settle('t1 failed', () => store.task('t1')!.Status.State === 'failed');
  t.same(recorded('t1'), ['create', 'start', 'die 3'], 'its program exited: die, the container kept while its task is');
  store.deleteTask('t1');
  await settle('t1 destroyed', () => recorded('t1').length === 4);
  t.same(recorded('t1'), ['create', 'start', 'die 3', 'destroy']);

  await agent.stop(true);
  t.same(recorded('t2'), ['create', 'start', 'die 143', 'destroy'], 'the node leaves: stopped and removed');
});
