// A node's answer to GET /routemesh/mesh, checked before a manager passes it on to its pages: what a broken
// or hostile node sends must never reach them as pools (the page reads every field), nor break the feed.
import { LINK_FAULT_FIELDS, MEMBER_STATES } from '../lb/index.js';
import { ALGORITHMS, MODES } from '../swarm/index.js';
import { POOL_COUNTS } from '../mesh/index.js';
import type { MeshReport, PoolMemberReport, PoolReport } from '../mesh/index.js';

const STATES = new Set<string>(MEMBER_STATES);
const COUNTS = new Set<string>(POOL_COUNTS);
const ALGORITHM_NAMES = new Set<string>(ALGORITHMS);
const MODE_NAMES = new Set<string>(MODES);

/** The answer as a report, or throws saying what in it is not one. */
export function checkedMeshReport(body: unknown): MeshReport {
  const report = object(body, 'the answer');
  text(report.node, 'node');
  text(report.at, 'at');
  count(report.windowSeconds, 'windowSeconds');
  list(report.pools, 'pools').forEach((pool, i) => checkPool(pool, `pools[${i}]`));
  return report as unknown as MeshReport;
}

function checkPool(value: unknown, where: string): void {
  const pool = object(value, where) as Record<keyof PoolReport, unknown>;
  text(pool.serviceId, `${where}.serviceId`);
  text(pool.service, `${where}.service`);
  count(pool.targetPort, `${where}.targetPort`);
  oneOf(pool.protocol, new Set(['tcp', 'udp']), `${where}.protocol`);
  oneOf(pool.mode, MODE_NAMES, `${where}.mode`);
  oneOf(pool.algorithm, ALGORITHM_NAMES, `${where}.algorithm`);
  oneOf(pool.counts, COUNTS, `${where}.counts`);
  if (typeof pool.local !== 'boolean') throw new Error(`${where}.local is not true or false`);
  list(pool.members, `${where}.members`).forEach((member, i) => checkMember(member, `${where}.members[${i}]`));
}

function checkMember(value: unknown, where: string): void {
  const member = object(value, where) as Record<keyof PoolMemberReport, unknown>;
  for (const key of ['task', 'name', 'address'] as const) text(member[key], `${where}.${key}`);
  oneOf(member.state, STATES, `${where}.state`);
  for (const key of ['weight', 'active', 'recent', 'total', 'ejections', 'timesEjected'] as const) count(member[key], `${where}.${key}`);
  if (member.ejectedForMs !== undefined) count(member.ejectedForMs, `${where}.ejectedForMs`);
  if (member.fault !== undefined) {
    for (const [key, field] of Object.entries(object(member.fault, `${where}.fault`))) {
      const type = LINK_FAULT_FIELDS[key as keyof typeof LINK_FAULT_FIELDS];
      if (!type) throw new Error(`${where}.fault.${key} is not a fault's field`);
      if (type === 'number') count(field, `${where}.fault.${key}`);
      else if (typeof field !== 'boolean') throw new Error(`${where}.fault.${key} is not true or false`);
    }
  }
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} is not an object`);
  return value as Record<string, unknown>;
}

function list(value: unknown, where: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${where} is not a list`);
  return value;
}

function text(value: unknown, where: string): void {
  if (typeof value !== 'string') throw new Error(`${where} is not a string`);
}

function count(value: unknown, where: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${where} is not a number of 0 or more`);
}

function oneOf(value: unknown, allowed: ReadonlySet<string>, where: string): void {
  if (typeof value !== 'string' || !allowed.has(value)) throw new Error(`${where} is not one of ${[...allowed].join(', ')}`);
}
