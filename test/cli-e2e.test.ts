// The routemesh command as a child process against a real cluster: the commands of the README, their
// tables and messages, and the state they leave (checked through the API and through the mesh).
import { Resolver } from 'node:dns/promises';
import t from 'tap';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';
import { cliEnv, routemesh, upProcess } from './support/cli.js';
import { connectAndWait, whoamiHost, httpGet } from './support/net.js';

const BLOCK = testBlock(160); // nodes 127.160.0.x, tasks 127.161/16, VIPs 127.162/16

t.test('routemesh verbs against a 3-node cluster', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const env = cliEnv(`tcp://${cluster.nodes[0]!.address}:2375`);

  await t.test('node ls', async (t) => {
    const { code, stdout } = await routemesh(['node', 'ls'], env);
    t.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    t.match(lines[0], /^ID {28}HOSTNAME {3}STATUS {4}AVAILABILITY {3}MANAGER STATUS {3}ENGINE VERSION$/);
    t.match(lines[1], new RegExp(`^${cluster.nodes[0]!.nodeId} \\* +node1 +Ready +Active +Leader +28\\.2\\.2$`));
    t.match(lines[2], /node2 +Ready +Active +28\.2\.2$/);
    t.equal(lines.length, 4);
  });

  await t.test('service create waits for convergence and the service answers on every node', async (t) => {
    const { code, stdout } = await routemesh(['service', 'create', '--name', 'web', '--publish', 'published=9090,target=80', '--replicas', '2', 'traefik/whoami'], env);
    t.equal(code, 0, stdout);
    const [id] = stdout.split('\n');
    t.match(id, /^[0-9a-z]{25}$/);
    t.match(stdout, /overall progress: 2 out of 2 tasks/);
    t.match(stdout, new RegExp(`verify: Service ${id} converged`));
    for (const node of cluster.nodes) t.match(await whoamiHost(node.address, 9090), /^[0-9a-f]{12}$/);
  });

  await t.test('service ls and scale', async (t) => {
    const scale = await routemesh(['service', 'scale', 'web=6'], env);
    t.equal(scale.code, 0);
    t.match(scale.stdout, /^web scaled to 6\n/);
    t.match(scale.stdout, /overall progress: 6 out of 6 tasks/);
    t.match(scale.stdout, /verify: Service web converged/);
    const ls = await routemesh(['service', 'ls'], env);
    t.match(ls.stdout, /^ID +NAME +MODE +REPLICAS +IMAGE +PORTS\n[0-9a-z]{12} +web +replicated +6\/6 +traefik\/whoami:latest +\*:9090->80\/tcp\n$/);
  });

  await t.test('service ps shows six running tasks spread over the nodes', async (t) => {
    const { code, stdout } = await routemesh(['service', 'ps', 'web'], env);
    t.equal(code, 0);
    const rows = stdout.trimEnd().split('\n').slice(1);
    t.equal(rows.length, 6);
    for (const node of ['node1', 'node2', 'node3']) t.equal(rows.filter((r) => r.includes(` ${node} `)).length, 2, node);
    t.ok(rows.every((r) => /web\.\d +traefik\/whoami:latest +node\d +Running +Running /.test(r)));
  });

  await t.test('drain moves a node\'s tasks elsewhere; the node still routes', async (t) => {
    const { code, stdout } = await routemesh(['node', 'update', '--availability', 'drain', 'node2'], env);
    t.equal(code, 0);
    t.equal(stdout, 'node2\n');
    await waitFor('no task running on node2', async () => {
      const { body } = await api<any[]>(manager, 'GET', '/tasks');
      const running = body.filter((task) => task.DesiredState === 'running' && task.Status.State === 'running');
      return running.length === 6 && !running.some((task) => task.NodeID === cluster.nodes[1]!.nodeId);
    });
    const ls = await routemesh(['node', 'ls'], env);
    t.match(ls.stdout, /node2 +Ready +Drain/);
    t.equal((await httpGet(cluster.nodes[1]!.address, 9090)).status, 200);
  });

  await t.test('service inspect and rm', async (t) => {
    const inspect = await routemesh(['service', 'inspect', 'web'], env);
    t.equal(inspect.code, 0);
    const [service] = JSON.parse(inspect.stdout);
    t.equal(service.Spec.Name, 'web');
    t.equal(service.Spec.UpdateConfig.Order, 'stop-first', 'inspect shows Swarm\'s defaults');
    const rm = await routemesh(['service', 'rm', 'web'], env);
    t.equal(rm.code, 0);
    t.equal(rm.stdout, 'web\n');
    t.equal(await connectAndWait(cluster.nodes[0]!.address, 9090, 2000), 'refused', 'the published port is closed');
    const ps = await routemesh(['service', 'ps', 'web'], env);
    t.equal(ps.code, 1);
    t.equal(ps.stderr, 'no such service: web\n');
  });

  await t.test('refusals use Swarm\'s words and exit 1', async (t) => {
    await routemesh(['service', 'create', '-d', '--name', 'a', '--publish', 'published=9191,target=80', 'nginx'], env);
    const taken = await routemesh(['service', 'create', '-d', '--name', 'b', '--publish', 'published=9191,target=80', 'nginx'], env);
    t.equal(taken.code, 1);
    t.match(taken.stderr, /^Error response from daemon: rpc error: code = InvalidArgument desc = port '9191' is already in use by service 'a' \([0-9a-z]{25}\) as an ingress port\n$/);
    const unknown = await routemesh(['service', 'scale', 'nosuch=2'], env);
    t.equal(unknown.code, 1);
    t.match(unknown.stderr, /nosuch: Error response from daemon: service nosuch not found/);
    const badFlag = await routemesh(['service', 'create', '--replicas', 'many', 'nginx'], env);
    t.equal(badFlag.code, 2);
    t.match(badFlag.stderr, /many/);
    const worker = await routemesh(['node', 'ls'], cliEnv(`tcp://${cluster.nodes[2]!.address}:2375`));
    t.equal(worker.code, 1);
    t.match(worker.stderr, /Worker nodes can't be used to view or modify cluster state/);
  });
});

