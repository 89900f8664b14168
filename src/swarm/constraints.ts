// Placement constraints as Swarm writes them (`node.role == worker`, `node.labels.env != dev`):
// parsed once at create/update, so a typo is refused there instead of leaving tasks pending.
import type { SwarmNode } from './model.js';
import { invalidArgument } from './errors.js';

export interface Constraint {
  key: string;
  equal: boolean;
  value: string;
}

const KEYS = /^(node\.id|node\.hostname|node\.role|node\.platform\.os|node\.platform\.arch|node\.labels\.[^\s]+|engine\.labels\.[^\s]+)$/;

export function parseConstraint(expression: string): Constraint {
  const valueless = /^\s*([^\s=!]+)\s*(==|!=)\s*$/.exec(expression);
  if (valueless) {
    throw invalidArgument(`constraint '${expression.trim()}' has no value after ${valueless[2]}: write the value to compare with, like 'node.role == worker'`);
  }
  const match = /^\s*([^\s=!]+)\s*(==|!=)\s*(\S.*?)\s*$/.exec(expression);
  if (!match) {
    throw invalidArgument(`constraint expected one operator from ==, !=: '${expression}' (write it like 'node.role == worker')`);
  }
  const [, key, operator, value] = match;
  if (!KEYS.test(key!.toLowerCase())) {
    throw invalidArgument(`constraint key '${key}' is not supported: use node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>`);
  }
  if (/^[=!<>]/.test(value!)) {
    throw invalidArgument(`constraint value '${value}' is invalid: write one operator, like 'node.role == worker'`);
  }
  return { key: key!, equal: operator === '==', value: value! };
}

function nodeValue(node: SwarmNode, key: string): string | undefined {
  const lower = key.toLowerCase();
  if (lower === 'node.id') return node.ID;
  if (lower === 'node.hostname') return node.Description.Hostname;
  if (lower === 'node.role') return node.Spec.Role;
  if (lower === 'node.platform.os') return node.Description.Platform.OS;
  if (lower === 'node.platform.arch') return node.Description.Platform.Architecture;
  if (lower.startsWith('node.labels.')) return node.Spec.Labels[key.slice('node.labels.'.length)];
  if (lower.startsWith('engine.labels.')) return node.Description.Engine.Labels?.[key.slice('engine.labels.'.length)];
  return undefined;
}

/** Swarm compares case-insensitively, and a missing label satisfies only `!=`. */
export function nodeSatisfies(node: SwarmNode, constraints: readonly Constraint[]): boolean {
  return constraints.every((c) => {
    const actual = nodeValue(node, c.key);
    const same = actual !== undefined && actual.toLowerCase() === c.value.toLowerCase();
    return c.equal ? same : !same;
  });
}
