// Bridge networks and standalone containers' places on networks: `docker network create -d bridge` makes a
// network of the node it is asked of (a worker too), listed there beside Docker's bridge, host and none;
// a container's address on an attachable overlay or a bridge network comes from the leader (ContainerNetworking),
// is named in DNS for the tasks on that network, keeps the network from being removed, and is released on detach.
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { docker } from './support/cli.js';
import { dig } from './support/dns.js';
import { requireTool } from './support/tools.js';

const BLOCK = 209; // nodes 127.209.0.x, tasks 127.209.32/19, VIPs 127.209.64/19, networks 127.209.128/17
const OPTIONS = { taskSubnet: '127.209.32.0/19', vipSubnet: '127.209.64.0/19', networkPool: '127.209.128.0/17' };

t.test('bridge networks are the node\'s own; containers get their addresses from the leader', async (t) => {
  requireTool(t, 'docker', 'docker-ce-cli');
  const cluster = await testCluster(t, BLOCK, { nodes: 2, ...OPTIONS });
  const [node1, node2] = cluster.nodes.map((n) => n.address) as [string, string];
  const base = cluster.nodes[0]!.apiUrl;

  const bridge = await docker(node2, 'network', 'create', '-d', 'bridge', 'mybr');
  t.equal(bridge.code, 0, `a worker creates its own bridge network: ${bridge.stderr}`);
  const onWorker = await docker(node2, 'network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
  t.equal(onWorker.code, 0, onWorker.stderr);
  t.strictSame(onWorker.stdout.trim().split('\n').sort(), ['bridge bridge local', 'host host local', 'mybr bridge local', 'none null local']);
  const onManager = await docker(node1, 'network', 'ls', '--format', '{{.Name}}');
  t.strictSame(onManager.stdout.trim().split('\n').sort(), ['bridge', 'host', 'ingress', 'none'], "another node's bridge network is not listed");
  const same = await docker(node1, 'network', 'create', '-d', 'bridge', 'mybr');
  t.equal(same.code, 0, 'another node may have a bridge network of the same name');

  t.equal((await docker(node1, 'network', 'create', '-d', 'overlay', '--attachable', '--subnet', '159.0.0.0/24', 'shared')).code, 0);
  t.equal((await docker(node1, 'network', 'create', '-d', 'overlay', 'closed')).code, 0);

  const networking = cluster.engine('node2')!.networks;
  const attached = await networking.attach({ containerId: 'c1', containerName: 'box', network: 'shared', aliases: ['crate'] });
  t.match(attached, { networkName: 'shared', prefixLength: 24, gateway: '159.0.0.1', aliases: ['crate'] });
  t.match(attached.shownAddress, /^159\.0\.0\.\d+$/);
  const block = (await api(base, 'GET', '/networks/shared')).body.LoopbackSubnet.split('.').slice(0, 3).join('.');
  t.equal(attached.address, `${block}.${attached.shownAddress.split('.')[3]}`, 'the loopback address maps one to one');
  const again = await networking.attach({ containerId: 'c1', containerName: 'box', network: 'shared', aliases: ['crate'] });
  t.equal(again.address, attached.address, 'asking again gives the same place');
  const onBridge = await networking.attach({ containerId: 'c1', containerName: 'box', network: 'mybr', aliases: [] });
  t.match(onBridge.shownAddress, /^10\.0\.\d+\.\d+$/);
  const onDefault = await networking.attach({ containerId: 'c2', containerName: 'other', network: 'bridge', aliases: [] });
  t.match(onDefault, { networkName: 'bridge', shownAddress: '172.17.0.2', gateway: '172.17.0.1' }, "the node's default bridge, made when first needed");
  await t.rejects(networking.attach({ containerId: 'c1', containerName: 'box', network: 'closed', aliases: [] }),
    { message: 'Could not attach to network closed: rpc error: code = PermissionDenied desc = network closed not manually attachable' });
  await t.rejects(networking.attach({ containerId: 'c1', containerName: 'box', network: 'nope', aliases: [] }), { message: 'network nope not found' });

  const inspect = JSON.parse((await docker(node1, 'network', 'inspect', 'shared')).stdout)[0];
  t.equal(inspect.Containers.c1.Name, 'box');
  t.equal(inspect.Containers.c1.IPv4Address, `${attached.shownAddress}/24`);
  const busy = await docker(node1, 'network', 'rm', 'shared');
  t.equal(busy.code, 1);
  t.match(busy.stderr, `error while removing network: network shared id ${inspect.Id} has active endpoints`);

  // A task on `shared` finds the container by name and alias, at its address there.
  t.equal((await api(base, 'POST', '/services/create', { Name: 'client', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' }, Networks: [{ Target: 'shared' }] }, Mode: { Replicated: { Replicas: 1 } } })).status, 201);
  const [client] = await waitForRunning(base, 'client', 1);
  const from = client.NetworksAttachments[1].LoopbackAddresses[0].split('/')[0];
  if (requireTool(t, 'dig', 'dnsutils')) {
    const { address: dns, port } = cluster.dnsServer;
    const box = await waitFor('box named', async () => (await dig(dns, port, ['-b', from, 'box', 'A'])).answer[0]?.data);
    t.equal(box, attached.address);
    t.equal((await dig(dns, port, ['-b', from, 'crate', 'A'])).answer[0]?.data, attached.address, 'by its alias');
  }
  if (requireTool(t, 'dig', 'dnsutils')) {
    // The container asks as one on its networks: the client's VIP there, not its ingress one.
    const { address: dns, port } = cluster.dnsServer;
    const seen = await dig(dns, port, ['-b', attached.address, 'client', 'A']);
    t.equal(seen.answer[0]?.data, (await api(base, 'GET', '/services/client')).body.Endpoint.VirtualIPs[1].LoopbackAddr.split('/')[0], 'a container is answered as on its networks');
    t.equal((await dig(dns, port, ['-b', onDefault.address, 'client', 'A'])).status, 'NXDOMAIN', 'one on its default bridge alone does not see the client');
  }
  t.equal((await api(base, 'DELETE', '/services/client')).status, 200);

  await networking.detach('c1');
  await waitFor('shared free', async () => (await docker(node1, 'network', 'rm', 'shared')).code === 0 || undefined, 10_000);
  const mine = await docker(node2, 'network', 'rm', 'mybr');
  t.equal(mine.code, 0, `the worker removes its own bridge network: ${mine.stderr}`);
  const predefined = await docker(node2, 'network', 'rm', 'bridge');
  t.match(predefined.stderr, 'bridge is a pre-defined network and cannot be removed');
});
