// /secrets and /configs: create, list (filters id, label, name, names), inspect, update (labels only)
// and remove, on a manager (forwarded to the leader). A secret's data never leaves through the API, as
// swarmkit clears it before answering; a config's is shown (`docker config inspect` prints it).
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { requireVersion } from './http.js';
import { matches, matchesLabels, parseFilters } from './filters.js';
import { MAX_DATA_BYTES, withoutData } from '../../swarm/index.js';
import type { Config, Manager, SecretKind, SecretKindName, SecretReads, SwarmReader } from '../../swarm/index.js';

/** What the API shows of one: a secret without its Data. */
const shown = (kind: SecretKindName, object: Config): Config => (kind === 'config' ? object : withoutData(object));

export function secretRoutes(router: Router, engine: EngineContext, kind: SecretKindName): void {
  const path = `/${kind}s`;
  const of = (manager: Manager): SecretKind => (kind === 'secret' ? manager.secrets : manager.configs);
  const readsOf = (reader: SwarmReader): SecretReads => (kind === 'secret' ? reader.secrets : reader.configs);
  // The body of the largest allowed data in base64, with room for the name and labels.
  const maxBody = Math.ceil(MAX_DATA_BYTES[kind] / 3) * 4 + 64 * 1024;

  router.add('GET', new RegExp(`^${path}$`), async (r) => {
    const objects = readsOf(await engine.reader()).list();
    const filters = parseFilters(r.query.get('filters'), ['id', 'label', 'name', 'names']);
    const listed = objects.filter((o) =>
      matches(filters, 'id', (v) => o.ID.startsWith(v)) &&
      matches(filters, 'name', (v) => o.Spec.Name.startsWith(v)) &&
      matches(filters, 'names', (v) => o.Spec.Name === v) &&
      matchesLabels(filters, o.Spec.Labels));
    return { status: 200, body: listed.map((o) => shown(kind, o)) };
  });

  router.add('POST', new RegExp(`^${path}/create$`), async (r) => {
    const objects = of(engine.requireManager());
    const created = objects.create(await r.body(maxBody));
    return { status: 201, body: { ID: created.ID } };
  });

  router.add('GET', new RegExp(`^${path}/([^/]+)$`), async (r) => ({ status: 200, body: shown(kind, readsOf(await engine.reader()).resolve(r.params[0]!)) }));

  router.add('POST', new RegExp(`^${path}/([^/]+)/update$`), async (r) => {
    const objects = of(engine.requireManager());
    const version = requireVersion(r.query);
    objects.update(r.params[0]!, version, await r.body(maxBody));
    return { status: 200 };
  });

  router.add('DELETE', new RegExp(`^${path}/([^/]+)$`), (r) => {
    of(engine.requireManager()).remove(r.params[0]!);
    return { status: 204 };
  });
}
