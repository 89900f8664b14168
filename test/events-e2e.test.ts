// `docker events` and `docker system events` through the real docker CLI (28.2.2) on a cluster of two
// managers and a worker: the swarm's events once each on every manager and none on the worker, `--since`
// and `--until` as the CLI sends them, filters (types without events stay empty), a following feed that
// sees a task container die and is then interrupted, `--until` ahead that ends by itself, and the feed's
// clean end when its node stops.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import t from 'tap';
import { api, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { docker, dockerEnv } from './support/cli.js';
import { descendantNamed } from './support/processes.js';
import { missingTool } from './support/tools.js';

const BLOCK = testBlock(167); // nodes 127.167.0.x, tasks 127.168/16, VIPs 127.169/16

const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { nodes: 3, managers: 2 });
const [node1, node2, node3] = cluster?.nodes.map((n) => n.address) ?? [];
const leader = cluster?.nodes[0]!.apiUrl ?? '';

/** Now as `docker events --since` takes it: Unix seconds with a fraction (milliseconds). */
const seconds = (): string => (Date.now() / 1000).toFixed(3);
/**
 * An `--until` past every event recorded so far: a millisecond on, since events of one millisecond are
 * stamped a nanosecond apart (and `until` is dated now it is followed for that millisecond).
 */
const untilNow = (): string => ((Date.now() + 1) / 1000).toFixed(3);
const jsonLines = (text: string): any[] => text.split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line));

/** Whether the node's event log has an event `match` takes (what a test waits for before it reads a window). */
function logged(hostname: string, match: (m: any) => boolean): boolean {
  return cluster!.engine(hostname)!.events.history(0n, undefined, match).length > 0;
}

/**
 * Removes a service and waits until every manager has recorded its removal and every node the destroy of
 * each container of it: nothing of one test's services comes into the next one's window.
 */
async function removeService(id: string): Promise<void> {
  await api(leader, 'DELETE', `/services/${id}`);
  const ofService = (m: any): boolean => m.Actor.ID === id || m.Actor.Attributes['com.docker.swarm.service.id'] === id;
  await waitFor(`service ${id} and its containers gone from every node's events`, () => cluster!.engines.every((engine) => {
    const containers = engine.events.history(0n, undefined, (m) => m.Type === 'container' && ofService(m));
    const removed = engine.swarmState() !== 'active/manager' || logged(engine.hostname, (m) => m.Type === 'service' && m.Action === 'remove' && ofService(m));
    return removed && containers.filter((m) => m.Action === 'create').length === containers.filter((m) => m.Action === 'destroy').length;
  }));
}

