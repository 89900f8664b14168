// The embedded DNS server of a real cluster, asked as a client would: service names give VIPs,
// tasks.<name> follows the pool through scaling, updates, drain, node failure and removal, and a VIP
// balances like a published port.
import { Resolver } from 'node:dns/promises';
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { whoamiHost } from './support/net.js';

const BLOCK = testBlock(117); // nodes 127.117.0.x, tasks 127.118/16, VIPs 127.119/16, DNS 127.117.0.250
const HOLDER_BLOCK = testBlock(55); // the same from 127.55.0.x (its unprivileged re-run, +80, takes 135-137: nobody else's)

/** Answers for task names may be cached for their TTL (Node's resolver does): a TTL of 0 lets us watch them move. */
const NO_CACHE = { dnsTaskTtl: 0, heartbeatPeriodMs: 100 };

function resolverFor(address: string, port: number): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`${address}:${port}`]);
  return resolver;
}

async function addresses(resolver: Resolver, name: string): Promise<string[]> {
  return (await resolver.resolve4(name)).sort();
}

/** The addresses the pool serves from: running tasks that are to keep running (the API's view). */
async function serving(manager: string, service: string): Promise<{ addresses: string[]; stopping: Set<string> }> {
  const { body: tasks } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`);
  const running = tasks.filter((task) => task.Status.State === 'running');
  return {
    addresses: running.filter((task) => task.DesiredState === 'running').map((task) => task.Endpoint.Addr).sort(),
    stopping: new Set(running.filter((task) => task.DesiredState !== 'running').map((task) => task.Endpoint.Addr)),
  };
}

async function followsPool(t: Test, resolver: Resolver, manager: string, service: string, count: number): Promise<void> {
  const running = await waitForRunning(manager, service, count);
  const expected = running.map((task) => task.Endpoint.Addr).sort();
  const answer = await waitFor(`tasks.${service} to list the ${count} running tasks`, async () => {
    const got = await addresses(resolver, `tasks.${service}`);
    return JSON.stringify(got) === JSON.stringify(expected) ? got : undefined;
  });
  t.same(answer, expected, `tasks.${service}: exactly the ${count} running tasks`);
}

t.test('names, VIPs and tasks.<name> through the life of a service', async (t) => {
  const cluster = await testCluster(t, BLOCK, NO_CACHE);
  const manager = cluster.nodes[0]!.apiUrl;
  const resolver = resolverFor(cluster.dnsServer.address, cluster.dnsServer.port);

  await api(manager, 'POST', '/services/create', serviceSpec('my-web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } }, ...published(80, 8080) }));
  await followsPool(t, resolver, manager, 'my-web', 3);
  const { body: service } = await api(manager, 'GET', '/services/my-web');
  const vip = service.Endpoint.VirtualIPs[0].Addr.split('/')[0];
  t.match(service.Endpoint.VirtualIPs[0], { NetworkID: /\w+/, Addr: new RegExp(`^127\\.${BLOCK + 2}\\.\\d+\\.\\d+/16$`) }, 'Endpoint.VirtualIPs as the docker CLI reads it');
  t.same(await addresses(resolver, 'my-web'), [vip], 'the service name is its VIP');
  t.same(await addresses(resolver, 'MY-WEB'), [vip], 'names are case-insensitive');

  await t.test('the VIP balances over the tasks, like a published port', async (t) => {
    const endpoint = await waitFor('the VIP listener', () => cluster.vipEndpoint(vip, 80));
    const [host, port] = endpoint.split(':');
    const seen = new Map<string, number>();
    for (let i = 0; i < 9; i++) {
      const name = await whoamiHost(host!, Number(port));
      seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    t.same([...seen.values()], [3, 3, 3], 'round robin: each of the 3 tasks answers 3 of 9');
  });

  await t.test('container names and PTR records', async (t) => {
    const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: { 'my-web': true }, 'desired-state': { running: true } })));
    const task = tasks[0]!;
    t.same(await addresses(resolver, task.Name), [task.Endpoint.Addr], `${task.Name} is its task's address`);
    t.same(await resolver.reverse(task.Endpoint.Addr), [task.Name], 'a task address names its task');
    t.same(await resolver.reverse(vip), ['my-web'], 'a VIP names its service');
    const srv = await resolver.resolveSrv('_80._tcp.my-web');
    t.same(srv.map((r) => r.name).sort(), tasks.map((task) => task.Name).sort(), 'one SRV record per task');
  });

  await t.test('scaling up and down: tasks.<name> follows, and a stopping task leaves DNS before it stops', async (t) => {
    await api(manager, 'POST', `/services/my-web/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 5 } } });
    await followsPool(t, resolver, manager, 'my-web', 5);
    const { body: scaled } = await api(manager, 'GET', '/services/my-web');
    await api(manager, 'POST', `/services/my-web/update?version=${scaled.Version.Index}`, { ...scaled.Spec, Mode: { Replicated: { Replicas: 2 } } });
    // Sample while the 3 tasks are fenced, then stopped: a task told to stop before the question is never in the answer.
    const named: string[] = [];
    let samplesWhileStopping = 0;
    for (;;) {
      const before = await serving(manager, 'my-web');
      const answer = await addresses(resolver, 'tasks.my-web');
      named.push(...answer.filter((address) => before.stopping.has(address)));
      if (before.stopping.size) samplesWhileStopping++;
      if (!before.stopping.size && before.addresses.length === 2) break;
    }
    t.same(named, [], 'no task already asked to stop was named');
    t.ok(samplesWhileStopping > 0, `the check ran while tasks were being stopped (${samplesWhileStopping} samples)`);
    await followsPool(t, resolver, manager, 'my-web', 2);
  });

  await t.test('a rolling update: the new tasks replace the old ones in DNS', async (t) => {
    const { body: current } = await api(manager, 'GET', '/services/my-web');
    const old = new Set((await serving(manager, 'my-web')).addresses);
    const spec = structuredClone(current.Spec);
    spec.TaskTemplate.ForceUpdate = 1;
    spec.UpdateConfig = { Parallelism: 1, Delay: 0, Order: 'start-first', Monitor: 0 };
    await api(manager, 'POST', `/services/my-web/update?version=${current.Version.Index}`, spec);
    await waitFor('the update to finish', async () => (await api(manager, 'GET', '/services/my-web')).body.UpdateStatus?.State === 'completed');
    await followsPool(t, resolver, manager, 'my-web', 2);
    const now = await addresses(resolver, 'tasks.my-web');
    t.notOk(now.some((address) => old.has(address)), 'no address of a replaced task is left');
  });

  await t.test('drain: the drained node\'s tasks leave DNS', async (t) => {
    const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: { 'my-web': true }, 'desired-state': { running: true } })));
    const nodeId = tasks[0]!.NodeID;
    const { body: node } = await api(manager, 'GET', `/nodes/${nodeId}`);
    await api(manager, 'POST', `/nodes/${nodeId}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' });
    await followsPool(t, resolver, manager, 'my-web', 2);
    const { body: after } = await api<any[]>(manager, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: { 'my-web': true }, 'desired-state': { running: true } })));
    t.notOk(after.some((task) => task.NodeID === nodeId), 'nothing runs on the drained node');
    const { body: drained } = await api(manager, 'GET', `/nodes/${nodeId}`);
    await api(manager, 'POST', `/nodes/${nodeId}/update?version=${drained.Version.Index}`, { ...drained.Spec, Availability: 'active' });
  });

  await t.test('node failure: once the node is Down its tasks leave DNS', async (t) => {
    const { body: tasks } = await api<any[]>(manager, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: { 'my-web': true }, 'desired-state': { running: true } })));
    const victim = cluster.nodes.find((n) => n.role === 'worker' && tasks.some((task) => task.NodeID === n.nodeId));
    t.ok(victim, 'a worker runs a task');
    const lost = tasks.filter((task) => task.NodeID === victim!.nodeId).map((task) => task.Endpoint.Addr);
    await cluster.engine(victim!.hostname)!.fail();
    await waitFor(`${victim!.hostname} to be Down`, async () => (await api(manager, 'GET', `/nodes/${victim!.nodeId}`)).body.Status.State === 'down');
    await followsPool(t, resolver, manager, 'my-web', 2);
    const now = await addresses(resolver, 'tasks.my-web');
    t.notOk(now.some((address) => lost.includes(address)), 'no address of a task on the failed node');
    await cluster.engine(victim!.hostname)!.recover();
  });

  await t.test('dnsrr: the name resolves to the tasks, and there is no VIP', async (t) => {
    const created = await api(manager, 'POST', '/services/create', serviceSpec('db', 'routemesh/echo', { Mode: { Replicated: { Replicas: 3 } }, EndpointSpec: { Mode: 'dnsrr' } }));
    t.equal(created.status, 201);
    await followsPool(t, resolver, manager, 'db', 3);
    t.same(await addresses(resolver, 'db'), await addresses(resolver, 'tasks.db'), 'db is its tasks');
    const { body: service } = await api(manager, 'GET', '/services/db');
    t.notOk(service.Endpoint.VirtualIPs?.length, 'no VIP');

    const refused = await api(manager, 'POST', '/services/create', serviceSpec('db2', 'routemesh/echo', { EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 7, PublishedPort: 7007, PublishMode: 'ingress' }] } }));
    t.equal(refused.status, 400);
    t.match(refused.body.message, /port published with ingress mode can't be used with dnsrr mode/);
  });

  await t.test('removal: the names go, and are no longer ours', async (t) => {
    await api(manager, 'DELETE', '/services/my-web');
    await waitFor('my-web to leave DNS', () => resolver.resolve4('my-web').then(() => undefined, (error) => error.code));
    // With no upstream configured, a name we do not own gets SERVFAIL (NXDOMAIN would mean we still own it).
    await t.rejects(resolver.resolve4('my-web'), { code: 'ESERVFAIL' });
    await t.rejects(resolver.resolve4('tasks.my-web'), { code: 'ESERVFAIL' });
    await t.rejects(resolver.reverse(vip), { code: 'ENOTFOUND' }, 'the VIP block is ours: its free addresses are NXDOMAIN');
  });
});

