// Networks through the real docker CLI: `network create -d overlay` (as the seeds write it), `ls` with
// Docker's filters, `inspect` (the subnet as given, and the loopback block it maps onto), `rm` refused
// while a service is on the network, and what a subnet the network pool cannot hold gets.
import t from 'tap';
import { api, testCluster } from './support/cluster.js';
import { docker } from './support/cli.js';
import { requireTool } from './support/tools.js';

const BLOCK = 174; // nodes 127.174.0.x, tasks 127.174.32/19, VIPs 127.174.64/19, networks 127.174.128/17
const POOL = '127.174.128.0/17';

t.test('network create, ls, inspect and rm through the docker CLI', async (t) => {
  requireTool(t, 'docker', 'docker-ce-cli');
  const cluster = await testCluster(t, BLOCK, { nodes: 2, taskSubnet: '127.174.32.0/19', vipSubnet: '127.174.64.0/19', networkPool: POOL });
  const node1 = cluster.nodes[0]!.address;

  const created = await docker(node1, 'network', 'create', '--subnet', '159.0.0.0/24', '-d', 'overlay', 'mynet');
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout.trim(), /^[0-9a-z]{25}$/, 'prints the network ID');
  const other = await docker(node1, 'network', 'create', '-d', 'overlay', '--attachable', '--label', 'team=blue', 'backend');
  t.equal(other.code, 0, other.stderr);

  const again = await docker(node1, 'network', 'create', '-d', 'overlay', 'mynet');
  t.equal(again.code, 1);
  t.match(again.stderr, 'Error response from daemon: network with name mynet already exists');

  const ls = await docker(node1, 'network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
  t.equal(ls.code, 0, ls.stderr);
  t.strictSame(ls.stdout.trim().split('\n').sort(), ['backend overlay swarm', 'bridge bridge local', 'host host local', 'ingress overlay swarm', 'mynet overlay swarm', 'none null local'],
    "the swarm's networks beside Docker's local bridge, host and none");
  const byLabel = await docker(node1, 'network', 'ls', '--filter', 'label=team=blue', '--format', '{{.Name}}');
  t.equal(byLabel.stdout.trim(), 'backend', 'label filter');
  const byName = await docker(node1, 'network', 'ls', '--filter', 'name=net', '--format', '{{.Name}}');
  t.equal(byName.stdout.trim(), 'mynet', 'name filter matches within the name');
  const custom = await docker(node1, 'network', 'ls', '--filter', 'type=custom', '--filter', 'driver=overlay', '-q');
  t.equal(custom.stdout.trim().split('\n').length, 3, 'type and driver filters');
  const builtin = await docker(node1, 'network', 'ls', '--filter', 'type=builtin', '--format', '{{.Name}}');
  t.strictSame(builtin.stdout.trim().split('\n').sort(), ['bridge', 'host', 'none']);
  const local = await docker(node1, 'network', 'ls', '--filter', 'scope=local', '--format', '{{.Name}}');
  t.strictSame(local.stdout.trim().split('\n').sort(), ['bridge', 'host', 'none']);

  const inspect = await docker(node1, 'network', 'inspect', 'mynet');
  t.equal(inspect.code, 0, inspect.stderr);
  const [shown] = JSON.parse(inspect.stdout);
  t.equal(shown.Name, 'mynet');
  t.equal(shown.Driver, 'overlay');
  t.equal(shown.Scope, 'swarm');
  t.strictSame(shown.IPAM.Config, [{ Subnet: '159.0.0.0/24', Gateway: '159.0.0.1' }], 'the subnet as given');
  t.equal(shown.IPAM.Options['routemesh.loopback-subnet'], '127.174.128.0/24', 'the loopback block it maps onto');
  const backend = JSON.parse((await docker(node1, 'network', 'inspect', 'backend')).stdout)[0];
  t.strictSame(backend.IPAM.Config, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }], "Swarm's default pool when no subnet is given");
  t.equal(backend.IPAM.Options['routemesh.loopback-subnet'], '127.174.129.0/24');
  t.equal(backend.Attachable, true);
  t.strictSame(backend.Labels, { team: 'blue' });

  // The second node is a worker: its manager answers for it.
  const service = await docker(node1, 'service', 'create', '-d', '--name', 'web', '--network', 'mynet', 'nginx');
  t.equal(service.code, 0, service.stderr);
  const refused = await docker(node1, 'network', 'rm', 'mynet');
  t.equal(refused.code, 1);
  t.match(refused.stderr, new RegExp(`Error response from daemon: rpc error: code = FailedPrecondition desc = network ${shown.Id} is in use by service [0-9a-z]{25}`));
  t.equal((await docker(node1, 'service', 'rm', 'web')).code, 0);

  const removed = await docker(node1, 'network', 'rm', 'backend');
  t.equal(removed.code, 0, removed.stderr);
  t.equal(removed.stdout.trim(), 'backend');
  const missing = await docker(node1, 'network', 'inspect', 'backend');
  t.equal(missing.code, 1);
  t.match(missing.stderr, 'network backend not found');

  // The freed block is handed out again.
  const reused = await api(cluster.nodes[0]!.apiUrl, 'POST', '/networks/create', { Name: 'again', Driver: 'overlay' });
  t.equal(reused.status, 201);
  t.equal((await api(cluster.nodes[0]!.apiUrl, 'GET', '/networks/again')).body.LoopbackSubnet, '127.174.129.0/24');
});

t.test('what the network pool cannot hold is refused, saying what to do', async (t) => {
  requireTool(t, 'docker', 'docker-ce-cli');
  const cluster = await testCluster(t, BLOCK, { nodes: 1, taskSubnet: '127.174.32.0/19', vipSubnet: '127.174.64.0/19', networkPool: POOL });
  const node1 = cluster.nodes[0]!.address;
  const large = await docker(node1, 'network', 'create', '-d', 'overlay', '--subnet', '10.8.0.0/16', 'large');
  t.equal(large.code, 1);
  t.match(large.stderr, "subnet 10.8.0.0/16 is larger than routemesh's network pool 127.174.128.0/17");
  t.match(large.stderr, '--network-pool');
  const bad = await docker(node1, 'network', 'create', '-d', 'overlay', '--subnet', '10.8.0.1/24', 'bad');
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'host bits set; did you mean 10.8.0.0/24?');
  const first = await docker(node1, 'network', 'create', '-d', 'overlay', '--subnet', '10.9.0.0/24', 'first');
  t.equal(first.code, 0, first.stderr);
  const overlap = await docker(node1, 'network', 'create', '-d', 'overlay', '--subnet', '10.9.0.128/25', 'overlap');
  t.equal(overlap.code, 1);
  t.match(overlap.stderr, 'Pool overlaps with other one on this address space');
  const plugin = await docker(node1, 'network', 'create', '-d', 'macvlan', 'mac');
  t.equal(plugin.code, 1);
  t.match(plugin.stderr, 'plugin "macvlan" not found');
  // The docker CLI asks for a confirmation on a terminal before it removes ingress: asked through the API.
  const ingress = await api(cluster.nodes[0]!.apiUrl, 'DELETE', '/networks/ingress');
  t.equal(ingress.status, 400);
  t.match(ingress.body.message, 'it cannot be removed');
  t.strictSame((await api(cluster.nodes[0]!.apiUrl, 'GET', '/networks?filters={"driver":{"overlay":true}}')).body.map((n: any) => n.Name).sort(), ['first', 'ingress'], 'nothing half-written');
});
