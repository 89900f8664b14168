// The engine API over HTTP: the shapes, status codes, error texts and Content-Type the docker CLI
// depends on (../shared/docker-api/SPEC.md), and bad input refused without side effects.
import net from 'node:net';
import t from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitForRunning } from './support/cluster.js';

const BLOCK = testBlock(124); // nodes 127.124.0.x, tasks 127.125/16, VIPs 127.126/16
const TASKS = new RegExp(`^127\\.${BLOCK + 1}\\.`);

t.test('engine API of a 3-node cluster', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const [manager, worker] = cluster.nodes.map((n) => n.apiUrl) as [string, string, string];

  await t.test('ping answers with the headers the CLI negotiates from', async (t) => {
    for (const method of ['HEAD', 'GET']) {
      const res = await fetch(`${manager}/_ping`, { method });
      t.equal(res.status, 200);
      t.equal(res.headers.get('api-version'), '1.50');
      t.equal(res.headers.get('ostype'), 'linux');
      t.equal(res.headers.get('swarm'), 'active/manager');
      if (method === 'GET') t.equal(await res.text(), 'OK');
    }
    const onWorker = await fetch(`${worker}/_ping`);
    t.equal(onWorker.headers.get('swarm'), 'active/worker');
  });

  await t.test('info names this node and whether it is a manager', async (t) => {
    const info = await api(manager, 'GET', '/info');
    t.equal(info.body.Swarm.NodeID, cluster.nodes[0]!.nodeId);
    t.equal(info.body.Swarm.ControlAvailable, true);
    t.equal(info.body.Swarm.LocalNodeState, 'active');
    t.same(info.body.Labels, []);
    // `docker info` prints the swarm's settings from here: without them, retention 0 and a CA expiry of "Less than a second".
    const swarm = await api(manager, 'GET', '/swarm');
    t.same(info.body.Swarm.Cluster.Spec, swarm.body.Spec, 'Swarm.Cluster.Spec is what GET /swarm has');
    t.equal(info.body.Swarm.Cluster.Spec.Orchestration.TaskHistoryRetentionLimit, 5);
    t.same({ ...info.body.Swarm.Cluster, JoinTokens: swarm.body.JoinTokens }, swarm.body, 'the rest too, but the join tokens');
    const onWorker = await api(worker, 'GET', '/info');
    t.equal(onWorker.body.Swarm.ControlAvailable, false);
    t.equal(onWorker.body.Swarm.RemoteManagers[0].Addr, `${cluster.nodes[0]!.address}:2377`);
  });

  await t.test('nodes: list, lookup by hostname and ID prefix, manager status', async (t) => {
    const nodes = await api<any[]>(manager, 'GET', '/nodes');
    t.equal(nodes.status, 200);
    t.equal(nodes.contentType, 'application/json');
    t.same(nodes.body.map((n) => n.Description.Hostname).sort(), ['node1', 'node2', 'node3']);
    const leader = nodes.body.find((n) => n.Description.Hostname === 'node1');
    t.match(leader, {
      ID: /^[0-9a-z]{25}$/,
      Version: { Index: Number },
      Spec: { Role: 'manager', Availability: 'active', Labels: {} },
      Status: { State: 'ready', Addr: cluster.nodes[0]!.address },
      ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: `${cluster.nodes[0]!.address}:2377` },
      Description: { Engine: { EngineVersion: '28.2.2' }, Platform: { OS: 'linux' } },
    });
    t.notOk(nodes.body.find((n) => n.Description.Hostname === 'node2').ManagerStatus, 'workers have no ManagerStatus');
    t.equal((await api(manager, 'GET', '/nodes/node2')).body.Description.Hostname, 'node2');
    const node3 = nodes.body.find((n) => n.Description.Hostname === 'node3');
    t.equal((await api(manager, 'GET', `/nodes/${node3.ID.slice(0, 6)}`)).body.ID, node3.ID);
    const missing = await api(manager, 'GET', '/nodes/nosuch');
    t.equal(missing.status, 404);
    t.same(missing.body, { message: 'node nosuch not found' });
  });

  await t.test('node update needs the current version and a valid spec', async (t) => {
    const { body: node } = await api(manager, 'GET', '/nodes/node2');
    const stale = await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index - 1}`, { ...node.Spec, Availability: 'pause' });
    // Docker answers 500 here; routemesh 409 on purpose: a stale version is the client's doing, and no 5xx
    // may come from input. Docker's message stays, and the docker CLI prints it whatever the status.
    t.equal(stale.status, 409);
    t.equal(stale.body.message, 'rpc error: code = Unknown desc = update out of sequence');
    for (const version of ['1e3', '0x10', '+5', ' 5', '5.0', '-1', '18446744073709551616', '']) {
      const odd = await api(manager, 'POST', `/nodes/${node.ID}/update?version=${encodeURIComponent(version)}`, node.Spec);
      t.equal(odd.status, 400, `?version=${version}: decimal digits of a uint64 only, as Docker's ParseUint`);
      t.match(odd.body.message, /^invalid version: the update needs \?version=<Version\.Index of the object you read>, in decimal digits, got/);
    }
    const bad = await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'sleep' });
    t.equal(bad.status, 400);
    t.match(bad.body.message, /availability must be active, pause or drain/);
    const noVersion = await api(manager, 'POST', `/nodes/${node.ID}/update`, node.Spec);
    t.equal(noVersion.status, 400);
    const ok = await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Labels: { zone: 'east' } });
    t.equal(ok.status, 200);
    const after = await api(manager, 'GET', '/nodes/node2');
    t.same(after.body.Spec.Labels, { zone: 'east' });
    t.ok(after.body.Version.Index > node.Version.Index);
    const { body: leader } = await api(manager, 'GET', '/nodes/node1');
    const demote = await api(manager, 'POST', `/nodes/${leader.ID}/update?version=${leader.Version.Index}`, { ...leader.Spec, Role: 'worker' });
    t.equal(demote.status, 400);
    t.equal(demote.body.message, 'rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm');
    const rm = await api(manager, 'DELETE', '/nodes/node3');
    t.equal(rm.status, 400);
    t.match(rm.body.message, /is not down and can't be removed$/);
  });

  await t.test('a worker refuses manager-only routes with Swarm\'s 503', async (t) => {
    for (const path of ['/nodes', '/services', '/tasks', '/swarm']) {
      const res = await api(worker, 'GET', path);
      t.equal(res.status, 503, path);
      t.equal(res.contentType, 'application/json');
      t.equal(res.body.message, "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.");
    }
  });

  await t.test('the swarm object carries join tokens in Swarm\'s format', async (t) => {
    const { body } = await api(manager, 'GET', '/swarm');
    t.match(body.JoinTokens.Worker, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    t.match(body.JoinTokens.Manager, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    t.not(body.JoinTokens.Worker, body.JoinTokens.Manager);
    const stale = await api(manager, 'POST', `/swarm/update?rotateWorkerToken=true&version=${body.Version.Index - 1}`, body.Spec);
    t.same([stale.status, stale.body.message], [409, 'rpc error: code = Unknown desc = update out of sequence'], 'a stale version: 409, not Docker\'s 500');
    const rotate = await api(manager, 'POST', `/swarm/update?rotateWorkerToken=true&version=${body.Version.Index}`, body.Spec);
    t.equal(rotate.status, 200);
    const after = await api(manager, 'GET', '/swarm');
    t.not(after.body.JoinTokens.Worker, body.JoinTokens.Worker);
    t.equal(after.body.JoinTokens.Manager, body.JoinTokens.Manager);
  });

  await t.test('service create, list with status, inspect with defaults, tasks with filters', async (t) => {
    const spec = serviceSpec('web', 'nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65', {
      Mode: { Replicated: {} },
      ...published(80, 9090),
    });
    const created = await api(manager, 'POST', '/services/create', spec);
    t.equal(created.status, 201);
    t.match(created.body, { ID: /^[0-9a-z]{25}$/, Warnings: null });
    await waitForRunning(manager, 'web', 1);

    const list = await api<any[]>(manager, 'GET', '/services?status=true');
    t.equal(list.body.length, 1);
    t.match(list.body[0], {
      Spec: { Name: 'web', Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: /^nginx:latest@sha256:/ } } },
      Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 9090, PublishMode: 'ingress' }], VirtualIPs: [{ Addr: new RegExp(`^127\\.${BLOCK + 2}\\.0\\.\\d+/16$`) }] },
      ServiceStatus: { RunningTasks: 1, DesiredTasks: 1 },
    });
    const inspect = await api(manager, 'GET', '/services/web?insertDefaults=true');
    t.match(inspect.body.Spec, {
      TaskTemplate: { RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 }, ContainerSpec: { StopGracePeriod: 10e9 } },
      UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, Order: 'stop-first' },
    });
    t.match(inspect.body.Endpoint.TaskEndpoints, [{ Task: /^web\.1\./, Addr: TASKS, Ports: [{ Protocol: 'tcp', TargetPort: 80, ListenPort: Number }] }],
      'inspect shows where each task really listens');
    const plain = await api(manager, 'GET', '/services/web?insertDefaults=false');
    t.notOk(plain.body.Spec.UpdateConfig, 'no defaults unless asked');

    const upToDate = encodeURIComponent(JSON.stringify({ '_up-to-date': { true: true }, service: { [created.body.ID]: true } }));
    const tasks = await api<any[]>(manager, 'GET', `/tasks?filters=${upToDate}`);
    t.equal(tasks.body.length, 1);
    t.match(tasks.body[0], {
      ID: /^[0-9a-z]{25}$/,
      Slot: 1,
      ServiceID: created.body.ID,
      DesiredState: 'running',
      Status: { State: 'running', PortStatus: {} },
      Spec: { ContainerSpec: { Image: /^nginx/ } },
      Hostname: /^[0-9a-f]{12}$/,
      Endpoint: { Addr: TASKS, Ports: [{ TargetPort: 80, ListenPort: Number }] },
    });
    t.equal(tasks.body[0].Name, `web.1.${tasks.body[0].ID}`);
    const byNode = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ node: { [tasks.body[0].NodeID]: true } }))}`);
    t.equal(byNode.body.length, 1);
    const one = await api(manager, 'GET', `/tasks/${tasks.body[0].ID}`);
    t.equal(one.body.ID, tasks.body[0].ID);
  });

  await t.test('bad service input gets a 4xx with a clear message and creates nothing', async (t) => {
    const before = (await api<any[]>(manager, 'GET', '/services')).body.length;
    const cases: [string, unknown, number, RegExp][] = [
      ['invalid JSON', '{"Name": "x",', 400, /^invalid JSON in request body/],
      ['a name that is no DNS name component', serviceSpec('my.web', 'nginx'), 400, /name must be valid as a DNS name component: 'my\.web' may use only/],
      ['replicas below zero', serviceSpec('neg', 'nginx', { Mode: { Replicated: { Replicas: -1 } } }), 400, /Replicas must be a whole number/],
      ['replicas of the wrong type', serviceSpec('str', 'nginx', { Mode: { Replicated: { Replicas: '3' } } }), 400, /Replicas must be a whole number/],
      ['no image', { Name: 'noimg', TaskTemplate: { ContainerSpec: {} } }, 400, /image reference must be provided/],
      ['a name taken', serviceSpec('web', 'nginx'), 409, /service web already exists$/],
      ['a published port taken', serviceSpec('other', 'nginx', published(80, 9090)), 400,
        /^rpc error: code = InvalidArgument desc = port '9090' is already in use by service 'web' \([0-9a-z]{25}\) as an ingress port$/],
      ['a bad constraint', serviceSpec('c', 'nginx', { TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['node.role = worker'] } } }), 400, /constraint expected one operator/],
      ['a bad filter', undefined, 400, /invalid filter/],
    ];
    for (const [what, body, status, message] of cases) {
      const res = what === 'a bad filter'
        ? await api(manager, 'GET', `/services?filters=${encodeURIComponent('{"colour":{"red":true}}')}`)
        : await api(manager, 'POST', '/services/create', body);
      t.equal(res.status, status, what);
      t.equal(res.contentType, 'application/json', `${what}: exact Content-Type`);
      t.match(res.body.message, message, what);
    }
    t.equal((await api<any[]>(manager, 'GET', '/services')).body.length, before, 'no service was half-created');
    const unknown = await api(manager, 'GET', '/services/nosuch');
    t.equal(unknown.status, 404);
    t.equal(unknown.body.message, 'service nosuch not found');
    t.equal((await api(manager, 'DELETE', '/services/nosuch')).status, 404);
    t.equal((await api(manager, 'GET', '/no/such/route')).status, 404);
  });

  await t.test('service update: versions checked, scale applied, rollback needs a previous spec', async (t) => {
    const { body: service } = await api(manager, 'GET', '/services/web');
    const noPrevious = await api(manager, 'POST', `/services/${service.ID}/update?rollback=previous&version=${service.Version.Index}`, service.Spec);
    t.equal(noPrevious.status, 400);
    t.equal(noPrevious.body.message, `rpc error: code = FailedPrecondition desc = service ${service.ID} does not have a previous spec`);
    const stale = await api(manager, 'POST', `/services/${service.ID}/update?version=1`, service.Spec);
    t.equal(stale.status, 409, 'Docker says 500; a stale version is the client\'s doing, so 409 (see node update above)');
    t.match(stale.body.message, /update out of sequence/);
    const scaled = await api(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`,
      { ...service.Spec, Mode: { Replicated: { Replicas: 3 } } });
    t.equal(scaled.status, 200);
    t.same(scaled.body, { Warnings: null });
    await waitForRunning(manager, 'web', 3);
    const after = await api(manager, 'GET', '/services/web');
    t.equal(after.body.PreviousSpec.Mode.Replicated.Replicas, 1);
    t.notOk(after.body.UpdateStatus, 'a pure scale leaves no update status behind');
  });

  await t.test('a published port another program holds is refused with the reason', async (t) => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(9191, cluster.nodes[1]!.address, resolve));
    t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const res = await api(manager, 'POST', '/services/create', serviceSpec('blocked', 'nginx', published(80, 9191)));
    t.equal(res.status, 400);
    t.match(res.body.message, `cannot publish port 9191: ${cluster.nodes[1]!.address}:9191 is already in use by another program`);
    t.equal((await api(manager, 'GET', '/services/blocked')).status, 404, 'nothing was created');
    t.equal((await api(manager, 'GET', '/_ping')).status, 200, 'the engine keeps serving');
  });
});

t.test('an engine outside a swarm', async (t) => {
  // Its own block, 127.63-65 (143-145 in the nobody re-run): BLOCK + 10 moved onto dns-e2e's and the DNS files' there.
  const cluster = await testCluster(t, testBlock(63), { nodes: 1, bare: true });
  const engine = cluster.nodes[0]!.apiUrl;
  const res = await api(engine, 'GET', '/nodes');
  t.equal(res.status, 503);
  t.equal(res.body.message, 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.');
  t.equal((await fetch(`${engine}/_ping`)).headers.get('swarm'), 'inactive');
  const init = await api(engine, 'POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377', AdvertiseAddr: cluster.nodes[0]!.address });
  t.equal(init.status, 200);
  t.match(init.body, /^[0-9a-z]{25}$/);
  t.equal((await api<any[]>(engine, 'GET', '/nodes')).body.length, 1);
  const again = await api(engine, 'POST', '/swarm/init', {});
  t.equal(again.status, 503);
  t.match(again.body.message, /already part of a swarm/);
});
