// The engine API's `filters` query parameter: JSON mapping each key to {"value":true,...}
// (or the legacy {"key":["value"]}). Unknown keys are refused, as the daemon does, where it does.
import { ApiError } from './http.js';

export type Filters = Map<string, string[]>;

/** `allowed`: the keys taken, or 'any' (as /events takes any, and ignores those it does not know). */
export function parseFilters(raw: string | null, allowed: readonly string[] | 'any'): Filters {
  const filters: Filters = new Map();
  if (!raw) return filters;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError(400, `invalid filter: filters must be JSON like {"name":{"web":true}}, got ${raw}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, 'invalid filter: filters must be a JSON object');
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (allowed !== 'any' && !allowed.includes(key)) throw new ApiError(400, `invalid filter '${key}'`);
    let values: string[];
    if (Array.isArray(value)) values = value.map(String);
    else if (typeof value === 'object' && value !== null) values = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k]);
    else throw new ApiError(400, `invalid filter '${key}': expected {"value":true}`);
    filters.set(key, values);
  }
  return filters;
}

/** True when the filter is absent or any of its values matches. */
export function matches(filters: Filters, key: string, test: (value: string) => boolean): boolean {
  const values = filters.get(key);
  return !values || values.length === 0 || values.some(test);
}

/** `label` filters: `key` or `key=value`, all of which must match. */
export function matchesLabels(filters: Filters, labels: Record<string, string> | undefined): boolean {
  const values = filters.get('label');
  if (!values) return true;
  return values.every((v) => {
    const eq = v.indexOf('=');
    if (eq < 0) return labels?.[v] !== undefined;
    return labels?.[v.slice(0, eq)] === v.slice(eq + 1);
  });
}
