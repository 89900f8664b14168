// /nodes: list (with filters), inspect by ID, hostname or ID prefix, update with a version, remove.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { isTrue, requireVersion } from './http.js';
import { matches, matchesLabels, parseFilters } from './filters.js';

export function nodeRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/nodes$/, async (r) => {
    const reader = await engine.reader();
    const filters = parseFilters(r.query.get('filters'), ['id', 'label', 'node.label', 'membership', 'name', 'node.name', 'role']);
    const nodes = reader.store.nodes().filter((n) =>
      matches(filters, 'id', (v) => n.ID.startsWith(v)) &&
      matches(filters, 'name', (v) => n.Description.Hostname.startsWith(v) || (n.Spec.Name ?? '').startsWith(v)) &&
      matches(filters, 'role', (v) => n.Spec.Role === v) &&
      matches(filters, 'membership', (v) => v === 'accepted') &&
      matchesLabels(filters, n.Description.Engine.Labels) &&
      matchesLabels(new Map([['label', filters.get('node.label') ?? []]]), n.Spec.Labels));
    return { status: 200, body: nodes };
  });

  router.add('GET', /^\/nodes\/([^/]+)$/, async (r) => ({ status: 200, body: (await engine.reader()).resolveNode(r.params[0]!) }));

  router.add('POST', /^\/nodes\/([^/]+)\/update$/, async (r) => {
    const manager = engine.requireManager();
    const version = requireVersion(r.query);
    manager.updateNode(r.params[0]!, version, await r.body());
    return { status: 200 };
  });

  router.add('DELETE', /^\/nodes\/([^/]+)$/, (r) => {
    engine.requireManager().removeNode(r.params[0]!, isTrue(r.query.get('force')));
    return { status: 200 };
  });
}
