// End to end: a 3-node cluster in this process, services created through the engine API, and
// connections through every node's published port, with the distribution asserted exactly.
import t from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { connectAndWait, echoConnection, httpGet, whoamiHost } from './support/net.js';

const BLOCK = testBlock(104); // nodes 127.104.0.x, tasks 127.105/16, VIPs 127.106/16

t.test('routing mesh across a 3-node cluster', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const addresses = cluster.nodes.map((n) => n.address);

  const created = await api(manager, 'POST', '/services/create',
    serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 6 } }, ...published(80, 8080) }));
  t.equal(created.status, 201);
  const tasks = await waitForRunning(manager, 'web', 6);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  await t.test('six replicas spread two per node', async (t) => {
    const perNode = new Map<string, number>();
    for (const task of tasks) perNode.set(task.NodeID, (perNode.get(task.NodeID) ?? 0) + 1);
    t.same([...perNode.values()], [2, 2, 2]);
  });

  await t.test('60 new connections to one node reach each of 6 tasks exactly 10 times, on every node', async (t) => {
    const hostnames = new Set(tasks.map((task) => task.Hostname));
    for (const address of addresses) {
      const counts = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const host = await whoamiHost(address, 8080);
        counts.set(host, (counts.get(host) ?? 0) + 1);
      }
      t.same([...counts.keys()].sort(), [...hostnames].sort(), `${address} reached every task`);
      t.same([...counts.values()], [10, 10, 10, 10, 10, 10], `${address} spread evenly`);
    }
  });

  await t.test('a task sees the connection come from the node that forwarded it', async (t) => {
    for (const address of addresses) {
      const { body } = await httpGet(address, 8080);
      t.match(body, new RegExp(`\nRemoteAddr: ${address.replaceAll('.', '\\.')}:\\d+\n`), address);
    }
  });

  await t.test('scale down to 3: the pool follows, every answer comes from a remaining task', async (t) => {
    const { body: service } = await api(manager, 'GET', '/services/web');
    const spec = { ...service.Spec, Mode: { Replicated: { Replicas: 3 } } };
    t.equal((await api(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, spec)).status, 200);
    const remaining = await waitForRunning(manager, 'web', 3);
    const allowed = new Set(remaining.map((task) => task.Hostname));
    await waitFor('tasks removed from the store', async () => {
      const { body } = await api<any[]>(manager, 'GET', '/tasks');
      return body.filter((task) => task.ServiceID === service.ID).length === 3;
    });
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const host = await whoamiHost(addresses[1]!, 8080);
      counts.set(host, (counts.get(host) ?? 0) + 1);
    }
    t.same([...counts.keys()].sort(), [...allowed].sort());
    t.same([...counts.values()], [10, 10, 10]);
  });

  await t.test('a service with no running task closes connections at once', async (t) => {
    const res = await api(manager, 'POST', '/services/create',
      serviceSpec('nothing', 'no/such-image', published(80, 8081)));
    t.equal(res.status, 201);
    await waitFor('the task is rejected', async () => {
      const { body } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"nothing":true}}')}`);
      return body.find((task) => task.Status.State === 'rejected');
    });
    const { body: tasks } = await api<any[]>(manager, 'GET', `/tasks?filters=${encodeURIComponent('{"service":{"nothing":true}}')}`);
    t.equal(tasks[0].Status.Err, 'No such image: no/such-image');
    await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
    t.equal(await connectAndWait(addresses[2]!, 8081, 1000), 'closed', 'closed within a second, not left hanging');
    t.ok((await whoamiHost(addresses[2]!, 8080)).length, 'other services are unaffected');
  });
});

t.test('drain, removal and open connections', async (t) => {
  const cluster = await testCluster(t, BLOCK + 10); // nodes 127.114.0.x, tasks 127.115/16
  const manager = cluster.nodes[0]!.apiUrl;
  const [node1, node2, node3] = cluster.nodes;

  await api(manager, 'POST', '/services/create',
    serviceSpec('echo', 'routemesh/echo', { Mode: { Replicated: { Replicas: 3 } }, ...published(7000, 7000) }));
  const before = await waitForRunning(manager, 'echo', 3);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  // The service's VIP answers on its target port too, balanced over the same tasks.
  const { body: echo } = await api(manager, 'GET', '/services/echo');
  const vip = echo.Endpoint.VirtualIPs[0].Addr.split('/')[0];
  t.match(vip, new RegExp(`^127\\.${BLOCK + 12}\\.`));
  const viaVip = await echoConnection(vip, 7000);
  t.teardown(() => viaVip.socket.destroy());
  t.equal(await viaVip.roundTrip('via the VIP\n'), 'via the VIP\n');

  // One open connection per task, through node 1.
  const connections = await Promise.all([0, 1, 2].map(() => echoConnection(node1!.address, 7000)));
  for (const [i, c] of connections.entries()) t.equal(await c.roundTrip(`hello ${i}\n`), `hello ${i}\n`);
  t.teardown(() => connections.forEach((c) => c.socket.destroy()));

  const { body: node } = await api(manager, 'GET', `/nodes/${node3!.hostname}`);
  const drain = await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' });
  t.equal(drain.status, 200);
  const after = await waitForRunning(manager, 'echo', 3);
  t.notOk(after.some((task) => task.NodeID === node3!.nodeId), 'no task left on the drained node');
  t.equal(after.filter((task) => before.some((b) => b.ID === task.ID)).length, 2, 'tasks on other nodes stayed');

  // Connections to tasks that stayed keep working; the one whose task moved was closed once it stopped
  // (after the fence period that lets connections accepted just before the drain be served).
  const moved = before.find((task) => task.NodeID === node3!.nodeId)!;
  await waitFor('the drained task to stop', async () => (await api(manager, 'GET', `/tasks/${moved.ID}`)).body.Status.State === 'shutdown');
  const survivors: number[] = [];
  for (const [i, c] of connections.entries()) {
    try {
      if ((await c.roundTrip(`again ${i}\n`)) === `again ${i}\n`) survivors.push(i);
    } catch { /* its task was drained */ }
  }
  t.equal(survivors.length, 2, 'connections to the two remaining tasks survived the drain');

  // A drained node still routes published ports.
  const viaDrained = await echoConnection(node3!.address, 7000);
  t.equal(await viaDrained.roundTrip('via node3\n'), 'via node3\n');
  viaDrained.socket.destroy();

  t.equal((await api(manager, 'DELETE', '/services/echo')).status, 200);
  await waitFor('the listener closes on every node', async () => {
    const states = await Promise.all([node1, node2, node3].map((n) => connectAndWait(n!.address, 7000, 2000)));
    return states.every((s) => s === 'refused');
  });
  await waitFor('every task of the removed service is gone', async () => {
    const { body } = await api<any[]>(manager, 'GET', '/tasks');
    return body.length === 0;
  });
  t.pass('service removal closes its listeners and removes its tasks');
});
