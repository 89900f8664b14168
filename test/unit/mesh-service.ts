// MeshService: a service kept up to date a task at a time must equal what the pure functions build from
// the whole cluster (serviceRoutingTable's pools, in their order, and dnsRecords' record), after every
// step of a long seeded walk of task changes: scheduling, starting, fencing, health, stopping, deletion.
import t from 'tap';
import { Pool } from '../../src/lb/index.js';
import type { Backend, BackendDesired } from '../../src/lb/index.js';
import { MeshService, dnsRecords, nodesUpOf, poolOrder, serviceRoutingTable } from '../../src/mesh/index.js';
import type { ServicePort } from '../../src/mesh/index.js';
import type { ServiceRecord } from '../../src/vip-dns/index.js';
import type { Service, Task } from '../../src/swarm/index.js';
import { node, port, service, task } from '../support/swarmObjects.js';

const nodes = [node('n1'), node('n2'), node('n3', 'down')];
const nodesUp = nodesUpOf(nodes);

/** mulberry32: the same walk on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function member(backend: Backend): BackendDesired {
  return {
    id: backend.id, host: backend.host, port: backend.port, state: backend.state, label: backend.label, weight: backend.weight,
    ...(backend.unhealthy ? { unhealthy: true } : {}),
  };
}

/** Records compare as sets: the server shuffles every answer. */
function normalised(record: ServiceRecord): ServiceRecord {
  return { ...record, tasks: [...record.tasks].sort((a, b) => a.name.localeCompare(b.name)), networks: [...record.networks ?? []].sort() };
}

/** One step of a task's life, picked at random among those that apply to it now. */
function step(current: Task | undefined, id: string, slot: number, next: () => number): Task | undefined {
  const pick = <T>(options: T[]): T => options[Math.floor(next() * options.length)]!;
  const address = `127.20.${slot >> 8}.${slot & 255}`;
  const ports = (...targets: number[]) => ({ Addr: address, Ports: targets.map((p) => ({ Protocol: 'tcp' as const, TargetPort: p, ListenPort: p + (slot % 2) * 10000 })) });
  if (!current) return task(id, 's1', { slot, state: 'pending', endpoint: null, node: pick(['n1', 'n2', 'n3']), networks: pick([[], ['ingress'], ['ingress', 'front']]) });
  const state = current.Status.State;
  const base = { slot, node: current.NodeID, networks: (current.NetworksAttachments ?? []).map((a) => a.Network.Spec.Name) };
  if (state === 'pending') return task(id, 's1', { ...base, state: 'assigned', endpoint: null });
  if (state === 'assigned') return task(id, 's1', { ...base, state: 'running', endpoint: pick([ports(80), ports(80), ports(80, 9090)]), ...pick([{}, { health: 'healthy' as const }]) });
  if (state === 'running' && current.DesiredState === 'running') {
    const endpoint = current.Endpoint!;
    return pick([
      task(id, 's1', { ...base, endpoint, desired: 'shutdown' }),
      task(id, 's1', { ...base, endpoint, health: 'unhealthy' }),
      task(id, 's1', { ...base, endpoint, health: 'healthy' }),
    ]);
  }
  if (state === 'running') return task(id, 's1', { ...base, state: 'shutdown', endpoint: current.Endpoint!, desired: current.DesiredState });
  return undefined; // removed from the store
}

