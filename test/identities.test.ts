// Names and identities: service names are unique ignoring case (so no service takes over another's DNS
// name), node labels need a key, a constraint needs a value, `up --engine-label` gives nodes the engine
// labels that `engine.labels.*` constraints match (shown by /info and node inspect), and a port routemesh
// itself uses is refused naming what holds it.
import t from 'tap';
import { createUpCommand, upOptions } from '../src/cli/commands/up.js';
import { parseArgs } from '../src/cli/flags.js';
import { api, serviceSpec, testBlock, testCluster, waitForRunning } from './support/cluster.js';
import { dig } from './support/dns.js';

const isRoot = process.getuid?.() === 0;

const block = testBlock(47);

function upArgs(argv: string[]) {
  return upOptions(parseArgs(argv, createUpCommand().flags, { command: 'routemesh up', interspersed: false }), () => {});
}

t.test('up --engine-label: every node, or one node with node<i>:', async (t) => {
  t.same(upArgs(['--engine-label', 'zone=east', '--engine-label', 'node2:disk=ssd', '--engine-label', 'node2:gpu']).engineLabels, {
    node1: { zone: 'east' }, node2: { zone: 'east', disk: 'ssd', gpu: '' }, node3: { zone: 'east' },
  });
  t.notOk(upArgs([]).engineLabels, 'none unless asked');
  t.throws(() => upArgs(['--engine-label', '=ssd']), { message: /"--engine-label" flag: a label needs a key/ });
  t.throws(() => upArgs(['--engine-label', 'node2:=ssd']), { message: /a label needs a key/ });
});

t.test('one cluster: names, node labels, constraints and engine labels', async (t) => {
  const cluster = await testCluster(t, block, { ...upArgs(['--nodes', '3', '--engine-label', 'node2:disk=ssd', '--engine-label', 'node2:rack=r1']), subnet: `127.${block}.0.0/24`, taskSubnet: `127.${block + 1}.0.0/16`, vipSubnet: `127.${block + 2}.0.0/16`, dns: `127.${block}.0.250`, dnsUpstreams: [], metricsPort: 0 });
  const base = cluster.engines[0]!.apiUrl;

  t.test('a service name that differs only in case is refused, and DNS answers the first service', async (t) => {
    t.equal((await api(base, 'POST', '/services/create', serviceSpec('my-web', 'nginx'))).status, 201);
    const [task] = await waitForRunning(base, 'my-web', 1);
    const other = await api(base, 'POST', '/services/create', serviceSpec('My-Web', 'traefik/whoami'));
    t.equal(other.status, 409);
    t.equal(other.body.message, 'rpc error: code = AlreadyExists desc = name conflicts with an existing object: service My-Web already exists');
    const services = await api<any[]>(base, 'GET', '/services');
    t.same(services.body.map((s) => s.Spec.Name), ['my-web'], 'only the first was stored');
    const vip = services.body[0].Endpoint.VirtualIPs[0].Addr.split('/')[0];
    const { address, port } = cluster.dnsServer;
    t.same((await dig(address, port, ['my-web'])).answer.map((r) => r.data), [vip], 'my-web is the first service\'s VIP');
    t.same((await dig(address, port, ['tasks.my-web'])).answer.map((r) => r.data), [task.Endpoint.Addr], 'tasks.my-web its task');
    t.equal((await api(base, 'DELETE', '/services/my-web')).status, 200);
  });

  t.test('a node label without a key is refused, and the node keeps its labels', async (t) => {
    const node = (await api(base, 'GET', '/nodes/node3')).body;
    const refused = await api(base, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Labels: { '': 'x' } });
    t.equal(refused.status, 400);
    t.match(refused.body.message, /invalid label: empty name: a node label needs a key, like --label-add zone=east/);
    t.same((await api(base, 'GET', '/nodes/node3')).body.Spec, node.Spec);
  });

  t.test('a constraint without a value says the value is missing', async (t) => {
    for (const constraint of ['node.role ==', 'node.labels.zone!=  ']) {
      const refused = await api(base, 'POST', '/services/create', serviceSpec('placed', 'nginx', {
        TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: [constraint] } },
      }));
      t.equal(refused.status, 400, constraint);
      t.match(refused.body.message, `constraint '${constraint.trim()}' has no value after`, constraint);
    }
  });

  t.test('engine labels show in /info and node inspect, and engine.labels constraints place tasks by them', async (t) => {
    const node2 = cluster.engines[1]!.apiUrl;
    t.same((await api(node2, 'GET', '/info')).body.Labels, ['disk=ssd', 'rack=r1'], 'node2\'s docker info');
    t.same((await api(cluster.engines[2]!.apiUrl, 'GET', '/info')).body.Labels, [], 'node3 has none');
    t.same((await api(base, 'GET', '/nodes/node2')).body.Description.Engine.Labels, { disk: 'ssd', rack: 'r1' });
    const created = await api(base, 'POST', '/services/create', serviceSpec('ssd', 'nginx', {
      TaskTemplate: { ContainerSpec: { Image: 'nginx' }, Placement: { Constraints: ['engine.labels.disk == ssd'] } },
      Mode: { Replicated: { Replicas: 2 } },
    }));
    t.equal(created.status, 201);
    const tasks = await waitForRunning(base, 'ssd', 2);
    const node2Id = (await api(base, 'GET', '/nodes/node2')).body.ID;
    t.same(tasks.map((task) => task.NodeID), [node2Id, node2Id], 'both tasks on the node with disk=ssd');
  });
});