/** `docker ...args` running on, its output gathered as it comes. */
function following(address: string, args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn('docker', args, { env: dockerEnv(address), stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, out: () => text, exited };
}

t.test('service create, update and rm: once each on every manager, in --since/--until, none on the worker', { skip }, async (t) => {
  const since = seconds();
  const created = await api(leader, 'POST', '/services/create', serviceSpec('ev-web', 'traefik/whoami'));
  const id: string = created.body.ID;
  const { body: service } = await api(leader, 'GET', `/services/${id}`);
  service.Spec.Mode.Replicated.Replicas = 2;
  t.equal((await api(leader, 'POST', `/services/${id}/update?version=${service.Version.Index}`, service.Spec)).status, 200);
  await removeService(id);
  const until = untilNow();

  for (const address of [node1!, node2!]) {
    const result = await docker(address, 'events', '--since', since, '--until', until, '--filter', 'type=service', '--format', '{{json .}}');
    t.equal(result.code, 0, result.stderr);
    const events = jsonLines(result.stdout);
    t.same(events.map((e) => `${e.Action} ${e.Actor.ID}`), [`create ${id}`, `update ${id}`, `remove ${id}`], `${address}: each once, in order`);
    t.match(events[0], { Type: 'service', Action: 'create', Actor: { ID: id, Attributes: { name: 'ev-web' } }, scope: 'swarm' });
    t.notOk('status' in events[0], 'no legacy fields on a swarm event');
    t.same(events[1].Actor.Attributes, { name: 'ev-web', 'replicas.old': '1', 'replicas.new': '2' });
    for (const e of events) {
      t.ok(e.time >= Math.floor(Number(since)) && e.time <= Number(until), 'within the window');
      t.equal(String(e.timeNano).slice(0, String(e.time).length), String(e.time), 'timeNano is time, in nanoseconds');
    }
  }

  // The CLI's own line, and `docker system events` the same route.
  const plain = await docker(node2!, 'system', 'events', '--since', since, '--until', until, '--filter', 'type=service', '--filter', 'event=create');
  t.equal(plain.code, 0, plain.stderr);
  t.match(plain.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z service create ${id} \\(name=ev-web\\)\\n$`));

  const worker = await docker(node3!, 'events', '--since', since, '--until', until, '--filter', 'type=service');
  t.equal(worker.code, 0, worker.stderr);
  t.equal(worker.stdout, '', 'a worker shows no swarm event');

  const refused = await docker(node1!, 'events', '--since', until, '--until', since);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /`since` time \(.+\) cannot be after `until` time \(.+\)/);
});

t.test('follows a task container: create and start, a die with its exit code when its program is killed, destroy on rm; then interrupted', { skip }, async (t) => {
  const since = seconds();
  const spec = serviceSpec('ev-exec', 'routemesh/exec', {
    TaskTemplate: {
      ContainerSpec: { Image: 'routemesh/exec', Command: ['sleep', '1000'], Labels: { tier: 'events' } },
      Placement: { Constraints: ['node.hostname==node3'] },
      RestartPolicy: { Condition: 'none' },
    },
  });
  const { body: { ID: serviceId } } = await api(leader, 'POST', '/services/create', spec);
  const [task] = await waitForRunning(leader, 'ev-exec', 1);

  // On the task's node (a worker): its history first, then what comes.
  const feed = following(node3!, ['events', '--since', since, '--filter', 'type=container', '--filter', 'container=ev-exec', '--format', '{{json .}}']);
  const events = (): any[] => jsonLines(feed.out());
  await waitFor('the start event', () => events().some((e) => e.Action === 'start'));
  const [create, start] = events();
  t.match(create, {
    status: 'create', from: 'routemesh/exec', Type: 'container', Action: 'create', scope: 'local',
    Actor: {
      Attributes: {
        image: 'routemesh/exec', name: `ev-exec.1.${task.ID}`, tier: 'events',
        'com.docker.swarm.service.name': 'ev-exec', 'com.docker.swarm.service.id': serviceId,
        'com.docker.swarm.task.id': task.ID, 'com.docker.swarm.task.name': `ev-exec.1.${task.ID}`, 'com.docker.swarm.node.id': task.NodeID,
      },
    },
  });
  t.match(create.id, /^[0-9a-f]{64}$/);
  t.equal(create.id, create.Actor.ID);
  t.ok(create.id.startsWith(task.Status.ContainerStatus.ContainerID), 'the container ID starts with the task\'s short container ID');
  t.equal(start.id, create.id);

  process.kill(await descendantNamed(task.Status.ContainerStatus.PID, 'sleep'), 'SIGKILL');
  const die = await waitFor('the die event', () => events().find((e) => e.Action === 'die'));
  const failed = await waitFor('the task failed', async () => {
    const { body } = await api(leader, 'GET', `/tasks/${task.ID}`);
    return body.Status.State === 'failed' ? body : undefined;
  });
  t.equal(die.id, create.id);
  t.equal(die.Actor.Attributes.exitCode, String(failed.Status.ContainerStatus.ExitCode), 'the exit code the task reports');
  t.not(die.Actor.Attributes.exitCode, '0');
  t.match(die.Actor.Attributes.execDuration, /^\d+$/);

  await removeService(serviceId);
  await waitFor('the destroy event', () => events().some((e) => e.Action === 'destroy'));
  t.same(events().map((e) => e.Action), ['create', 'start', 'die', 'destroy']);
  feed.child.kill('SIGINT');
  await feed.exited;
});

t.test('filters for types with no events stay empty; filters by name, label and event', { skip }, async (t) => {
  const since = seconds();
  const { body: { ID: id } } = await api(leader, 'POST', '/services/create', serviceSpec('ev-filtered', 'traefik/whoami', {
    TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' }, Placement: { Constraints: ['node.hostname==node1'] } },
  }));
  await waitFor('its container started', () => logged('node1', (m) => m.Action === 'start' && m.Actor.Attributes['com.docker.swarm.service.id'] === id));
  const until = untilNow();
  const window = ['--since', since, '--until', until, '--format', '{{json .}}'];
  const all = jsonLines((await docker(node1!, 'events', ...window)).stdout);
  t.same(all.map((e) => `${e.Type} ${e.Action}`), ['service create', 'container create', 'container start'], 'the window has events');

  for (const args of [['events', '--filter', 'type=image'], ['system', 'events', '--filter', 'type=volume'], ['events', '--filter', 'image=nginx']]) {
    const result = await docker(node1!, ...args, ...window);
    t.equal(result.code, 0, result.stderr);
    t.equal(result.stdout, '', `docker ${args.join(' ')}: nothing`);
  }
  const picked = async (...filters: string[]): Promise<string[]> => {
    const result = await docker(node1!, 'events', ...filters.flatMap((f) => ['--filter', f]), ...window);
    t.equal(result.code, 0, result.stderr);
    return jsonLines(result.stdout).map((e) => `${e.Type} ${e.Action}`);
  };
  // As moby's filter: a name's prefix, so the service's task containers (`ev-filtered.1.<task>`) too.
  t.same(await picked('service=ev-filtered'), ['service create', 'container create', 'container start'], 'service= takes the names it prefixes');
  t.same(await picked(`service=${id}`), ['service create'], 'service= by ID');
  t.same(await picked('image=traefik/whoami'), ['container create', 'container start'], 'image= takes the image');
  t.same(await picked('event=start', 'event=create', 'type=container'), ['container create', 'container start']);
  t.same(await picked('label=com.docker.swarm.service.name=ev-filtered', 'scope=local'), ['container create', 'container start']);
  t.same(await picked('scope=swarm', 'node=node1'), [], 'node= takes node events only (by ID or name)');
  await removeService(id);
});

// Without --since, --until alone would also replay the kept events before it, as dockerd does.
t.test('--until ahead: follows until then, and ends by itself', { skip }, async (t) => {
  const since = seconds();
  const until = (Number(since) + 2).toFixed(3);
  const log = cluster!.engine('node2')!.events;
  const before = log.following;
  const feed = following(node2!, ['events', '--since', since, '--until', until, '--filter', 'type=service', '--format', '{{json .}}']);
  // The CLI is following once the engine has a feed for it; a service made then is in it.
  await waitFor('the CLI to follow', () => log.following > before);
  const { body: { ID: id } } = await api(leader, 'POST', '/services/create', serviceSpec('ev-until', 'traefik/whoami', { Mode: { Replicated: { Replicas: 0 } } }));
  t.equal(await feed.exited, 0, feed.out());
  t.ok(Date.now() / 1000 >= Number(until), 'it ended at --until, not before');
  const events = jsonLines(feed.out());
  t.same(events.map((e) => `${e.Action} ${e.Actor.ID}`), [`create ${id}`]);
  await removeService(id);
});

t.test('node updates on every manager with what changed; a promoted worker shows the swarm\'s events from then on', { skip }, async (t) => {
  const since = seconds();
  const { body: [worker] } = await api(leader, 'GET', `/nodes?filters=${encodeURIComponent(JSON.stringify({ name: { node3: true } }))}`);
  t.equal((await docker(node1!, 'node', 'update', '--availability', 'drain', 'node3')).code, 0);
  t.equal((await docker(node1!, 'node', 'update', '--availability', 'active', 'node3')).code, 0);
  t.equal((await docker(node1!, 'node', 'promote', 'node3')).code, 0);
  await waitFor('node3 to be a manager with a copy of the view', () => cluster!.engine('node3')!.swarmState() === 'active/manager' && cluster!.engine('node3')!.mesh);
  for (const hostname of ['node1', 'node2']) {
    await waitFor(`${hostname} to record the promotion`, () => logged(hostname, (m) => m.Actor.Attributes['role.new'] === 'manager'));
  }
  const until = untilNow();
  for (const address of [node1!, node2!]) {
    const result = await docker(address, 'events', '--since', since, '--until', until, '--filter', 'type=node', '--filter', 'node=node3', '--format', '{{json .}}');
    t.equal(result.code, 0, result.stderr);
    const changes = jsonLines(result.stdout).map((e) => ({ id: e.Actor.ID, action: e.Action, ...e.Actor.Attributes }));
    t.same(changes, [
      { id: worker.ID, action: 'update', name: 'node3', 'availability.old': 'active', 'availability.new': 'drain' },
      { id: worker.ID, action: 'update', name: 'node3', 'availability.old': 'drain', 'availability.new': 'active' },
      { id: worker.ID, action: 'update', name: 'node3', 'role.old': 'worker', 'role.new': 'manager' },
    ], `${address}: each change once`);
  }
  const after = seconds();
  const { body: { ID: id } } = await api(leader, 'POST', '/services/create', serviceSpec('ev-promoted', 'traefik/whoami', { Mode: { Replicated: { Replicas: 0 } } }));
  await waitFor('node3 to record the service', () => logged('node3', (m) => m.Action === 'create' && m.Actor.ID === id));
  const seen = await docker(node3!, 'events', '--since', after, '--until', untilNow(), '--filter', 'scope=swarm', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}');
  t.equal(seen.stdout, `service create ${id}\n`, 'the promoted node shows the swarm\'s events');
  await removeService(id);
});

t.test('a follower that does not read is cut off once 8 MiB behind, and no longer followed', { skip }, async (t) => {
  const log = cluster!.engine('node2')!.events;
  const before = log.following;
  const socket = net.connect({ host: node2!, port: 2375 });
  t.teardown(() => socket.destroy());
  socket.write('GET /v1.50/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await once(socket, 'data');
  socket.pause();
  await waitFor('the feed to be followed', () => log.following > before);
  const closed = once(socket, 'close');
  // 4 KiB events, until the engine lets it go: past what the kernel's socket buffers hold, then 8 MiB more.
  const padding = 'x'.repeat(4096);
  for (let i = 0; i < 20_000 && log.following > before; i++) {
    log.record({ Type: 'container', Action: 'start', Actor: { ID: `flood${i}`, Attributes: { name: `flood.${i}`, padding } }, scope: 'local' });
    if (i % 500 === 499) await new Promise(setImmediate);
  }
  t.equal(log.following, before, 'cut off before 80 MiB');
  socket.resume();
  await closed;
});

t.test('a following feed ends cleanly when its node stops', { skip }, async (t) => {
  const ended = new Promise<string>((resolve, reject) => {
    http.get(`${cluster!.nodes[2]!.apiUrl}/v1.50/events`, { agent: false }, (res) => {
      t.equal(res.statusCode, 200);
      t.equal(res.headers['content-type'], 'application/json');
      res.on('aborted', () => reject(new Error('the stream was cut, not ended')));
      res.resume().on('end', () => resolve('ended'));
    }).on('error', reject);
  });
  await waitFor('the feed to be followed', () => cluster!.engine('node3')!.events.following > 0);
  await cluster!.daemons[2]!.close();
  t.equal(await ended, 'ended');
});
