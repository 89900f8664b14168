// Names in the order people read them: node2 before node10, web.2 before web.10; the order of
// localeCompare(a, b, 'en', { numeric: true }), which the code used before. One collator serves every
// comparison: localeCompare with a locale and options builds a new one at each call, which made a 50-node
// mesh spend a third of its syncs sorting hostnames. (The CLI's own tables and the dashboard use shared/naturalSort.ts, as
// Docker's do; swarm cannot import the CLI.)
export const naturalOrder: (a: string, b: string) => number = new Intl.Collator('en', { numeric: true }).compare;