t.test('ports routemesh uses are refused naming their holder, in either publish mode', async (t) => {
  const cluster = await testCluster(t, block, { nodes: 2, metricsPort: 0 });
  const base = cluster.engines[0]!.apiUrl;
  // node2's: with --metrics-port 0 each node has a port of its own, which only it knows, and says when asked.
  const metrics = Number(new URL(cluster.engines[1]!.metricsUrl!).port);
  const dns = cluster.dnsServer.port;
  const rows: [number, string, string][] = [
    [2375, 'tcp', 'the engine API port of every node \\(--api-port; DOCKER_HOST=tcp://127\\.\\d+\\.0\\.1:2375\\)'],
    [2377, 'tcp', 'the swarm\'s cluster port, which `docker swarm join` names'],
    [metrics, 'tcp', 'the metrics port of every node \\(--metrics-port'],
    [dns, 'udp', `the embedded DNS server's port \\(127\\.\\d+\\.0\\.250:${dns}; --dns\\)`],
    [dns, 'tcp', 'the embedded DNS server\'s port'],
  ];
  for (const mode of ['ingress', 'host']) {
    for (const [port, protocol, holder] of rows) {
      const refused = await api(base, 'POST', '/services/create', serviceSpec('taker', 'routemesh/echo', {
        EndpointSpec: { Ports: [{ Protocol: protocol, TargetPort: 7, PublishedPort: port, PublishMode: mode }] },
      }));
      t.equal(refused.status, 400, `${mode} ${port}/${protocol}`);
      t.match(refused.body.message, new RegExp(`cannot publish port ${port}: it is routemesh's own, ${holder}.*; choose another published port`), `${mode} ${port}/${protocol}`);
    }
  }
  t.same((await api(base, 'GET', '/services')).body, [], 'none was created');
  const node2 = cluster.engines[1]!.apiUrl;
  t.match((await api(node2, 'POST', '/routemesh/ports/probe', { Protocol: 'tcp', PublishedPort: metrics })).body.message,
    /it is routemesh's own, the metrics port/, 'node2 says it holds its metrics port when the manager asks');
  t.equal((await api(node2, 'POST', '/routemesh/ports/probe', { Protocol: 'tcp', PublishedPort: 0 })).body.message, 'PublishedPort must be a port number from 1 to 65535');
  t.equal((await api(node2, 'POST', '/routemesh/ports/probe', { Protocol: 'sctp', PublishedPort: 80 })).body.message, 'Protocol must be tcp or udp');
});

t.test('a host-mode port below 1024 is refused without root, as an ingress one is', { skip: isRoot ? 'root binds ports below 1024: test/unprivileged.test.ts checks this as nobody' : false }, async (t) => {
  const cluster = await testCluster(t, block, { nodes: 1, metricsPort: undefined });
  const refused = await api(cluster.engines[0]!.apiUrl, 'POST', '/services/create', serviceSpec('low', 'nginx', {
    EndpointSpec: { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 80, PublishMode: 'host' }] },
  }));
  t.equal(refused.status, 400);
  t.match(refused.body.message, /cannot publish port 80: ports below 1024 need root \(or CAP_NET_BIND_SERVICE\)/);
});

t.test('an engine label for a node the cluster does not have stops the start', async (t) => {
  await t.rejects(testCluster(t, block, { nodes: 2, engineLabels: { node5: { disk: 'ssd' } } }),
    { message: '--engine-label names node5, not a node of this cluster (node1 to node2)' });
});
