// A scenario file (YAML): a cluster, its services, loads, a timeline of actions and what to expect, checked
// whole before anything starts, each mistake said with where it is and what to write instead.
import { parse } from 'yaml';
import { parseGoDuration } from '../../shared/index.js';

export interface ServiceDecl {
  image: string;
  replicas?: number;
  global?: boolean;
  /** `8080:80` or `5353:53/udp`. */
  publish: { published: number; target: number; protocol: 'tcp' | 'udp' }[];
  labels: Record<string, string>;
  env: string[];
  update?: { parallelism?: number; delayMs?: number };
}

export interface LoadDecl {
  service: string;
  /** The node whose published port the load goes through. */
  through: string;
  /** tcp: a new connection per request, or kept alive; udp: one flow. */
  connection: 'new' | 'keep-alive' | 'flow';
  /** Requests (datagrams) a second. */
  rate: number;
  durationMs: number;
  /** When it starts, from the scenario's start. */
  atMs: number;
  /** A request (datagram) not answered within this failed. */
  timeoutMs: number;
}

export type Action =
  | { scale: { service: string; replicas: number } }
  | { update: { service: string; image?: string; env?: string[] } }
  | { drain: string }
  | { activate: string }
  | { fail: string }
  | { recover: string }
  | { fault: { name: string; request: Record<string, unknown> } }
  | { lift: string };

export interface Step {
  atMs: number;
  action: Action;
}

export type Expectation =
  | { failed: { load: string; atMost: number } }
  | { p99: { load: string; underMs: number } }
  | { fair: { load: string; within: number } }
  | { answeredBy: { load: string; atMost?: number; atLeast?: number } }
  | { ejected: { task: string; byMs: number } }
  | { returned: { task: string; byMs: number } }
  | { down: { node: string; byMs: number } }
  | { ready: { node: string; byMs: number } };

export interface Scenario {
  name: string;
  seed: string | number;
  cluster: { nodes: number; heartbeatMs: number; fencePeriodMs?: number };
  services: Record<string, ServiceDecl>;
  loads: Record<string, LoadDecl>;
  timeline: Step[];
  expect: Expectation[];
}

const fail = (where: string, what: string): never => {
  throw new Error(`${where}: ${what}`);
};

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(where, 'is not a mapping (key: value lines)');
  return value as Record<string, unknown>;
}

function only(value: Record<string, unknown>, where: string, keys: readonly string[]): void {
  const extra = Object.keys(value).filter((key) => !keys.includes(key));
  if (extra.length) fail(where, `has no ${extra.join(', ')}: it takes ${keys.join(', ')}`);
}

function text(value: unknown, where: string): string {
  if (typeof value !== 'string' || value === '') fail(where, 'must be a word or name');
  return value as string;
}

function count(value: unknown, where: string, min = 0): number {
  if (!Number.isInteger(value) || (value as number) < min) fail(where, `must be a whole number of at least ${min}`);
  return value as number;
}

function duration(value: unknown, where: string): number {
  const ns = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (ns === undefined || ns < 0) fail(where, `must be a duration like 500ms, 2s or 1m (got ${JSON.stringify(value)})`);
  return Math.round(ns! / 1e6);
}

function percent(value: unknown, where: string): number {
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)%$/.exec(value) : null;
  if (!match) fail(where, `must be a percentage like 20% (got ${JSON.stringify(value)})`);
  return Number(match![1]) / 100;
}

function service(value: unknown, where: string): ServiceDecl {
  const s = record(value, where);
  only(s, where, ['image', 'replicas', 'global', 'publish', 'labels', 'env', 'update']);
  const publish = (Array.isArray(s.publish) ? s.publish : s.publish === undefined ? [] : [s.publish]).map((p, i) => {
    const match = typeof p === 'string' ? /^(\d+):(\d+)(?:\/(tcp|udp))?$/.exec(p) : null;
    if (!match) fail(`${where}.publish[${i}]`, `must be published:target, like 8080:80 or 5353:53/udp (got ${JSON.stringify(p)})`);
    return { published: Number(match![1]), target: Number(match![2]), protocol: (match![3] ?? 'tcp') as 'tcp' | 'udp' };
  });
  const labels = s.labels === undefined ? {} : record(s.labels, `${where}.labels`);
  const update = s.update === undefined ? undefined : record(s.update, `${where}.update`);
  if (update) only(update, `${where}.update`, ['parallelism', 'delay']);
  if (s.global !== undefined && typeof s.global !== 'boolean') fail(`${where}.global`, 'must be true or false');
  return {
    image: text(s.image, `${where}.image`),
    ...(s.replicas !== undefined ? { replicas: count(s.replicas, `${where}.replicas`) } : {}),
    ...(s.global ? { global: true } : {}),
    publish,
    labels: Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, String(v)])),
    env: s.env === undefined ? [] : (Array.isArray(s.env) ? s.env : fail(`${where}.env`, 'must be a list of NAME=value')).map((e, i) => text(e, `${where}.env[${i}]`)),
    ...(update ? {
      update: {
        ...(update.parallelism !== undefined ? { parallelism: count(update.parallelism, `${where}.update.parallelism`) } : {}),
        ...(update.delay !== undefined ? { delayMs: duration(update.delay, `${where}.update.delay`) } : {}),
      },
    } : {}),
  };
}