t.test('the node holding the VIPs fails: the next one takes the VIPs and the names over at once', async (t) => {
  // Heartbeats every 2 s: the managers see node1 Down only after 6 s; the takeover must not wait for that.
  // node1 started first, so it holds the VIPs; node2 leads the swarm, which node1 and node3 join.
  const cluster = await testCluster(t, HOLDER_BLOCK, { ...NO_CACHE, bare: true, heartbeatPeriodMs: 2000 });
  const manager = cluster.nodes[1]!.apiUrl;
  await api(manager, 'POST', '/swarm/init', {});
  const { body: swarm } = await api(manager, 'GET', '/swarm');
  for (const node of [cluster.nodes[0]!, cluster.nodes[2]!]) {
    await api(node.apiUrl, 'POST', '/swarm/join', { RemoteAddrs: [`${cluster.nodes[1]!.address}:2377`], JoinToken: swarm.JoinTokens.Worker });
  }
  const resolver = resolverFor(cluster.dnsServer.address, cluster.dnsServer.port);
  await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } } }));
  await followsPool(t, resolver, manager, 'web', 3);
  const [vip] = await resolver.resolve4('web');
  t.match(await cluster.vipEndpoint(vip!, 80), /:\d+$/, 'node1 holds the VIP');

  // web publishes no port: its VIP port is known from its tasks, and stays through a scale to 0.
  const scale = async (replicas: number): Promise<void> => {
    const { body: current } = await api(manager, 'GET', '/services/web');
    await api(manager, 'POST', `/services/web/update?version=${current.Version.Index}`, { ...current.Spec, Mode: { Replicated: { Replicas: replicas } } });
  };
  await scale(0);
  await waitFor('no task of web to run', async () => (await serving(manager, 'web')).addresses.length === 0 && (await serving(manager, 'web')).stopping.size === 0);
  await t.rejects(resolver.resolve4('tasks.web'), { code: 'ENODATA' }, 'scaled to 0: tasks.web has no address, and is still ours');
  await t.rejects(resolver.resolveSrv('_80._tcp.web'), { code: 'ENODATA' }, 'and its SRV name is still there, empty');
  t.match(await cluster.vipEndpoint(vip!, 80), /:\d+$/, 'the VIP port stays open');
  await scale(3);
  await followsPool(t, resolver, manager, 'web', 3);

  const node1Id = cluster.engine('node1')!.nodeId()!;
  await cluster.engine('node1')!.fail();
  const endpoint = await waitFor('another node to hold the VIP', () => cluster.vipEndpoint(vip!, 80));
  const [host, port] = endpoint.split(':');
  t.match(await whoamiHost(host!, Number(port)), /^[0-9a-f]{12}$/, 'the VIP answers again');
  // A new service, kept off node1, which the managers still count as Ready: the new holder publishes its names.
  await api(manager, 'POST', '/services/create', serviceSpec('api', 'traefik/whoami', { TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' }, Placement: { Constraints: ['node.hostname!=node1'] } } }));
  await followsPool(t, resolver, manager, 'api', 1);
  const { body: node1 } = await api(manager, 'GET', `/nodes/${node1Id}`);
  t.equal(node1.Status.State, 'ready', 'all this while the managers still saw node1 Ready');
});
