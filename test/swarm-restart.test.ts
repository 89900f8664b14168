// The swarm survives a power loss: `up` and every node process SIGKILLed at once, then `up` again with the
// same --data-dir finds the same swarm (IDs, tokens, services, labels, settings) and serves again; a single
// worker killed and started again with the command `up` prints comes back as itself. Nodes are processes.
// Nodes 127.246.0.x, tasks 127.247/16, VIPs 127.248/16, DNS 127.246.0.250 (upstream: nothing at .251).
import { Resolver } from 'node:dns/promises';
import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { api, published, serviceSpec, testBlock, waitFor, waitForRunning } from './support/cluster.js';
import { nodeProcesses, powerLoss, restartCommandSaid, startAsSaid, tempDataDir, upProcess } from './support/cli.js';
import { connectAndWait, httpGet, whoamiHost } from './support/net.js';

const B = testBlock(246);
const NODES = [1, 2, 3].map((i) => `127.${B}.0.${i}`);
const MANAGER = `http://${NODES[0]}:2375`;

function upArgs(dataDir: string, ...more: string[]): string[] {
  return ['--subnet', `127.${B}.0.0/24`, '--task-subnet', `127.${B + 1}.0.0/16`, '--vip-subnet', `127.${B + 2}.0.0/16`,
    '--dns', `127.${B}.0.250`, '--dns-upstream', `127.${B}.0.251`, '--metrics-port', 'off', '--data-dir', dataDir, ...more];
}

/** What a restart must keep: the swarm, its nodes and its services as the API shows them. */
async function swarmState(): Promise<{ swarm: any; nodes: Record<string, { id: string; labels: unknown }>; services: Record<string, any> }> {
  const swarm = (await api(MANAGER, 'GET', '/swarm')).body;
  const nodes = Object.fromEntries((await api<any[]>(MANAGER, 'GET', '/nodes')).body.map((n) => [n.Description.Hostname, { id: n.ID, labels: n.Spec.Labels }]));
  const services = Object.fromEntries((await api<any[]>(MANAGER, 'GET', '/services')).body
    .map((s) => [s.Spec.Name, { ID: s.ID, Version: s.Version, Spec: s.Spec, Endpoint: s.Endpoint }]));
  return { swarm: { ID: swarm.ID, JoinTokens: swarm.JoinTokens, Spec: swarm.Spec }, nodes, services };
}

/** Milliseconds from `since` to the first answer of the service on `host:port` (polled; the mesh is down before). */
async function firstAnswer(host: string, port: number, since: number): Promise<number> {
  await waitFor(`an answer on ${host}:${port}`, async () => (await httpGet(host, port).catch(() => undefined))?.status === 200, 30_000);
  return performance.now() - since;
}

