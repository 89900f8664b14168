// A cluster's node, task and VIP blocks, and its DNS address, must not share addresses: refused before
// anything listens (127.25-127.28 blocks; nothing here opens a socket).
import t from 'tap';
import { Cluster } from '../src/engine/index.js';

const OWN = { subnet: '127.25.0.0/24', taskSubnet: '127.26.0.0/16', vipSubnet: '127.27.0.0/16', dns: '127.25.0.250', dnsUpstreams: [] };

t.test('overlapping blocks are refused, naming both flags', async (t) => {
  t.throws(() => new Cluster({ ...OWN, subnet: '127.28.0.0/24', taskSubnet: '127.28.0.0/24', vipSubnet: '127.28.0.0/24' }), {
    message: '--subnet 127.28.0.0/24 and --task-subnet 127.28.0.0/24 overlap: give each a block of its own ' +
      "(the defaults are --subnet 127.1.0.0/24, --task-subnet 127.20.0.0/16, --vip-subnet 127.10.0.0/16 and --network-pool the upper half of the --subnet's /16, 127.1.128.0/17)",
  });
  t.throws(() => new Cluster({ ...OWN, networkPool: '127.25.128.0/17', vipSubnet: '127.25.200.0/24' }), { message: /^--vip-subnet 127\.25\.200\.0\/24 and --network-pool 127\.25\.128\.0\/17 overlap/ },
    'the network pool is checked too');
  const beside = new Cluster({ ...OWN, vipSubnet: '127.25.200.0/24' });
  t.equal(beside.options.networkPool, '127.25.128.0/18', 'a derived pool leaves a block given in the upper half of the node block\'s /16 alone');
  await beside.close();
  t.throws(() => new Cluster({ ...OWN, networkPool: '127.26.0.0/17' }), { message: /^--task-subnet 127\.26\.0\.0\/16 and --network-pool 127\.26\.0\.0\/17 overlap/ });
  t.throws(() => new Cluster({ ...OWN, networkPool: '10.0.0.0/16' }), { message: /^--network-pool 10\.0\.0\.0\/16 is not inside 127\.0\.0\.0\/8/ });
  t.throws(() => new Cluster({ ...OWN, vipSubnet: '127.25.0.0/16' }), { message: /^--subnet 127\.25\.0\.0\/24 and --vip-subnet 127\.25\.0\.0\/16 overlap/ },
    'a node block inside the VIP block');
  t.throws(() => new Cluster({ ...OWN, vipSubnet: '127.26.128.0/17' }), { message: /^--task-subnet 127\.26\.0\.0\/16 and --vip-subnet 127\.26\.128\.0\/17 overlap/ },
    'a VIP block inside the task block');
  await t.resolves(async () => { await new Cluster({ ...OWN, vipSubnet: '127.25.1.0/24' }).close(); }, 'adjacent blocks share nothing');
});

t.test('a DNS address inside the task, VIP or network block is refused', async (t) => {
  t.throws(() => new Cluster({ ...OWN, dns: '127.26.0.53' }), {
    message: "--dns 127.26.0.53 is inside --task-subnet 127.26.0.0/16, whose addresses go to tasks: choose a DNS address outside the task, VIP and network blocks (Swarm's is 127.0.0.11)",
  });
  t.throws(() => new Cluster({ ...OWN, dns: '127.25.130.1' }), { message: /^--dns 127\.25\.130\.1 is inside --network-pool 127\.25\.128\.0\/17/ });
  t.throws(() => new Cluster({ ...OWN, dns: '127.27.255.255:5353' }), { message: /^--dns 127\.27\.255\.255 is inside --vip-subnet 127\.27\.0\.0\/16, whose addresses go to services' VIPs/ });
});

t.test('nothing beyond loopback: blocks, the DNS address and its upstreams outside 127.0.0.0/8 (or ::1) are refused', async (t) => {
  t.throws(() => new Cluster({ ...OWN, subnet: '10.1.0.0/24' }), {
    message: "--subnet 10.1.0.0/24 is not inside 127.0.0.0/8: routemesh's nodes, tasks and VIPs live on this machine's loopback, " +
      'which needs no set-up on Linux; choose a block like 127.1.0.0/24',
  });
  t.throws(() => new Cluster({ ...OWN, taskSubnet: '192.168.0.0/16' }), { message: /^--task-subnet 192\.168\.0\.0\/16 is not inside 127\.0\.0\.0\/8/ });
  t.throws(() => new Cluster({ ...OWN, vipSubnet: '126.255.0.0/16' }), { message: /^--vip-subnet 126\.255\.0\.0\/16 is not inside/ });
  t.throws(() => new Cluster({ ...OWN, dns: '10.0.0.11' }), { message: "--dns 10.0.0.11 is not a loopback address: choose one in 127.0.0.0/8 (Swarm's is 127.0.0.11)" });
  t.throws(() => new Cluster({ ...OWN, dnsUpstreams: ['127.0.0.53', '8.8.8.8'] }), {
    message: "--dns-upstream: '8.8.8.8' is not on loopback: routemesh forwards names only to a resolver on this machine's loopback " +
      '(127.0.0.0/8 or ::1), such as systemd-resolved at 127.0.0.53 or a local dnsmasq',
  });
  const local = new Cluster({ ...OWN, dnsUpstreams: ['127.0.0.53', '[::1]:5353'] });
  t.same(local.dnsServer.upstreams, [{ address: '127.0.0.53', port: 53 }, { address: '::1', port: 5353 }], 'loopback upstreams are kept');
  await local.close();
});
