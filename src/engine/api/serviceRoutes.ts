// /services: create, list (with ServiceStatus when asked), inspect (with defaults when asked),
// update (versioned, or a rollback to the previous spec) and remove.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue, requireVersion } from './http.js';
import { matches, matchesLabels, parseFilters } from './filters.js';
import type { ClusterView, Manager, Service } from '../../swarm/index.js';
import { isGlobal, replicasOf, withDefaults } from '../../swarm/index.js';
import { randomName } from './randomName.js';

/** Swarm's counts for `service ls`: running tasks on live nodes, against the replicas (or global tasks) wanted. */
function serviceStatus(store: ClusterView, service: Service): { RunningTasks: number; DesiredTasks: number; CompletedTasks: number } {
  const down = new Set(store.nodes().filter((n) => n.Status.State === 'down').map((n) => n.ID));
  const tasks = store.tasksOfService(service.ID).filter((t) => !down.has(t.NodeID));
  const running = tasks.filter((t) => t.Status.State === 'running').length;
  const desired = isGlobal(service.Spec)
    ? tasks.filter((t) => t.DesiredState === 'running').length
    : replicasOf(service.Spec)!;
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: 0 };
}

/**
 * routemesh's addition to one service's inspect output: where each running task really listens (a port
 * below 1024 moves when routemesh runs without root). The docker CLI drops fields it does not know.
 */
function withTaskEndpoints(store: ClusterView, service: Service): Service & { Endpoint: { TaskEndpoints: unknown[] } } {
  const running = store.tasksOfService(service.ID).filter((t) => t.Status.State === 'running' && t.Endpoint);
  const taskEndpoints = running
    .sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0))
    .map((t) => ({ Task: t.Name ?? t.ID, Addr: t.Endpoint!.Addr, Ports: t.Endpoint!.Ports }));
  return { ...service, Endpoint: { ...service.Endpoint, TaskEndpoints: taskEndpoints } };
}

/** A spec without a name gets one, as dockerd gives it (`docker service create nginx`). */
function withName(manager: Manager, input: unknown): unknown {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return input;
  const key = Object.keys(input).find((k) => k.toLowerCase() === 'name');
  const name = key === undefined ? undefined : (input as Record<string, unknown>)[key];
  if (name !== undefined && name !== '') return input;
  const taken = (candidate: string): boolean => manager.store.services().some((s) => s.Spec.Name.toLowerCase() === candidate);
  return { ...input, [key ?? 'Name']: randomName(taken) };
}

export function serviceRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/services$/, async (r) => {
    const { store } = await engine.reader();
    const filters = parseFilters(r.query.get('filters'), ['id', 'label', 'mode', 'name']);
    const withStatus = isTrue(r.query.get('status'));
    const services = store.services()
      .filter((s) =>
        matches(filters, 'id', (v) => s.ID.startsWith(v)) &&
        matches(filters, 'name', (v) => s.Spec.Name.startsWith(v)) &&
        matches(filters, 'mode', (v) => (v === 'global') === isGlobal(s.Spec)) &&
        matchesLabels(filters, s.Spec.Labels))
      .map((s) => (withStatus ? { ...s, ServiceStatus: serviceStatus(store, s) } : s));
    return { status: 200, body: services };
  });

  router.add('POST', /^\/services\/create$/, async (r) => {
    const manager = engine.requireManager();
    const service = await manager.createService(withName(manager, await r.body()));
    return { status: 201, body: { ID: service.ID, Warnings: null } };
  });

  router.add('GET', /^\/services\/([^/]+)$/, async (r) => {
    const reader = await engine.reader();
    const service = withTaskEndpoints(reader.store, reader.resolveService(r.params[0]!));
    if (!isTrue(r.query.get('insertDefaults'))) return { status: 200, body: service };
    return { status: 200, body: { ...service, Spec: withDefaults(service.Spec) } };
  });

  router.add('POST', /^\/services\/([^/]+)\/update$/, async (r) => {
    const manager = engine.requireManager();
    const version = requireVersion(r.query);
    const rollback = r.query.get('rollback');
    if (rollback !== null && rollback !== '' && rollback !== 'previous') {
      throw new ApiError(400, `unrecognized rollback option ${rollback}: use rollback=previous`);
    }
    const body = await r.body();
    await manager.updateService(r.params[0]!, version, body, rollback === 'previous');
    return { status: 200, body: { Warnings: null } };
  });

  router.add('DELETE', /^\/services\/([^/]+)$/, (r) => {
    engine.requireManager().removeService(r.params[0]!);
    return { status: 200 };
  });
}