t.test('power loss: up and every node SIGKILLed; up again finds the same swarm and serves; a worker restarted by itself comes back; --fresh starts over', async (t) => {
  const { root, dataDir } = tempDataDir();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const first = await upProcess(t, upArgs(dataDir, '--nodes', '3', '--demo'));

  // State beyond the demo: a second published service, a node label, a scale, a swarm setting.
  const created = await api(MANAGER, 'POST', '/services/create', serviceSpec('api', 'traefik/whoami', { Mode: { Replicated: { Replicas: 2 } }, ...published(80, 8081) }));
  t.equal(created.status, 201, JSON.stringify(created.body));
  const web = (await api(MANAGER, 'GET', '/services/my-web')).body;
  t.equal((await api(MANAGER, 'POST', `/services/${web.ID}/update?version=${web.Version.Index}`, { ...web.Spec, Mode: { Replicated: { Replicas: 4 } } })).status, 200);
  const node2 = (await api<any[]>(MANAGER, 'GET', '/nodes')).body.find((n) => n.Description.Hostname === 'node2');
  t.equal((await api(MANAGER, 'POST', `/nodes/${node2.ID}/update?version=${node2.Version.Index}`, { ...node2.Spec, Labels: { zone: 'east' } })).status, 200);
  const swarm = (await api(MANAGER, 'GET', '/swarm')).body;
  t.equal((await api(MANAGER, 'POST', `/swarm/update?version=${swarm.Version.Index}`, { ...swarm.Spec, Orchestration: { TaskHistoryRetentionLimit: 7 } })).status, 200);
  await waitForRunning(MANAGER, 'my-web', 4);
  await waitForRunning(MANAGER, 'api', 2);
  const before = await swarmState();
  t.equal(before.swarm.Spec.Orchestration.TaskHistoryRetentionLimit, 7);

  await powerLoss(first, [...(await nodeProcesses(first.child.pid!, 3)).values()]);
  t.equal(await connectAndWait(NODES[1]!, 8081, 1000), 'refused', 'nothing serves after the power loss');

  const spawned = performance.now();
  const serving = firstAnswer(NODES[1]!, 8081, spawned);
  const second = await upProcess(t, upArgs(dataDir, '--nodes', '3', '--demo'));
  t.comment(`restart to serving (3 node processes, 2 services, 6 tasks): ${Math.round(await serving)} ms; to up's table: ${Math.round(performance.now() - spawned)} ms`);
  t.match(second.stdout(), new RegExp(`^HOSTNAME +ROLE.*\nnode1 +manager .*\nnode2 +worker .*\nnode3 +worker `), 'the table once every node is back in the swarm');
  t.match(second.stdout(), /Service my-web: traefik\/whoami, 4 replicas, /, 'the demo is the one there, scaled to 4, not created again');
  t.notMatch(second.stderr(), /only \d+ of \d+ tasks|service my-web created/);

  const after = await swarmState();
  t.same(after.swarm, before.swarm, 'the same swarm ID, join tokens and settings');
  t.same(after.nodes, before.nodes, 'the same node IDs, and node2 keeps its label');
  t.same(after.services, before.services, 'the same services: IDs, versions, specs, published ports, VIPs');
  const tasks = { 'my-web': await waitForRunning(MANAGER, 'my-web', 4), api: await waitForRunning(MANAGER, 'api', 2) };
  for (const address of NODES) {
    t.match(await whoamiHost(address, 8080), /\S/, `my-web answers through ${address}:8080`);
    t.match(await whoamiHost(address, 8081), /\S/, `api answers through ${address}:8081`);
  }
  const dnsPort = Number(/\nDNS: [\d.]+:(\d+) answers/.exec(second.stdout())![1]);
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([`127.${B}.0.250:${dnsPort}`]);
  t.same(await resolver.resolve4('api'), [before.services.api.Endpoint.VirtualIPs[0].Addr.split('/')[0]], 'the DNS name answers with the same VIP');
  t.same((await resolver.resolve4('tasks.my-web')).sort(), tasks['my-web'].map((task) => task.NetworksAttachments[0].Addresses[0].split('/')[0]).sort(), 'tasks.my-web names its running tasks');

  // One worker killed and started again with the command up prints: the same node, its tasks run again.
  const node3 = (await nodeProcesses(second.child.pid!, 3)).get('node3')!;
  const node3Id = before.nodes.node3!.id;
  const onNode3 = [...tasks['my-web'], ...tasks.api].filter((task) => task.NodeID === node3Id);
  t.ok(onNode3.length > 0, 'node3 runs tasks');
  const taskEndpoint = (task: any): [string, number] => [task.Endpoint.Addr, task.Endpoint.Ports?.[0]?.ListenPort ?? 80];
  process.kill(node3, 'SIGKILL');
  const command = await restartCommandSaid(second, 'node3', node3);
  for (const task of onNode3) t.equal(await connectAndWait(...taskEndpoint(task), 500), 'refused', `its task ${task.ID} died with it`);
  const restarted = startAsSaid(t, command);
  const info = await waitFor('node3 back in its swarm', async () => {
    const swarmInfo = (await api(`http://${NODES[2]}:2375`, 'GET', '/info').catch(() => undefined))?.body?.Swarm;
    return swarmInfo?.LocalNodeState === 'active' ? swarmInfo : undefined;
  });
  t.equal(info.NodeID, node3Id, 'node3 comes back with its node ID');
  for (const task of onNode3) {
    await waitFor(`task ${task.ID} serving again`, async () => (await httpGet(...taskEndpoint(task)).catch(() => undefined))?.status === 200);
  }
  t.pass(`node3's ${onNode3.length} tasks serve again`);
  t.match(await whoamiHost(NODES[2]!, 8081), /\S/, 'and its mesh answers');
  restarted.kill('SIGTERM');

  second.child.kill('SIGTERM');
  t.same(await second.exited, [0, null]);
  const fresh = await upProcess(t, upArgs(dataDir, '--nodes', '1', '--fresh'));
  t.not((await api(MANAGER, 'GET', '/swarm')).body.ID, before.swarm.ID, '--fresh: a new swarm');
  t.same((await api(MANAGER, 'GET', '/services')).body, [], 'without the old services');

  // What the API answered as done survives a crash right after the answer, even while the journal is busy
  // writing the tasks of a large service.
  const freshNodes = [...(await nodeProcesses(fresh.child.pid!, 1)).values()];
  const burst = (await api(MANAGER, 'POST', '/services/create', serviceSpec('burst', 'traefik/whoami', { Mode: { Replicated: { Replicas: 100 } } }))).body.ID;
  const spec = (await api(MANAGER, 'GET', `/services/${burst}`)).body;
  t.equal((await api(MANAGER, 'POST', `/services/${burst}/update?version=${spec.Version.Index}`, { ...spec.Spec, Labels: { acked: 'yes' } })).status, 200);
  await powerLoss(fresh, freshNodes);
  await upProcess(t, upArgs(dataDir, '--nodes', '1'));
  t.same((await api(MANAGER, 'GET', `/services/${burst}`)).body.Spec?.Labels, { acked: 'yes' }, 'the service, and the update answered just before the crash, are there');
});
