// Names in the order people read them: node2 before node10, web.2 before web.10 (Swarm's CLI sorts so).
// One collator for every comparison: localeCompare with a locale and options builds a new one each call,
// which made a 50-node mesh spend a third of its syncs sorting hostnames.
export const naturalOrder: (a: string, b: string) => number = new Intl.Collator('en', { numeric: true }).compare;
