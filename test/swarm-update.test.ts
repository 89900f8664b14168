// `docker swarm update` and POST /swarm/update: the settings are checked as the daemon and swarmkit check
// them (Go's types, then swarmkit's minimums), stored whole with the version check, shown by GET /swarm and
// `docker info`, and applied where routemesh models them: the task history kept per slot, and the heartbeat
// period the nodes beat at. Autolock and root CA rotation are refused as not supported.
// Addresses: nodes 127.11.0.x, tasks 127.12/16, VIPs 127.13/16.
import t from 'tap';
import { api, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { docker } from './support/cli.js';
import { missingTool } from './support/tools.js';

const BLOCK = testBlock(11);
const NS_PER_S = 1_000_000_000;

t.test('docker swarm update changes what docker info and GET /swarm show, and refuses what swarmkit refuses', { skip: missingTool('docker', 'docker.io') }, async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined });
  const node = cluster.engines[0]!;
  const address = node.address;

  const updated = await docker(address, 'swarm', 'update', '--task-history-limit', '2', '--cert-expiry', '1h', '--dispatcher-heartbeat', '10s');
  t.equal(updated.stderr, '');
  t.equal(updated.stdout, 'Swarm updated.\n');
  t.equal(updated.code, 0);
  const { body: swarm } = await api(node.apiUrl, 'GET', '/swarm');
  t.equal(swarm.Spec.Orchestration.TaskHistoryRetentionLimit, 2, 'the history limit is stored');
  t.equal(swarm.Spec.CAConfig.NodeCertExpiry, 3600 * NS_PER_S, 'the certificate expiry is stored');
  t.equal(swarm.Spec.Dispatcher.HeartbeatPeriod, 10 * NS_PER_S, 'the heartbeat period is stored');
  t.equal(node.requireManager().heartbeatPeriodMs, 10_000, 'and is the period the nodes beat at');

  const info = await docker(address, 'info', '--format', '{{json .Swarm.Cluster.Spec}}');
  t.equal(info.code, 0);
  t.same(JSON.parse(info.stdout), swarm.Spec, 'docker info shows the same settings');
  const text = await docker(address, 'info');
  t.match(text.stdout, /Task History Retention Limit: 2\n/);
  t.match(text.stdout, /Heartbeat Period: 10 seconds\n/);
  t.match(text.stdout, /Expiry Duration: About an hour\n/);

  const short = await docker(address, 'swarm', 'update', '--cert-expiry', '30m');
  t.equal(short.code, 1, 'a certificate expiry under swarmkit\'s minimum is refused');
  t.equal(short.stderr, 'Error response from daemon: rpc error: code = InvalidArgument desc = minimum certificate expiry time is: 1h0m0s\n');

  const autolock = await docker(address, 'swarm', 'update', '--autolock');
  t.equal(autolock.code, 1, '--autolock is refused');
  t.match(autolock.stderr, /^Error response from daemon: autolock is not supported: .*leave --autolock off\n$/);
  const after = await api(node.apiUrl, 'GET', '/swarm');
  t.same(after.body.Spec, swarm.Spec, 'a refused update changes nothing');
  t.equal(after.body.Version.Index, swarm.Version.Index, 'not even the version');
});

t.test('POST /swarm/update: Go\'s types, swarmkit\'s rules and the version, each refused with 400 naming the field', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined });
  const base = cluster.engines[0]!.apiUrl;
  const { body: swarm } = await api(base, 'GET', '/swarm');
  const update = (spec: unknown, version = swarm.Version.Index) => api(base, 'POST', `/swarm/update?version=${version}`, spec);
  const refusals: [string, unknown, RegExp][] = [
    ['a history limit past int64', { Orchestration: { TaskHistoryRetentionLimit: 1e308 } }, /Spec\.Orchestration\.TaskHistoryRetentionLimit of type int64/],
    ['a string for a Raft tick', { Raft: { ElectionTick: 'x' } }, /cannot unmarshal string into Go struct field Spec\.Raft\.ElectionTick of type int/],
    ['a negative Raft tick', { Raft: { HeartbeatTick: -1 } }, /Raft\.HeartbeatTick must be a whole number from 0 to 4294967295/],
    ['a fractional heartbeat period', { Dispatcher: { HeartbeatPeriod: 1.5 } }, /Spec\.Dispatcher\.HeartbeatPeriod of type time\.Duration/],
    ['a negative heartbeat period', { Dispatcher: { HeartbeatPeriod: -1 } }, /heartbeat time period cannot be a negative duration/],
    ['a heartbeat period under 1ms', { Dispatcher: { HeartbeatPeriod: 1000 } }, /Dispatcher\.HeartbeatPeriod must be at least 1ms/],
    ['a certificate expiry under 1h', { CAConfig: { NodeCertExpiry: 60 * NS_PER_S } }, /minimum certificate expiry time is: 1h0m0s/],
    ['a snapshot count that is not a uint64', { Raft: { KeepOldSnapshots: -1 } }, /Spec\.Raft\.KeepOldSnapshots of type uint64/],
    ['a bool that is a string', { EncryptionConfig: { AutoLockManagers: 'yes' } }, /Spec\.EncryptionConfig\.AutoLockManagers of type bool/],
    ['labels that are not strings', { Labels: { a: 1 } }, /Spec\.Labels\["a"\] of type string/],
    ['another name', { Name: 'other' }, /^swarm spec must be named "default"$/],
    ['an unknown external CA protocol', { CAConfig: { ExternalCAs: [{ Protocol: 'acme', URL: 'https://127.11.0.9' }] } }, /invalid protocol: "acme"/],
    ['a root CA rotation', { CAConfig: { ForceRotate: 1 } }, /rotating the swarm's root CA .* is not supported/],
    ['autolock', { EncryptionConfig: { AutoLockManagers: true } }, /autolock is not supported/],
    ['a body that is not an object', [1], /the swarm spec must be a JSON object/],
  ];
  for (const [what, spec, message] of refusals) {
    const res = await update(Array.isArray(spec) ? spec : { ...swarm.Spec, ...(spec as object) });
    t.equal(res.status, 400, `${what} is refused with 400`);
    t.match(res.body?.message, message, `${what}: the message names the field`);
  }
  const stale = await update({ ...swarm.Spec, Orchestration: { TaskHistoryRetentionLimit: 3 } }, swarm.Version.Index - 1);
  t.match(stale.body.message, /update out of sequence/, 'a stale version is refused');
  const unchanged = await api(base, 'GET', '/swarm');
  t.same(unchanged.body.Spec, swarm.Spec, 'nothing refused was stored');
  t.equal(unchanged.body.Version.Index, swarm.Version.Index);

  // Keys as Go matches them (case-insensitively); an absent field takes its zero value, as the daemon stores it.
  const spec = { ...swarm.Spec, orchestration: { taskhistoryretentionlimit: -1 }, Labels: { team: 'edge' }, TaskDefaults: { LogDriver: { Name: 'json-file' } } };
  delete spec.Orchestration;
  const ok = await update(spec);
  t.equal(ok.status, 200);
  const { body: stored } = await api(base, 'GET', '/swarm');
  t.equal(stored.Spec.Orchestration.TaskHistoryRetentionLimit, -1, 'the lower-case key is the field');
  t.same(stored.Spec.Labels, { team: 'edge' });
  t.same(stored.Spec.TaskDefaults, { LogDriver: { Name: 'json-file' } }, 'task defaults are kept as given');
  t.ok(stored.Version.Index > swarm.Version.Index, 'the version moves on');
  t.same((await api(base, 'GET', '/info')).body.Swarm.Cluster.Spec, stored.Spec, '/info shows it too');
});