function load(value: unknown, where: string, services: Record<string, ServiceDecl>): LoadDecl {
  const l = record(value, where);
  only(l, where, ['service', 'through', 'connection', 'rate', 'duration', 'at', 'timeout']);
  const name = text(l.service, `${where}.service`);
  const decl = services[name] ?? fail(`${where}.service`, `names no service of this file (${Object.keys(services).join(', ') || 'none'})`);
  const port = decl.publish[0] ?? fail(`${where}.service`, `service ${name} publishes no port to load`);
  const connection = l.connection ?? (port.protocol === 'udp' ? 'flow' : 'new');
  const allowed = port.protocol === 'udp' ? ['flow'] : ['new', 'keep-alive'];
  if (!allowed.includes(connection as string)) fail(`${where}.connection`, `must be ${allowed.join(' or ')} for a ${port.protocol} port`);
  const rate = l.rate;
  if (typeof rate !== 'number' || !(rate > 0 && rate <= 5000)) fail(`${where}.rate`, 'must be requests a second, above 0 and at most 5000');
  return {
    service: name,
    through: text(l.through ?? 'node1', `${where}.through`),
    connection: connection as LoadDecl['connection'],
    rate: rate as number,
    durationMs: duration(l.duration, `${where}.duration`),
    atMs: l.at === undefined ? 0 : duration(l.at, `${where}.at`),
    timeoutMs: l.timeout === undefined ? 2000 : duration(l.timeout, `${where}.timeout`),
  };
}

const FAULT_FIELDS: Record<string, string> = {
  kind: 'Kind', task: 'Task', service: 'Service', from: 'From', between: 'Between', latency: 'Latency', jitter: 'Jitter',
  rate: 'Rate', after: 'After', percent: 'Percent', delay: 'Delay', duration: 'Duration',
};

function action(step: Record<string, unknown>, where: string): Action {
  const verbs = Object.keys(step).filter((key) => key !== 'at');
  if (verbs.length !== 1) fail(where, 'needs exactly one action: scale, update, drain, activate, fail, recover, fault or lift');
  const verb = verbs[0]!;
  const value = step[verb];
  const at = `${where}.${verb}`;
  switch (verb) {
    case 'scale': {
      const s = record(value, at);
      only(s, at, ['service', 'replicas']);
      return { scale: { service: text(s.service, `${at}.service`), replicas: count(s.replicas, `${at}.replicas`) } };
    }
    case 'update': {
      const u = record(value, at);
      only(u, at, ['service', 'image', 'env']);
      return {
        update: {
          service: text(u.service, `${at}.service`),
          ...(u.image !== undefined ? { image: text(u.image, `${at}.image`) } : {}),
          ...(u.env !== undefined ? { env: (Array.isArray(u.env) ? u.env : fail(`${at}.env`, 'must be a list')).map((e, i) => text(e, `${at}.env[${i}]`)) } : {}),
        },
      };
    }
    case 'drain': case 'activate': case 'fail': case 'recover': case 'lift':
      return { [verb]: text(value, at) } as Action;
    case 'fault': {
      const f = record(value, at);
      only(f, at, ['name', ...Object.keys(FAULT_FIELDS)]);
      const request = Object.fromEntries(Object.entries(f).filter(([key]) => key !== 'name').map(([key, v]) => [FAULT_FIELDS[key]!, v]));
      return { fault: { name: text(f.name, `${at}.name`), request } };
    }
    default:
      return fail(where, `has no action ${verb}: use scale, update, drain, activate, fail, recover, fault or lift`);
  }
}

