// A mesh holds VIP listeners and publishes the names only while its VipHolding says its engine holds the
// host's VIPs: it opens them when they come, closes them and empties the zone when they go, and a mesh
// that closes leaves no names behind.
import t from 'tap';
import { Mesh, vipRouteKey } from '../src/mesh/index.js';
import type { VipHolding } from '../src/mesh/index.js';
import { Store } from '../src/swarm/index.js';
import type { ServiceRecord } from '../src/vip-dns/index.js';
import { connectAndWait } from './support/net.js';
import { node, service, task } from './support/swarmObjects.js';

const NODE = '127.46.0.1';
const VIP = '127.47.0.2';
const PORT = 18080;

/** The host's VIPs as a switch the test flips. */
function holding(): VipHolding & { set(held: boolean): void; listeners: Set<() => void> } {
  let held = false;
  const listeners = new Set<() => void>();
  return {
    listeners,
    held: () => held,
    onChange: (listener) => { listeners.add(listener); return () => listeners.delete(listener); },
    set(next) { held = next; for (const listener of listeners) listener(); },
  };
}

t.test('VIP listeners and names follow the holding', async (t) => {
  const store = new Store();
  store.putNode({ ...node('n1'), Status: { State: 'ready', Addr: NODE } });
  store.putService(service('s1', 'web', { vips: [`${VIP}/16`] }));
  store.putTask(task('t1', 's1', { endpoint: { Addr: '127.46.0.10', Ports: [{ Protocol: 'tcp', TargetPort: PORT, ListenPort: PORT }] } }));
  const published: ServiceRecord[][] = [];
  const vips = holding();
  const mesh = new Mesh({ node: 'n1', address: NODE, view: store, vips, dns: { setRecords: (records) => published.push([...records]) } });
  t.teardown(() => mesh.close());
  const key = vipRouteKey(VIP, PORT);

  mesh.start();
  await mesh.settled();
  t.notOk(mesh.listenerStates().has(key), 'not held: no VIP listener');
  t.equal(await connectAndWait(VIP, PORT, 200), 'refused', 'a connection to it is refused');
  t.same(published, [], 'and no names published');

  vips.set(true);
  await mesh.settled();
  t.equal(mesh.listenerStates().get(key)?.state, 'open', 'held: the VIP listens');
  // Accepted, then closed: the task's address has nothing listening.
  t.not(await connectAndWait(VIP, PORT, 200), 'refused', 'a connection to it is accepted');
  t.same(published.at(-1)?.map((r) => [r.name, r.vip]), [['web', VIP]], 'and the names are published');

  vips.set(false);
  await mesh.settled();
  t.notOk(mesh.listenerStates().has(key), 'let go: the VIP listener is closed');
  t.equal(await connectAndWait(VIP, PORT, 200), 'refused', 'a connection to it is refused again');
  t.same(published.at(-1), [], 'and the names are taken back');

  vips.set(true);
  await mesh.settled();
  t.equal(mesh.listenerStates().get(key)?.state, 'open', 'held again: the VIP listens again');
  await mesh.close();
  t.same(published.at(-1), [], 'a closed mesh leaves no names behind');
  t.equal(vips.listeners.size, 0, 'and no longer hears the holding');
});
