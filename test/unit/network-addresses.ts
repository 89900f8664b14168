// A network's addresses: loopback blocks carved from the network pool, the one to one mapping between a
// network's shown subnet and its block, and the per-network address pool (released, restored).
import t from 'tap';
import { BlockPool, mapAddress } from '../../src/vip-dns/index.js';
import { Manager, NetworkAllocator } from '../../src/swarm/index.js';

t.test('BlockPool hands out aligned blocks, each once, and takes released or restored ones back', async (t) => {
  const pool = new BlockPool('127.9.128.0/17');
  t.equal(pool.allocate(24), '127.9.128.0/24');
  t.equal(pool.allocate(25), '127.9.129.0/25');
  t.equal(pool.allocate(24), '127.9.130.0/24', 'a /24 skips the block a /25 half fills');
  t.equal(pool.allocate(25), '127.9.129.128/25', 'a /25 fills the other half');
  t.equal(pool.allocate(16), undefined, 'larger than the pool');
  pool.release('127.9.128.0/24');
  t.equal(pool.allocate(24), '127.9.128.0/24', 'a released block comes back');
  t.throws(() => pool.reserve('127.9.130.0/23'), /overlaps/);
  t.throws(() => pool.reserve('127.8.0.0/24'), /not inside/);
  const full = new BlockPool('127.9.0.0/23');
  t.ok(full.allocate(24) && full.allocate(24));
  t.equal(full.allocate(24), undefined, 'exhausted');
});

t.test('mapAddress maps a subnet one to one onto a block of the same size', async (t) => {
  t.equal(mapAddress('159.0.0.5', '159.0.0.0/24', '127.9.128.0/24'), '127.9.128.5');
  t.equal(mapAddress('127.9.128.254', '127.9.128.0/24', '159.0.0.0/24'), '159.0.0.254');
  t.equal(mapAddress('10.0.3.7', '10.0.2.0/23', '127.9.130.0/23'), '127.9.131.7');
  t.throws(() => mapAddress('159.0.1.5', '159.0.0.0/24', '127.9.128.0/24'), /not inside/);
  t.throws(() => mapAddress('159.0.0.5', '159.0.0.0/24', '127.9.128.0/25'), /not the same size/);
});

t.test('NetworkAllocator: each holder an address on each network, in both forms', async (t) => {
  const allocator = new NetworkAllocator('127.9.128.0/17');
  const block = allocator.block('159.0.0.0/24');
  t.equal(block, '127.9.128.0/24');
  const network = { ID: 'n1', IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: '159.0.0.0/24', Gateway: '159.0.0.1' }] }, LoopbackSubnet: block } as any;
  allocator.add(network);
  t.strictSame(allocator.address('n1', 'task1'), { shown: '159.0.0.2/24', loopback: '127.9.128.2/24' });
  t.strictSame(allocator.address('n1', 'task1'), { shown: '159.0.0.2/24', loopback: '127.9.128.2/24' }, 'the same holder keeps its address');
  t.strictSame(allocator.address('n1', 'task2'), { shown: '159.0.0.3/24', loopback: '127.9.128.3/24' });
  allocator.release('n1', 'task1');
  allocator.release('n1', 'task1');
  t.throws(() => allocator.address('n2', 'task1'), /no address block/);
  t.throws(() => allocator.block('10.0.0.0/16'), /larger than routemesh's network pool 127.9.128.0\/17/);

  // A restored swarm takes its blocks and addresses again.
  const restored = new NetworkAllocator('127.9.128.0/17');
  restored.add(network);
  restored.restore('n1', 'task2', '127.9.128.3/24');
  t.equal(restored.address('n1', 'task3').loopback, '127.9.128.2/24');
  t.equal(restored.address('n1', 'task4').loopback, '127.9.128.4/24', 'the restored address is not handed out again');
  t.equal(restored.block('10.0.1.0/24'), '127.9.129.0/24', "the restored network's block is taken");
  t.throws(() => new NetworkAllocator('127.8.0.0/17').add(network), /--network-pool it was made with/);
});

