// Whether two specs say the same thing. Clients re-encode what they read (the docker CLI in its Go
// struct order, adding empty objects like "Placement":{}), so key order and zero values must not count:
// a `service scale` would otherwise look like a new template and redeploy every task.

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '' || value === 0 || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.keys(value as object).length === 0;
}

/** Sorted keys, zero values dropped (as Go's omitempty and protobuf do), recursively. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const inner = canonical((value as Record<string, unknown>)[key]);
    if (!isEmpty(inner)) out[key] = inner;
  }
  return out;
}

export function sameSpec(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
