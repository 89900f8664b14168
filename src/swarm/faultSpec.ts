// A fault as `POST /routemesh/faults` asks for it (Swarm names, Go durations, human sizes), checked and
// turned into the stored FaultSpec (IDs, milliseconds, bytes). Every refusal says what to send instead.
import { parseGoDuration } from '../shared/index.js';
import { FAULT_KINDS, isGlobal, replicasOf } from './model.js';
import type { FaultKind, FaultSpec, FaultTarget, Service, SwarmNode } from './model.js';
import type { ClusterView } from './Store.js';
import { invalidArgument } from './errors.js';
import { MAX_TIMEOUT_MS } from './timer.js';
import { resolveNodeIn, resolveServiceIn } from './SwarmReader.js';
import { isObject } from './specChecks.js';

/** The request's fields, each optional on the wire; which are needed depends on the kind. */
interface FaultRequest {
  Kind?: unknown;
  Task?: unknown;
  Service?: unknown;
  From?: unknown;
  Between?: unknown;
  Latency?: unknown;
  Jitter?: unknown;
  Rate?: unknown;
  After?: unknown;
  Percent?: unknown;
  Delay?: unknown;
  Duration?: unknown;
}

const FIELDS = new Set(['Kind', 'Task', 'Service', 'From', 'Between', 'Latency', 'Jitter', 'Rate', 'After', 'Percent', 'Delay', 'Duration']);