t.test('the manager keeps networks and their blocks across a restore', async (t) => {
  const options = { taskSubnet: '127.9.32.0/19', vipSubnet: '127.9.64.0/19', networkPool: '127.9.128.0/17', log: () => {} };
  const manager = new Manager(options);
  t.teardown(() => manager.close());
  const a = manager.networks.create({ Name: 'a', Driver: 'overlay' });
  const b = manager.networks.create({ Name: 'b', Driver: 'overlay', IPAM: { Config: [{ Subnet: '159.0.0.0/24' }] } });
  t.equal(a.LoopbackSubnet, '127.9.128.0/24');
  t.equal(b.LoopbackSubnet, '127.9.129.0/24');
  t.strictSame(a.IPAMOptions!.Configs, [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }]);
  t.throws(() => manager.networks.create({ Name: 'A', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.0.1.0/25' }] } }), /Pool overlaps/);
  t.throws(() => manager.networks.create({ Name: 'bad.name', Driver: 'overlay' }), /DNS name component/);
  t.throws(() => manager.networks.create({ Name: 'br', Driver: 'bridge' }), /belongs to one node/);
  const bridge = manager.networks.create({ Name: 'mybr', Driver: 'bridge', IPAM: { Config: [{ Subnet: '159.0.0.0/24' }] } }, 'nodeA');
  t.equal(bridge.IPAMOptions!.Configs[0]!.Subnet, '159.0.0.0/24', 'a bridge may show a swarm network\'s subnet: another address space, as libnetwork\'s');
  t.not(bridge.LoopbackSubnet, b.LoopbackSubnet, 'on a loopback block of its own');
  t.throws(() => manager.networks.create({ Name: 'mybr2', Driver: 'bridge', IPAM: { Config: [{ Subnet: '159.0.0.128/25' }] } }, 'nodeA'), /Pool overlaps/, 'but not another bridge\'s of its node');
  manager.networks.remove(bridge.ID, 'nodeA');
  t.equal(manager.networks.resolve(a.ID.slice(0, 5)).ID, a.ID, 'by ID prefix');
  t.throws(() => manager.networks.resolve('nope'), /network nope not found/);

  const again = new Manager({ ...options, restore: manager.exportState() });
  t.teardown(() => again.close());
  t.strictSame(again.store.all('network').map((n) => n.Spec.Name).sort(), ['a', 'b']);
  t.equal(again.networks.create({ Name: 'c', Driver: 'overlay' }).LoopbackSubnet, '127.9.130.0/24', 'restored blocks are taken');
  again.networks.remove('a');
  t.equal(again.networks.create({ Name: 'd', Driver: 'overlay' }).LoopbackSubnet, '127.9.128.0/24', "a removed network's block is free");
});

t.test("a full network's tasks wait in new without writes, and get addresses as others release theirs", async (t) => {
  const manager = new Manager({ taskSubnet: '127.9.32.0/19', vipSubnet: '127.9.64.0/19', networkPool: '127.9.128.0/17', log: () => {} });
  t.teardown(() => manager.close());
  const net = manager.networks.create({ Name: 'small', Driver: 'overlay', IPAM: { Config: [{ Subnet: '10.5.0.0/29' }] } }); // 5 addresses: a VIP and 4 tasks
  const spec = (replicas: number) => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'small' }] }, Mode: { Replicated: { Replicas: replicas } } });
  const service = await manager.createService(spec(6));
  await manager.settled();
  const addressed = () => manager.store.tasksOfService(service.ID).filter((task) => task.NetworksAttachments?.length === 2);
  t.equal(addressed().length, 4, 'four tasks have an address on the network');
  t.equal(manager.store.tasksOfService(service.ID).length, 6);
  const shown = addressed().map((task) => task.NetworksAttachments![1]!.Addresses[0]).sort();
  t.strictSame(shown, ['10.5.0.3/29', '10.5.0.4/29', '10.5.0.5/29', '10.5.0.6/29'], 'after the VIP, 10.5.0.2');
  t.equal(manager.store.service(service.ID)!.Endpoint.VirtualIPs![1]!.Addr, '10.5.0.2/29');
  const index = manager.store.index;
  await manager.settled();
  t.equal(manager.store.index, index, 'the waiting tasks are not written again and again');
  // Two tasks that never started are forgotten at once: their addresses go to the waiting ones.
  const current = manager.store.service(service.ID)!;
  await manager.updateService(service.ID, current.Version.Index, spec(4));
  await manager.settled();
  t.equal(addressed().length, 4);
  t.equal(manager.store.tasksOfService(service.ID).filter((task) => task.DesiredState === 'running').length, 4, 'every running task holds an address');
  manager.removeService(service.ID);
  await manager.settled();
  t.doesNotThrow(() => manager.networks.remove(net.ID), 'nothing holds the network once the service is gone');
});