function expectation(value: unknown, where: string, loads: Record<string, LoadDecl>): Expectation {
  const e = record(value, where);
  const kinds = Object.keys(e);
  if (kinds.length !== 1) fail(where, 'needs exactly one of failed, p99, fair, answeredBy, ejected, returned, down, ready');
  const kind = kinds[0]!;
  const at = `${where}.${kind}`;
  const body = record(e[kind], at);
  const loadOf = (): string => {
    const name = text(body.load, `${at}.load`);
    if (!loads[name]) fail(`${at}.load`, `names no load of this file (${Object.keys(loads).join(', ') || 'none'})`);
    return name;
  };
  switch (kind) {
    case 'failed': only(body, at, ['load', 'atMost']); return { failed: { load: loadOf(), atMost: count(body.atMost, `${at}.atMost`) } };
    case 'p99': only(body, at, ['load', 'under']); return { p99: { load: loadOf(), underMs: duration(body.under, `${at}.under`) } };
    case 'fair': only(body, at, ['load', 'within']); return { fair: { load: loadOf(), within: percent(body.within, `${at}.within`) } };
    case 'answeredBy': {
      only(body, at, ['load', 'atMost', 'atLeast']);
      if (body.atMost === undefined && body.atLeast === undefined) fail(at, 'needs atMost or atLeast (tasks)');
      return {
        answeredBy: {
          load: loadOf(),
          ...(body.atMost !== undefined ? { atMost: count(body.atMost, `${at}.atMost`, 1) } : {}),
          ...(body.atLeast !== undefined ? { atLeast: count(body.atLeast, `${at}.atLeast`, 1) } : {}),
        },
      };
    }
    case 'ejected': case 'returned':
      only(body, at, ['task', 'by']);
      return { [kind]: { task: text(body.task, `${at}.task`), byMs: duration(body.by, `${at}.by`) } } as Expectation;
    case 'down': case 'ready':
      only(body, at, ['node', 'by']);
      return { [kind]: { node: text(body.node, `${at}.node`), byMs: duration(body.by, `${at}.by`) } } as Expectation;
    default:
      return fail(where, `has no expectation ${kind}: use failed, p99, fair, answeredBy, ejected, returned, down or ready`);
  }
}

/** The scenario in `source` (a file's text), checked whole; throws an Error naming the first mistake. */
export function readScenario(source: string, file: string): Scenario {
  let raw: unknown;
  try {
    raw = parse(source);
  } catch (error) {
    throw new Error(`${file} is not YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  const top = record(raw, file);
  only(top, file, ['name', 'seed', 'cluster', 'services', 'loads', 'timeline', 'expect']);
  const cluster = top.cluster === undefined ? {} : record(top.cluster, 'cluster');
  only(cluster, 'cluster', ['nodes', 'heartbeat', 'fencePeriod']);
  const services = Object.fromEntries(Object.entries(record(top.services ?? fail('services', 'are missing: a scenario needs at least one'), 'services'))
    .map(([name, s]) => [name, service(s, `services.${name}`)]));
  const loads = Object.fromEntries(Object.entries(top.loads === undefined ? {} : record(top.loads, 'loads')).map(([name, l]) => [name, load(l, `loads.${name}`, services)]));
  const timeline = (top.timeline === undefined ? [] : Array.isArray(top.timeline) ? top.timeline : fail('timeline', 'must be a list of steps')).map((s, i) => {
    const step = record(s, `timeline[${i}]`);
    return { atMs: duration(step.at, `timeline[${i}].at`), action: action(step, `timeline[${i}]`) };
  }).sort((a, b) => a.atMs - b.atMs);
  const expect = (top.expect === undefined ? [] : Array.isArray(top.expect) ? top.expect : fail('expect', 'must be a list')).map((e, i) => expectation(e, `expect[${i}]`, loads));
  const seed = top.seed ?? 1;
  if (typeof seed !== 'number' && typeof seed !== 'string') fail('seed', 'must be a number or a word');
  return {
    name: top.name === undefined ? file : text(top.name, 'name'),
    seed: seed as string | number,
    cluster: {
      nodes: cluster.nodes === undefined ? 3 : count(cluster.nodes, 'cluster.nodes', 1),
      heartbeatMs: cluster.heartbeat === undefined ? 200 : duration(cluster.heartbeat, 'cluster.heartbeat'),
      ...(cluster.fencePeriod !== undefined ? { fencePeriodMs: duration(cluster.fencePeriod, 'cluster.fencePeriod') } : {}),
    },
    services,
    loads,
    timeline,
    expect,
  };
}
