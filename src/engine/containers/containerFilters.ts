// `docker ps` selection (GET /containers/json): all or running only, the newest `limit`, and the filters
// Docker has for containers that routemesh's have: id, name, label, status, ancestor, network, exited, is-task.
import type { Filters } from '../api/filters.js';
import { matches, matchesLabels, parseFilters } from '../api/filters.js';
import { ApiError } from '../api/http.js';
import type { ContainerFacts } from './ContainerFacts.js';
import { canonicalImage, imageIdOf } from './containerJson.js';

const KEYS = ['id', 'name', 'label', 'status', 'ancestor', 'network', 'exited', 'is-task'] as const;
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

/** `nginx`, `nginx:latest`, `docker.io/library/nginx` name the same image; an ID prefix names it too. */
function isAncestor(c: ContainerFacts, ref: string): boolean {
  const id = imageIdOf(c.image);
  return canonicalImage(c.image) === canonicalImage(ref) || (ref.length >= 4 && (id.startsWith(ref) || id.slice('sha256:'.length).startsWith(ref)));
}

/** Docker matches names as regular expressions; one that does not parse is the client's error. */
function nameMatcher(pattern: string): RegExp {
  try {
    return new RegExp(pattern.replace(/^\//, ''));
  } catch {
    throw new ApiError(400, `invalid filter 'name=${pattern}': not a regular expression`);
  }
}

function check(filters: Filters): void {
  for (const status of filters.get('status') ?? []) {
    if (!STATUSES.includes(status)) throw new ApiError(400, `invalid filter 'status=${status}'`);
  }
  for (const code of filters.get('exited') ?? []) {
    if (!/^-?\d+$/.test(code)) throw new ApiError(400, `invalid filter 'exited=${code}'`);
  }
  for (const value of filters.get('is-task') ?? []) {
    if (value !== 'true' && value !== 'false') throw new ApiError(400, `invalid filter 'is-task=${value}'`);
  }
}

export function selectContainers(all: readonly ContainerFacts[], query: URLSearchParams): ContainerFacts[] {
  const filters = parseFilters(query.get('filters'), KEYS);
  check(filters);
  const limit = Number(query.get('limit') ?? -1);
  // As Docker: a limit, or a status filter other than running, shows stopped containers too.
  const everything = ['1', 'true', 'True'].includes(query.get('all') ?? '') || limit > 0 || (filters.get('status') ?? []).some((s) => s !== 'running');
  const chosen = all
    .filter((c) => everything || c.state === 'running')
    .filter((c) => matches(filters, 'id', (v) => c.id.startsWith(v)))
    .filter((c) => matches(filters, 'name', (v) => nameMatcher(v).test(c.name)))
    .filter((c) => matchesLabels(filters, c.labels))
    .filter((c) => matches(filters, 'status', (v) => v === c.state))
    .filter((c) => matches(filters, 'ancestor', (v) => isAncestor(c, v)))
    .filter((c) => matches(filters, 'network', (v) => Object.entries(c.networks).some(([name, n]) => name === v || (v.length > 0 && n.NetworkID.startsWith(v))) || c.networkMode === v))
    .filter((c) => matches(filters, 'exited', (v) => c.state === 'exited' && c.exitCode === Number(v)))
    .filter((c) => matches(filters, 'is-task', (v) => (v === 'true') === c.task))
    .sort((a, b) => b.created.getTime() - a.created.getTime());
  return limit > 0 ? chosen.slice(0, limit) : chosen;
}