t.test('task by task, a service equals what the whole view builds, at every step of a walk', async (t) => {
  const svc: Service = service('s1', 'web', { ports: [port(8080, 80)], vips: ['127.10.0.2/16'] });
  const next = random(14);
  const tasks = new Map<string, Task>();
  let made = 0;
  const build = (remembered?: readonly ServicePort[]): MeshService => new MeshService(svc, [...tasks.values()], nodesUp, { withVips: true }, remembered);
  let mesh = build();
  const pools = new Map<string, Pool>();
  const reset = (): void => {
    pools.clear();
    for (const [key, desired] of mesh.table.pools) {
      const pool = new Pool();
      pool.set(desired);
      pools.set(key, pool);
    }
  };
  reset();
  let rebuilds = 0;
  let mismatches = 0;
  for (let i = 0; i < 600; i++) {
    const live = [...tasks.keys()];
    const id = live.length && (next() < 0.8 || live.length > 40) ? live[Math.floor(next() * live.length)]! : `t${++made}`;
    const slot = Number(id.slice(1));
    const changed = step(tasks.get(id), id, slot, next);
    if (changed) tasks.set(id, changed);
    else tasks.delete(id);
    const changes = mesh.taskChanged(id, changed, nodesUp);
    if (!changes) {
      // A port not seen yet: the mesh makes the service again, remembering the ports it had.
      rebuilds++;
      mesh = build(mesh.ports);
      reset();
    } else {
      for (const [key, desired] of changes) pools.get(key)!.update([[id, desired]], poolOrder);
    }
    const expected = serviceRoutingTable(svc, [...tasks.values()], nodesUp, { withVips: true, targetPorts: new Map([[svc.ID, mesh.ports]]) });
    const actual = new Map([...pools].map(([key, pool]) => [key, pool.backends.map(member)]));
    const record = dnsRecords([svc], [...tasks.values()], nodes, new Map([[svc.ID, mesh.ports]]))[0]!;
    const same = JSON.stringify([...actual]) === JSON.stringify([...expected.pools]) &&
      JSON.stringify(normalised(mesh.record())) === JSON.stringify(normalised(record));
    if (!same) {
      mismatches++;
      t.same([...actual], [...expected.pools], `pools after step ${i} (${id})`);
      t.same(normalised(mesh.record()), normalised(record), `record after step ${i} (${id})`);
      break;
    }
  }
  t.equal(mismatches, 0, 'pools (members and order) and the DNS record equal the pure functions\' at every step');
  t.ok(rebuilds > 0 && rebuilds < 3, `a port not seen before made the service again (${rebuilds} times)`);
  t.ok(made > 40, `the walk went through many tasks (${made})`);
});

t.test('a record is the same object until a name changes', async (t) => {
  const svc = service('s1', 'web', { vips: ['127.10.0.2/16'] });
  const mesh = new MeshService(svc, [task('a', 's1', { slot: 1 })], nodesUp, { withVips: true });
  const first = mesh.record();
  mesh.taskChanged('b', task('b', 's1', { slot: 2, state: 'assigned', endpoint: null }), nodesUp);
  t.equal(mesh.record(), first, 'a task not yet serving changes no name');
  mesh.taskChanged('b', task('b', 's1', { slot: 2 }), nodesUp);
  t.not(mesh.record(), first, 'a task that serves is named');
  t.same(mesh.record().tasks.map((r) => r.name).sort(), ['s1.1.a', 's1.2.b']);
});

t.test('a new spec that routes as the old one is taken in place; one that routes otherwise is not', async (t) => {
  const svc = service('s1', 'web', { ports: [port(8080, 80)], vips: ['127.10.0.2/16'] });
  const mesh = new MeshService(svc, [task('a', 's1')], nodesUp, { withVips: true });
  const scaled = structuredClone(svc);
  scaled.Spec.Mode = { Replicated: { Replicas: 5 } };
  t.ok(mesh.serviceChanged(scaled), 'a scale routes as before');
  t.equal(mesh.service, scaled, 'and the mesh holds the new spec');
  const relabelled = structuredClone(scaled);
  relabelled.Spec.Labels = { 'routemesh.lb.algorithm': 'least-conn' };
  t.notOk(mesh.serviceChanged(relabelled), 'new balancing labels make the table again');
  const republished = structuredClone(scaled);
  republished.Endpoint.Ports = [port(8081, 80)];
  t.notOk(mesh.serviceChanged(republished), 'a new published port makes the table again');
});
