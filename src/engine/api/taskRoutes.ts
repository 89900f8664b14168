// /tasks: the list with Swarm's filters (service, node, desired-state, id, name, label, and the
// CLI's private `_up-to-date`), and one task by ID.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';
import { isUpToDate } from '../../swarm/index.js';
import { matches, matchesLabels, parseFilters } from './filters.js';

export function taskRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/tasks$/, async (r) => {
    const { store } = await engine.reader();
    const filters = parseFilters(r.query.get('filters'), ['_up-to-date', 'desired-state', 'id', 'label', 'name', 'node', 'service']);
    const services = store.services();
    const serviceIds = new Set<string>();
    for (const ref of filters.get('service') ?? []) {
      for (const s of services) if (s.ID === ref || s.Spec.Name === ref || s.ID.startsWith(ref)) serviceIds.add(s.ID);
    }
    const nodes = store.nodes();
    const upToDate = filters.has('_up-to-date');
    const tasks = store.tasks().filter((t) => {
      if (filters.has('service') && !serviceIds.has(t.ServiceID)) return false;
      if (upToDate) {
        const service = services.find((s) => s.ID === t.ServiceID);
        if (!service || !isUpToDate(t, service)) return false;
      }
      return matches(filters, 'id', (v) => t.ID.startsWith(v)) &&
        matches(filters, 'name', (v) => (t.Name ?? '').startsWith(v)) &&
        matches(filters, 'desired-state', (v) => t.DesiredState === v || (v === 'accepted' && t.DesiredState === 'running')) &&
        matches(filters, 'node', (v) => t.NodeID === v || nodes.some((n) => n.ID === t.NodeID && n.Description.Hostname === v)) &&
        matchesLabels(filters, t.Labels);
    });
    return { status: 200, body: tasks };
  });

  router.add('GET', /^\/tasks\/([^/]+)$/, async (r) => {
    const { store } = await engine.reader();
    const ref = r.params[0]!;
    const task = store.task(ref) ?? store.tasks().find((t) => t.ID.startsWith(ref));
    if (!task) throw new ApiError(404, `task ${ref} not found`);
    return { status: 200, body: task };
  });
}
