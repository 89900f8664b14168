// One node's mesh over a hand-built store: a published port another program holds is said once and
// retried until it frees up, and the listener then serves; nothing is left open after close().
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { Mesh } from '../src/mesh/index.js';
import { Store } from '../src/swarm/index.js';
import type { Service } from '../src/swarm/index.js';
import { waitFor } from './support/cluster.js';
import { connectAndWait } from './support/net.js';
import { deadline } from './support/dns.js';

const NODE = '127.211.0.1';
const PORT = 18080;

function service(): Service {
  const now = new Date().toISOString();
  return {
    ID: 'svc1', Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now,
    Spec: { Name: 'web', Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 0 } } },
    Endpoint: { Spec: {}, Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: PORT, PublishMode: 'ingress' }] },
  };
}

/** A mesh publishing `published` while another program holds its port: it says so once, and retries. */
async function blockedMesh(t: Test, published: Service, protocol: 'tcp' | 'udp'): Promise<{ store: Store; mesh: Mesh; lines: string[] }> {
  const store = new Store();
  store.putService(published);
  const lines: string[] = [];
  const mesh = new Mesh({ node: 'node1', address: NODE, view: store, log: (line) => lines.push(line), retryFirstMs: 20 });
  t.teardown(() => mesh.close());
  mesh.start();
  await mesh.settled();
  t.match(lines, [new RegExp(`^node1: cannot open published port 18080/${protocol} on 127\\.211\\.0\\.1 for service web: EADDRINUSE; retrying until it can$`)]);
  return { store, mesh, lines };
}

t.test('a published port held by another program is retried, logged once, and served once free', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(PORT, NODE, resolve));
  t.teardown(() => { if (blocker.listening) blocker.close(); });
  const { store, mesh, lines } = await blockedMesh(t, service(), 'tcp');
  store.putService({ ...service(), Spec: { ...service().Spec, Labels: { touched: 'yes' } } });
  await waitFor('a few retries', () => mesh.listenerStates().get(`${PORT}/tcp`)!.failures >= 3);
  t.equal(lines.length, 1, 'neither store changes nor retries repeat the message');

  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  await waitFor('the retried listener to open', () => lines.length === 2, 5000);
  t.match(lines[1], /^node1: published port 18080\/tcp on 127\.211\.0\.1 is open now$/);
  // No task runs, so the mesh closes the connection at once instead of refusing it: the listener is ours.
  t.equal(await connectAndWait(NODE, PORT, 1000), 'closed');

  store.deleteService('svc1');
  await waitFor('the listener to close when the port is no longer published', async () => (await connectAndWait(NODE, PORT, 1000)) === 'refused');
});

function udpService(): Service {
  const base = service();
  return { ...base, Endpoint: { Spec: {}, Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: PORT, PublishMode: 'ingress' }] } };
}

t.test('a UDP port held by another program is retried and opens once free', async (t) => {
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => blocker.bind(PORT, NODE, resolve));
  let blocking = true;
  t.teardown(() => { if (blocking) blocker.close(); });
  const { mesh, lines } = await blockedMesh(t, udpService(), 'udp');
  await waitFor('a few retries', () => mesh.listenerStates().get(`${PORT}/udp`)!.failures >= 3);
  t.equal(lines.length, 1, 'retries do not repeat the message');
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  blocking = false;
  await waitFor('the retried listener to open', () => mesh.listenerStates().get(`${PORT}/udp`)?.state === 'open', 5000);
  t.match(lines, [/EADDRINUSE/, /^node1: published port 18080\/udp on 127\.211\.0\.1 is open now$/]);
  t.equal(lines.length, 2);
});

t.test('a UDP port closed while it is still binding does not leave settled() waiting', async (t) => {
  const store = new Store();
  store.putService(udpService());
  const mesh = new Mesh({ node: 'node1', address: NODE, view: store });
  t.teardown(() => mesh.close());
  mesh.start(); // the bind is under way
  store.deleteService('svc1'); // and the port goes before it is done
  await t.resolves(deadline('settled()', mesh.settled(), 2000), 'settled() resolves');
  t.equal(mesh.listenerStates().size, 0);
});