t.test('a restored swarm takes its tasks\' and VIPs\' network addresses, and its containers\', again', async (t) => {
  const options = { taskSubnet: '127.9.32.0/19', vipSubnet: '127.9.64.0/19', networkPool: '127.9.128.0/17', log: () => {} };
  const manager = new Manager(options);
  t.teardown(() => manager.close());
  const node = manager.addNode({ hostname: 'node1', addr: '127.9.0.1', role: 'manager' });
  manager.networks.create({ Name: 'front', Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: '159.0.0.0/24' }] } });
  await manager.createService({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: 'front', Aliases: ['www'] }] }, Mode: { Replicated: { Replicas: 2 } } });
  await manager.settled();
  const { endpoint } = manager.networks.attachContainer(node.ID, { containerId: 'c1', containerName: 'box', network: 'front', aliases: [] });
  const held = new Set([
    ...manager.store.tasks().map((task) => task.NetworksAttachments![1]!.Addresses[0]),
    manager.store.services()[0]!.Endpoint.VirtualIPs![1]!.Addr,
    endpoint.Address,
  ]);
  t.equal(held.size, 4, 'two tasks, a VIP and a container, each its own address');
  t.strictSame(manager.store.tasks()[0]!.NetworksAttachments![1]!.Aliases, ['www']);

  const again = new Manager({ ...options, restore: manager.exportState() });
  t.teardown(() => again.close());
  const { endpoint: next } = again.networks.attachContainer(node.ID, { containerId: 'c2', containerName: 'other', network: 'front', aliases: [] });
  t.notOk(held.has(next.Address), `a new holder gets a free address (${next.Address}), none of the restored ones`);
  t.equal(again.networks.attachContainer(node.ID, { containerId: 'c1', containerName: 'box', network: 'front', aliases: [] }).endpoint.Address, endpoint.Address, 'the restored container keeps its place');
  t.throws(() => again.networks.remove('front'), /in use by service/);
});

t.test('what a service may not be attached to is refused with Docker\'s words', async (t) => {
  const manager = new Manager({ taskSubnet: '127.9.32.0/19', vipSubnet: '127.9.64.0/19', networkPool: '127.9.128.0/17', log: () => {} });
  t.teardown(() => manager.close());
  const node = manager.addNode({ hostname: 'node1', addr: '127.9.0.1', role: 'manager' });
  manager.networks.create({ Name: 'mybr', Driver: 'bridge' }, node.ID);
  const on = (target: string) => manager.createService({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Networks: [{ Target: target }] } });
  await t.rejects(on('mybr'), { message: 'The network mybr cannot be used with services. Only networks scoped to the swarm can be used, such as those created with the overlay driver.' });
  await t.rejects(on('bridge'), { message: /The network bridge cannot be used with services/ });
  await t.rejects(on('ingress'), { message: /cannot be explicitly attached to the ingress network/ });
  await t.rejects(on('nope'), { message: 'network nope not found' });
  t.equal(manager.store.services().length, 0, 'nothing written');
});

t.test('a node removed from the swarm gives back its containers\' places and its bridge networks', async (t) => {
  const manager = new Manager({ taskSubnet: '127.9.32.0/19', vipSubnet: '127.9.64.0/19', networkPool: '127.9.128.0/17', log: () => {} });
  t.teardown(() => manager.close());
  manager.addNode({ hostname: 'node1', addr: '127.9.0.1', role: 'manager' });
  const worker = manager.addNode({ hostname: 'node2', addr: '127.9.0.2', role: 'worker' });
  const shared = manager.networks.create({ Name: 'shared', Driver: 'overlay', Attachable: true });
  const mybr = manager.networks.create({ Name: 'mybr', Driver: 'bridge' }, worker.ID);
  manager.networks.attachContainer(worker.ID, { containerId: 'c1', containerName: 'lc', network: 'shared', aliases: [] });
  t.throws(() => manager.networks.remove('shared'), /has active endpoints/);
  manager.setNodeState(worker.ID, 'down');
  manager.removeNode(worker.ID, false);
  t.same(Object.keys(manager.store.get('network', shared.ID)!.Containers ?? {}), [], 'its container left the overlay network');
  t.equal(manager.store.get('network', mybr.ID), undefined, 'its bridge network is gone');
  manager.networks.remove('shared');
  t.equal(manager.networks.create({ Name: 'again', Driver: 'overlay' }).LoopbackSubnet, shared.LoopbackSubnet, 'and every block is free again');
});