/** The parameters each kind takes (Duration and the target aside), the first of each list required. */
const PARAMETERS: Record<FaultKind, readonly string[]> = {
  'latency': ['Latency', 'Jitter'],
  'bandwidth': ['Rate'],
  'refused': [],
  'reset': ['After'],
  'blackhole': [],
  'loss': ['Percent'],
  'duplicate': ['Percent'],
  'slow-connect': ['Delay'],
  'partition': [],
};

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SIZE_UNITS: Record<string, number> = { b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** A size as docker's flags take one: `1000`, `64kB`, `1.5MB`, `512KiB` (kB and MB are powers of ten, KiB and MiB of two). */
function parseByteSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[(match[2] ?? 'b').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** The longest delay a link holds bytes or a connect for: setTimeout's, past which it would not wait at all. */
const MAX_DELAY = '596h';

/**
 * A duration in whole milliseconds (what the timers take): one that rounds to 0 ms would ask for an effect
 * and have none. `bounded`: the link waits it out on one timer, so it must fit in one.
 */
function durationMs(field: string, value: unknown, { zero = false, bounded = false } = {}): number {
  const ns = typeof value === 'string' ? parseGoDuration(value) : undefined;
  const ms = ns === undefined ? NaN : Math.round(ns / 1e6);
  if (!(ms >= 0) || (!zero && ms === 0)) {
    throw invalidArgument(`${field} ${JSON.stringify(value)} is not a duration: give one like 100ms, 2s or 1m30s${zero ? '' : ', of 1ms or more'}`);
  }
  if (bounded && ms > MAX_TIMEOUT_MS) throw invalidArgument(`${field} ${JSON.stringify(value)} is too long: at most ${MAX_DELAY}`);
  return ms;
}

function bytes(field: string, value: unknown, what: string): number {
  const parsed = typeof value === 'number' ? (Number.isSafeInteger(value) ? value : undefined) : typeof value === 'string' ? parseByteSize(value) : undefined;
  if (parsed === undefined || parsed < 0) throw invalidArgument(`${field} ${JSON.stringify(value)} is not ${what}: give a number of bytes, or one like 64kB, 1MB or 512KiB`);
  return parsed;
}

function named(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') throw invalidArgument(`${field} must be a name or ID`);
  return value;
}

/** `web.3` (a replicated task's slot), `web.<node ID>` (a global task), or a task's ID. */
function taskTarget(view: ClusterView, ref: string): Pick<FaultTarget, 'Service' | 'Slot' | 'TaskNode'> {
  const task = view.task(ref);
  if (task) {
    const service = view.service(task.ServiceID);
    if (!service) throw invalidArgument(`task ${ref} belongs to no service`);
    const ofService = { ID: service.ID, Name: service.Spec.Name };
    if (task.Slot !== undefined && task.Slot > 0) return { Service: ofService, Slot: task.Slot };
    return { Service: ofService, TaskNode: nodeRef(resolveNodeIn(view, task.NodeID ?? '')) };
  }
  const dot = ref.lastIndexOf('.');
  if (dot <= 0) throw invalidArgument(`task ${ref} is not a task name: give one like my-web.3 (the service's name and the task's slot), or a task's ID`);
  const service = serviceOf(view, ref.slice(0, dot));
  const rest = ref.slice(dot + 1);
  const ofService = { ID: service.ID, Name: service.Spec.Name };
  if (isGlobal(service.Spec)) {
    if (rest === '') throw invalidArgument(`task ${ref} names no node: a global service's task is ${service.Spec.Name}.<node name or ID>`);
    return { Service: ofService, TaskNode: nodeRef(resolveNodeIn(view, rest)) };
  }
  const slot = /^[1-9]\d*$/.test(rest) ? Number(rest) : NaN;
  const replicas = replicasOf(service.Spec) ?? 0;
  if (!(slot >= 1 && slot <= replicas)) {
    throw invalidArgument(`service ${service.Spec.Name} has no task ${ref}: its tasks are ${service.Spec.Name}.1 to ${service.Spec.Name}.${replicas}`);
  }
  return { Service: ofService, Slot: slot };
}

function serviceOf(view: ClusterView, ref: string): Service {
  return resolveServiceIn(view, ref);
}

function nodeRef(node: SwarmNode): { ID: string; Name: string } {
  return { ID: node.ID, Name: node.Description.Hostname };
}

/** The request checked against the swarm as `view` has it now; `now` starts its duration. */
export function faultSpecFrom(input: unknown, view: ClusterView, now: number): FaultSpec {
  if (!isObject(input)) throw invalidArgument('a fault is a JSON object: {"Kind": "latency", "Service": "my-web", "Latency": "100ms"}');
  const request = input as FaultRequest;
  const unknown = Object.keys(request).filter((key) => !FIELDS.has(key));
  if (unknown.length) throw invalidArgument(`a fault has no field ${unknown.join(', ')}: its fields are ${[...FIELDS].join(', ')}`);
  const kind = request.Kind;
  if (!FAULT_KINDS.includes(kind as FaultKind)) throw invalidArgument(`fault kind ${JSON.stringify(kind)} is not one of ${FAULT_KINDS.join(', ')}`);
  const spec: FaultSpec = { Kind: kind as FaultKind, Target: target(request, view, kind as FaultKind) };
  const allowed = PARAMETERS[spec.Kind];
  for (const field of ['Latency', 'Jitter', 'Rate', 'After', 'Percent', 'Delay'] as const) {
    if (request[field] !== undefined && !allowed.includes(field)) {
      throw invalidArgument(`${field} does not go with a ${spec.Kind} fault${allowed.length ? `, which takes ${allowed.join(' and ')}` : ''}`);
    }
  }
  const required = allowed[0];
  if (required && request[required as keyof FaultRequest] === undefined) throw invalidArgument(`a ${spec.Kind} fault needs ${required}`);
  if (request.Latency !== undefined) spec.LatencyMs = durationMs('Latency', request.Latency, { bounded: true });
  if (request.Jitter !== undefined) spec.JitterMs = durationMs('Jitter', request.Jitter, { zero: true, bounded: true });
  if (request.Rate !== undefined) {
    spec.BytesPerSecond = bytes('Rate', request.Rate, 'a rate in bytes a second');
    if (spec.BytesPerSecond === 0) throw invalidArgument('Rate 0 would carry nothing: a blackhole fault does that');
  }
  if (request.After !== undefined) spec.AfterBytes = bytes('After', request.After, 'a number of bytes');
  if (request.Percent !== undefined) {
    const percent = request.Percent;
    if (typeof percent !== 'number' || !(percent > 0 && percent <= 100)) throw invalidArgument(`Percent ${JSON.stringify(percent)} must be a number above 0, at most 100`);
    spec.Percent = percent;
  }
  if (request.Delay !== undefined) spec.DelayMs = durationMs('Delay', request.Delay, { bounded: true });
  if (request.Duration !== undefined) spec.ExpiresAt = new Date(now + durationMs('Duration', request.Duration)).toISOString();
  return spec;
}

function target(request: FaultRequest, view: ClusterView, kind: FaultKind): FaultTarget {
  const given = (['Task', 'Service', 'Between'] as const).filter((field) => request[field] !== undefined);
  if (given.length !== 1) throw invalidArgument('a fault needs exactly one of Task (my-web.3), Service (my-web) or Between (["node1", "node2"])');
  if (kind === 'partition' && !request.Between) throw invalidArgument('a partition cuts nodes apart: name them with Between (["node1", "node2"])');
  if (request.Between !== undefined) {
    if (request.From !== undefined) throw invalidArgument('From does not go with Between: a link between two nodes has both as its ends');
    const between = request.Between;
    if (!Array.isArray(between) || between.length !== 2) throw invalidArgument('Between names two nodes: ["node1", "node2"]');
    const [a, b] = between.map((ref, i) => nodeRef(resolveNodeIn(view, named(ref, `Between[${i}]`))));
    if (a!.ID === b!.ID) throw invalidArgument(`Between names ${a!.Name} twice: a link is between two nodes`);
    return { Between: [a!, b!] };
  }
  const from = request.From === undefined ? {} : { From: nodeRef(resolveNodeIn(view, named(request.From, 'From'))) };
  if (request.Task !== undefined) return { ...taskTarget(view, named(request.Task, 'Task')), ...from };
  const service = serviceOf(view, named(request.Service, 'Service'));
  return { Service: { ID: service.ID, Name: service.Spec.Name }, ...from };
}
