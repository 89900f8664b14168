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

/**
 * Each spec's canonical text, made once: an update compares every task of the service with its template
 * at each step. Specs are never changed in place (the store writes changed copies), so it stays true.
 */
const canonicalText = new WeakMap<object, string>();

function textOf(spec: unknown): string {
  if (typeof spec !== 'object' || spec === null) return JSON.stringify(canonical(spec));
  let text = canonicalText.get(spec);
  if (text === undefined) canonicalText.set(spec, (text = JSON.stringify(canonical(spec))));
  return text;
}

export function sameSpec(a: unknown, b: unknown): boolean {
  return a === b || textOf(a) === textOf(b);
}
