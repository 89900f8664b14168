// Timeouts and limits of tcp mode, end to end: an idle connection is closed on both sides (never dropped
// in silence), a listener takes no more connections than its service allows, and a client that stops
// reading slows only itself.
import net from 'node:net';
import t from 'tap';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { echoConnection, whoamiHost } from './support/net.js';

const BLOCK = 222; // nodes 127.222.0.x, tasks 127.223/16, VIPs 127.224/16

t.test('tcp limits', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const node = cluster.nodes[0]!.address;
  const create = async (name: string, image: string, port: number, labels: Record<string, string>): Promise<void> => {
    const created = await api(manager, 'POST', '/services/create', serviceSpec(name, image, { Labels: labels, ...published(image === 'routemesh/echo' ? 7 : 80, port) }));
    t.equal(created.status, 201, JSON.stringify(created.body));
    await waitForRunning(manager, name, 1);
  };
  await create('idle', 'routemesh/echo', 9301, { 'routemesh.lb.idle-timeout': '300ms' });
  await create('capped', 'routemesh/echo', 9302, { 'routemesh.lb.max-connections': '2' });
  await create('web', 'traefik/whoami', 9303, {});
  await create('bulk', 'routemesh/echo', 9304, {});
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  await t.test('an idle connection is closed on both sides; a busy one is not', async (t) => {
    const busy = await echoConnection(node, 9301);
    const idle = await echoConnection(node, 9301);
    t.teardown(() => { busy.socket.destroy(); idle.socket.destroy(); });
    const idleClosed = new Promise<number>((resolve) => { const started = Date.now(); idle.socket.once('close', () => resolve(Date.now() - started)); });
    // The busy one keeps talking until the idle one is closed.
    let talking = true;
    let echoed = 0;
    const chatter = (async () => {
      while (talking) if ((await busy.roundTrip('ping')) === 'ping') echoed++;
    })();
    const closedAfter = await idleClosed;
    talking = false;
    await chatter;
    t.ok(echoed > 0, `the busy connection kept talking meanwhile (${echoed} round trips)`);
    t.ok(closedAfter >= 250 && closedAfter < 3000, `the idle connection closed after ${closedAfter} ms (idle-timeout 300ms)`);
    t.equal(await busy.roundTrip('still here'), 'still here', 'the busy connection is still open');
  });

  await t.test('a listener takes at most max-connections at once', async (t) => {
    const first = await echoConnection(node, 9302);
    const second = await echoConnection(node, 9302);
    t.teardown(() => { first.socket.destroy(); second.socket.destroy(); });
    t.equal(await first.roundTrip('one'), 'one');
    t.equal(await second.roundTrip('two'), 'two');
    const third = net.connect({ host: node, port: 9302 });
    t.teardown(() => third.destroy());
    const outcome = await new Promise<string>((resolve) => {
      third.on('data', () => resolve('answered'));
      third.on('close', () => resolve('closed'));
      third.on('error', () => resolve('closed'));
      third.on('connect', () => third.write('three\n'));
    });
    t.equal(outcome, 'closed', 'a third, over the limit, is closed');
    first.socket.destroy();
    await new Promise((resolve) => first.socket.once('close', resolve));
    // The listener counts the first one gone once its side has seen the close too: try until then.
    const again = await waitFor('room for a new connection', async () => {
      const connection = await echoConnection(node, 9302).catch(() => undefined);
      const answer = await connection?.roundTrip('again').catch(() => undefined);
      connection?.socket.destroy();
      return answer;
    });
    t.equal(again, 'again', 'once one closes, a new one is taken');
  });

  await t.test('a client that stops reading slows only itself', async (t) => {
    // Asks for a 32 MiB echo and never reads it: the mesh must stop reading that task's socket, not the world.
    const stuck = net.connect({ host: node, port: 9304 });
    t.teardown(() => stuck.destroy());
    await new Promise((resolve) => stuck.once('connect', resolve));
    stuck.pause();
    stuck.write(Buffer.alloc(32 << 20, 0x61));
    const hosts: string[] = [];
    for (let i = 0; i < 20; i++) hosts.push(await whoamiHost(node, 9303));
    t.ok(hosts.every((host) => /^[0-9a-f]{12}$/.test(host)), 'twenty requests to another service were answered meanwhile');
    const other = await echoConnection(node, 9304);
    t.teardown(() => other.socket.destroy());
    t.equal(await other.roundTrip('hello'), 'hello', 'and another client of the same service is served');
  });
});
