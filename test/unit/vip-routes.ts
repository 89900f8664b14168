// VIP routes in the routing table: only on the node that holds the VIPs, on the service's target ports
// and the ports its tasks listen on, balanced over the same pool as its published port.
import t from 'tap';
import { buildRoutingTable } from '../../src/mesh/index.js';
import type { Service, SwarmNode, Task } from '../../src/swarm/index.js';

const now = new Date().toISOString();
const node = { ID: 'n1', Status: { State: 'ready', Addr: '127.1.0.1' }, Description: { Hostname: 'node1' } } as unknown as SwarmNode;

function service(ports: { TargetPort: number; PublishedPort: number }[], vip?: string): Service {
  return {
    ID: 's1', Version: { Index: 1 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Name: 'web', Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: {
      Spec: {},
      Ports: ports.map((p) => ({ Protocol: 'tcp' as const, PublishMode: 'ingress' as const, ...p })),
      ...(vip ? { VirtualIPs: [{ NetworkID: 'ingress', Addr: `${vip}/16` }] } : {}),
    },
  };
}

function task(id: string, ports: number[]): Task {
  return {
    ID: id, Version: { Index: 1 }, CreatedAt: now, UpdatedAt: now, Name: `web.1.${id}`, Labels: {}, ServiceID: 's1', Slot: 1, NodeID: 'n1',
    Spec: { ContainerSpec: { Image: 'nginx' } }, DesiredState: 'running',
    Status: { Timestamp: now, State: 'running', Message: 'started', PortStatus: {} },
    Endpoint: { Addr: '127.20.0.2', Ports: ports.map((p) => ({ Protocol: 'tcp' as const, TargetPort: p, ListenPort: p })) },
  };
}

t.test('the node that holds the VIPs routes VIP:target over the published port\'s pool', async (t) => {
  const table = buildRoutingTable([service([{ TargetPort: 80, PublishedPort: 8080 }], '127.10.0.2')], [task('a', [80])], [node], { withVips: true });
  t.same([...table.routes.keys()].sort(), ['127.10.0.2:80/tcp', '8080/tcp']);
  const vip = table.routes.get('127.10.0.2:80/tcp')!;
  t.equal(vip.vip, '127.10.0.2');
  t.equal(vip.publishedPort, 80);
  t.equal(vip.poolKey, table.routes.get('8080/tcp')!.poolKey, 'one pool for both');
});

t.test('other nodes open no VIP listener', async (t) => {
  const table = buildRoutingTable([service([{ TargetPort: 80, PublishedPort: 8080 }], '127.10.0.2')], [task('a', [80])], [node], { withVips: false });
  t.same([...table.routes.keys()], ['8080/tcp']);
});

t.test('a VIP answers on the ports its tasks listen on, published or not', async (t) => {
  const table = buildRoutingTable([service([], '127.10.0.3')], [task('a', [5000, 6379])], [node], { withVips: true });
  t.same([...table.routes.keys()].sort(), ['127.10.0.3:5000/tcp', '127.10.0.3:6379/tcp']);
  t.same(table.pools.get(table.routes.get('127.10.0.3:6379/tcp')!.poolKey)!.map((b) => b.port), [6379]);
});

t.test('a dnsrr service (no VIP) gets no VIP route', async (t) => {
  const table = buildRoutingTable([service([])], [task('a', [80])], [node], { withVips: true });
  t.equal(table.routes.size, 0);
});
