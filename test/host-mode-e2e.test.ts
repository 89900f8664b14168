// Host publish mode end to end: the port opens only on nodes that run a task, and goes to that node's
// own task; the scheduler never puts two tasks that need the port on one node; an ingress port of the
// same number is refused.
import t from 'tap';
import { api, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { connectAndWait, whoamiHost } from './support/net.js';

const BLOCK = 226; // nodes 127.226.0.x, tasks 127.227/16, VIPs 127.228/16

const hostPort = (published: number, target: number): Record<string, unknown> =>
  ({ EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: target, PublishedPort: published, PublishMode: 'host' }] } });

t.test('host publish mode', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const created = await api(manager, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 2 } }, ...hostPort(8081, 80) }));
  t.equal(created.status, 201, JSON.stringify(created.body));
  const tasks = await waitForRunning(manager, 'web', 2);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  t.not(tasks[0].NodeID, tasks[1].NodeID, 'the two tasks are on two nodes');
  t.match(tasks[0].Status.PortStatus.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }], 'each task lists its host port (service ps shows it)');

  for (const node of cluster.nodes) {
    const own = tasks.find((task) => task.NodeID === node.nodeId);
    if (own) {
      // A node opens its host port once its own view has the task running, which may be after the manager's.
      await waitFor(`${node.hostname}'s port to open`, () => whoamiHost(node.address, 8081).catch(() => undefined));
      const answers = new Set<string>();
      for (let i = 0; i < 4; i++) answers.add(await whoamiHost(node.address, 8081));
      t.same([...answers], [own.Hostname], `${node.hostname}: every connection goes to its own task`);
    } else {
      t.equal(await connectAndWait(node.address, 8081, 1000), 'refused', `${node.hostname} runs no task: the port is not open there`);
    }
  }

  // A third node is free; the fourth task has nowhere to go.
  const { body: service } = await api(manager, 'GET', '/services/web');
  await api(manager, 'POST', `/services/web/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 4 } } });
  const stuck = await waitFor('one task to stay pending', async () => {
    const { body: all } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { web: true } }))}`);
    const running = all.filter((task) => task.Status.State === 'running');
    const pending = all.filter((task) => task.Status.State === 'pending' && task.Status.Err);
    return running.length === 3 && pending.length === 1 ? { running, pending } : undefined;
  });
  t.equal(new Set(stuck.running.map((task: any) => task.NodeID)).size, 3, 'three tasks, one per node');
  t.equal(stuck.pending[0].Status.Err, 'no suitable node (host-mode port already in use on 3 nodes)', 'the fourth waits, saying why, as Swarm does');
  const third = cluster.nodes.find((node) => !tasks.some((task) => task.NodeID === node.nodeId))!;
  const newcomer = stuck.running.find((task: any) => task.NodeID === third.nodeId);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  t.equal(await waitFor(`${third.hostname}'s port to open`, () => whoamiHost(third.address, 8081).catch(() => undefined)), newcomer.Hostname,
    `${third.hostname} opened the port once its task ran, to that task`);

  const ingress = await api(manager, 'POST', '/services/create', serviceSpec('other', 'traefik/whoami', {
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'ingress' }] },
  }));
  t.equal(ingress.status, 400);
  t.match(ingress.body.message, /port '8081' is already in use by service 'web' \(\w+\) as a host port/);
});
