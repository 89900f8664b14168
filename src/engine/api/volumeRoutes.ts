// /volumes: this node's own volumes (Docker's `local` driver), in or out of a swarm: create, list (filters
// dangling, driver, label, name), inspect, remove (refused while a task of this node uses it) and prune.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';
import { matches, matchesLabels, parseFilters } from './filters.js';

export function volumeRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/volumes$/, async (r) => {
    const filters = parseFilters(r.query.get('filters'), ['dangling', 'driver', 'label', 'name']);
    for (const value of filters.get('dangling') ?? []) {
      if (!['true', 'false', '1', '0'].includes(value)) throw new ApiError(400, `invalid filter 'dangling=${value}'`);
    }
    const volumes = (await engine.volumes.list()).filter((v) =>
      matches(filters, 'name', (name) => v.Name.includes(name)) &&
      matches(filters, 'driver', (driver) => driver === v.Driver) &&
      matches(filters, 'dangling', (d) => (d === 'true' || d === '1') === (engine.volumeUsers(v.Name).length === 0)) &&
      matchesLabels(filters, v.Labels));
    return { status: 200, body: { Volumes: volumes, Warnings: null } };
  });

  router.add('POST', /^\/volumes\/create$/, async (r) => {
    const body = (await r.body()) ?? {};
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'the volume spec must be a JSON object like {"Name":"data"}');
    return { status: 201, body: await engine.volumes.create(body) };
  });

  router.add('POST', /^\/volumes\/prune$/, async (r) => {
    const filters = parseFilters(r.query.get('filters'), ['all', 'label']);
    const all = (filters.get('all') ?? []).some((v) => v === 'true' || v === '1');
    const removed: string[] = [];
    let reclaimed = 0;
    for (const volume of await engine.volumes.list()) {
      // Docker prunes only anonymous volumes unless asked for all (API 1.42 on).
      if ((!all && !/^[0-9a-f]{64}$/.test(volume.Name)) || !matchesLabels(filters, volume.Labels) || engine.volumeUsers(volume.Name).length) continue;
      reclaimed += await engine.volumes.size(volume);
      await engine.volumes.remove(volume.Name, [], false);
      removed.push(volume.Name);
    }
    return { status: 200, body: { VolumesDeleted: removed, SpaceReclaimed: reclaimed } };
  });

  router.add('GET', /^\/volumes\/([^/]+)$/, async (r) => ({ status: 200, body: await engine.volumes.inspect(r.params[0]!) }));

  router.add('DELETE', /^\/volumes\/([^/]+)$/, async (r) => {
    const name = r.params[0]!;
    await engine.volumes.remove(name, engine.volumeUsers(name), isTrue(r.query.get('force')));
    return { status: 204 };
  });
}