t.test('routemesh up: a demo cluster in the foreground, stopped by Ctrl-C with exit 0', async (t) => {
  const [nodes, tasks, vips] = [BLOCK + 3, BLOCK + 4, BLOCK + 5]; // 127.163.0.x, 127.164/16, 127.165/16
  const node2 = `127.${nodes}.0.2`;
  // In one process: a swarm of node processes needs the cluster protocol (node start's own tests run them).
  const up = await upProcess(t, ['--in-process', '--nodes', '2', '--demo', '--subnet', `127.${nodes}.0.0/24`, '--task-subnet', `127.${tasks}.0.0/16`, '--vip-subnet', `127.${vips}.0.0/16`, '--dns', `127.${nodes}.0.250`, '--dns-upstream', `127.${nodes}.0.251`]);
  const stdout = up.stdout();
  const node1 = `127\\.${nodes}\\.0\\.1`;
  t.match(stdout, new RegExp(`^HOSTNAME +ROLE +ADDRESS +ENGINE API\nnode1 +manager +${node1} +tcp://${node1}:2375\nnode2 +worker +127\\.${nodes}\\.0\\.2`));
  t.match(stdout, `curl http://${node2}:8080/`);
  const hosts = new Set<string>();
  for (let i = 0; i < 6; i++) hosts.add(await whoamiHost(node2, 8080));
  t.equal(hosts.size, 6, 'the demo service answers with six tasks');

  // What the printed lines promise: the DNS server names the VIP and the tasks, and the VIP answers.
  const dns = new RegExp(`\nDNS: (127\\.${nodes}\\.0\\.250):(\\d+) answers for services and tasks; other names go to 127\\.${nodes}\\.0\\.251:53\n`).exec(stdout);
  t.ok(dns, 'says where DNS answers');
  const resolver = new Resolver();
  resolver.setServers([`${dns![1]}:${dns![2]}`]);
  const [vip] = await resolver.resolve4('my-web');
  t.match(vip, new RegExp(`^127\\.${vips}\\.`), 'my-web is its VIP');
  t.match(stdout, new RegExp(`dig @127\\.${nodes}\\.0\\.250${dns![2] === '53' ? '' : ` -p ${dns![2]}`} tasks\\.my-web \\+short`));
  t.equal((await resolver.resolve4('tasks.my-web')).length, 6, 'tasks.my-web: six addresses');
  const vipLine = new RegExp(`curl http://(${vip!.replace(/\./g, '\\.')}(?::\\d+)?)/ +# the service's VIP`).exec(stdout);
  t.ok(vipLine, 'says how to reach the VIP');
  const [vipHost, vipPort] = vipLine![1]!.split(':');
  t.ok(hosts.has(await whoamiHost(vipHost!, Number(vipPort ?? 80))), 'the VIP reaches a task of the service');
  up.child.kill('SIGINT');
  t.same(await up.exited, [0, null]);
  t.equal(await connectAndWait(node2, 8080, 2000), 'refused', 'every listener is closed');
});

t.test('routemesh up stops on SIGTERM too, with exit 0', async (t) => {
  const nodes = BLOCK + 6; // 127.166.0.x, tasks 127.167/16, VIPs 127.168/16
  // Its node as a process of its own: SIGTERM stops it too.
  const { child, exited } = await upProcess(t, ['--nodes', '1', '--subnet', `127.${nodes}.0.0/24`, '--task-subnet', `127.${nodes + 1}.0.0/16`, '--vip-subnet', `127.${nodes + 2}.0.0/16`, '--dns', `127.${nodes}.0.250`, '--dns-upstream', `127.${nodes}.0.251`]);
  child.kill('SIGTERM');
  t.same(await exited, [0, null]);
  t.equal(await connectAndWait(`127.${nodes}.0.1`, 2375, 2000), 'refused', 'the engine API is closed');
});
