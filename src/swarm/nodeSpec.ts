// Checks a NodeSpec as `node update` sends it (the whole spec, not a patch), so a wrong type never
// reaches the store where it would break every client that lists nodes.
import type { NodeSpec } from './model.js';
import { invalidArgument } from './errors.js';
import { checkStringMap, isObject } from './specChecks.js';

export function normalizeNodeSpec(input: unknown): NodeSpec {
  if (!isObject(input)) throw invalidArgument('the node spec must be a JSON object like {"Role":"worker","Availability":"active","Labels":{}}');
  const role = input.Role ?? 'worker';
  const availability = input.Availability ?? 'active';
  if (role !== 'manager' && role !== 'worker') throw invalidArgument(`node role must be manager or worker, got ${JSON.stringify(role)}`);
  if (availability !== 'active' && availability !== 'pause' && availability !== 'drain') {
    throw invalidArgument(`node availability must be active, pause or drain, got ${JSON.stringify(availability)}`);
  }
  if (input.Name !== undefined && typeof input.Name !== 'string') throw invalidArgument('node Name must be a string');
  const labels = checkStringMap(input.Labels, 'node Labels');
  if (Object.keys(labels).some((key) => key.trim() === '')) {
    throw invalidArgument('invalid label: empty name: a node label needs a key, like --label-add zone=east');
  }
  return { ...(input.Name ? { Name: input.Name as string } : {}), Labels: labels, Role: role, Availability: availability };
}