t.test('the history limit set by swarm update is what each slot keeps, the running task included', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined });
  const base = cluster.engines[0]!.apiUrl;
  const { body: swarm } = await api(base, 'GET', '/swarm');
  const set = await api(base, 'POST', `/swarm/update?version=${swarm.Version.Index}`, { ...swarm.Spec, Orchestration: { TaskHistoryRetentionLimit: 2 } });
  t.equal(set.status, 200);

  // Each update replaces the slot's task: with a limit of 2, the slot keeps the running task and one before it.
  await api(base, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { UpdateConfig: { Monitor: 1 } }));
  await waitForRunning(base, 'web', 1);
  for (let force = 1; force <= 3; force++) {
    const { body: service } = await api(base, 'GET', '/services/web');
    const spec = { ...service.Spec, TaskTemplate: { ...service.Spec.TaskTemplate, ForceUpdate: force } };
    t.equal((await api(base, 'POST', `/services/web/update?version=${service.Version.Index}`, spec)).status, 200);
    await waitFor(`update ${force} to finish`, async () => {
      const tasks = (await api<any[]>(base, 'GET', '/tasks')).body;
      return tasks.some((task) => task.Spec.ForceUpdate === force && task.Status.State === 'running')
        && tasks.every((task) => task.DesiredState === 'running' || ['shutdown', 'complete', 'failed'].includes(task.Status.State));
    });
  }
  const tasks = await waitFor('the history trimmed to 2', async () => {
    const all = (await api<any[]>(base, 'GET', '/tasks')).body;
    return all.length === 2 ? all : undefined;
  });
  t.same(tasks.map((task) => task.Spec.ForceUpdate ?? 0).sort(), [2, 3], 'the newest two tasks of the slot');
});

t.test('a heartbeat period set by swarm update is what every node beats at from its next beat', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 2, heartbeatPeriodMs: 100, metricsPort: undefined });
  const base = cluster.engines[0]!.apiUrl;
  const manager = cluster.engines[0]!.requireManager();
  // Each beat, and the period the node reads as it arms its next one.
  const beats: { node: string; periodMs: number }[] = [];
  const heartbeat = manager.heartbeat.bind(manager);
  manager.heartbeat = (nodeId: string) => { heartbeat(nodeId); beats.push({ node: nodeId, periodMs: manager.heartbeatPeriodMs }); };
  await waitFor('both nodes beating every 100 ms', () => new Set(beats.map((b) => b.node)).size === 2 && beats.length >= 6);

  const { body: swarm } = await api(base, 'GET', '/swarm');
  const set = await api(base, 'POST', `/swarm/update?version=${swarm.Version.Index}`, { ...swarm.Spec, Dispatcher: { HeartbeatPeriod: 3600 * NS_PER_S } });
  t.equal(set.status, 200);
  // Each node's next beat was armed at the old pace: it comes, and the node hears the hour as it beats.
  const hourly = () => beats.filter((b) => b.periodMs === 3_600_000);
  await waitFor('a beat from each node that hears the hour', () => new Set(hourly().map((b) => b.node)).size === 2);

  // Time for many 100 ms beats: a service created and its tasks running.
  await api(base, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 2 } } }));
  await waitForRunning(base, 'web', 2);
  t.equal(hourly().length, 2, 'one beat from each node since it heard the hour');
  t.same(beats.slice(-2), hourly(), 'and none after: the next ones are an hour away');
  const { body: nodes } = await api<any[]>(base, 'GET', '/nodes');
  t.same(nodes.map((n) => n.Status.State), ['ready', 'ready'], 'and no node is Down for it');
});
