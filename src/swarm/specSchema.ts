// The JSON type of every field of a ServiceSpec and of the swarm's Spec, as Docker's Go structs declare it
// (api/types/swarm, mount, container), checked before anything is read: a value Go cannot decode, once
// stored, makes every docker CLI that lists or inspects it fail. Keys are matched to fields as Go's decoder matches them
// and renamed to the field's own name, so what is stored, what runs and what a docker CLI decodes agree.
import { isIP } from 'node:net';
import { SwarmError } from './errors.js';
import { isObject } from './specChecks.js';

type Scalar = 'string' | 'bool' | 'int' | 'int64' | 'uint32' | 'uint64' | 'float32' | 'duration' | 'bytes' | 'ip';
interface Struct { struct: string; fields: Record<string, Shape>; byFold: Map<string, string> }
type Shape = Scalar | Struct | { list: Shape } | { map: Shape };

const struct = (name: string, fields: Record<string, Shape>): Struct =>
  ({ struct: name, fields, byFold: new Map(Object.keys(fields).map((field) => [fold(field), field])) });

/**
 * Go's case folding of a JSON key (encoding/json's foldName: each letter to upper(lower(c)) by Unicode's
 * simple mappings), so `stopgraceperiod`, and `ſtopGracePeriod` with a long s, are StopGracePeriod to Go.
 */
function fold(key: string): string {
  let out = '';
  for (const c of key) {
    // JavaScript maps by the full mappings; where one gives several letters the simple one is the letter itself,
    // but for İ, whose simple lower case is i.
    const lower = c === '\u0130' ? 'i' : [...c.toLowerCase()].length === 1 ? c.toLowerCase() : c;
    const upper = lower.toUpperCase();
    out += [...upper].length === 1 ? upper : lower;
  }
  return out;
}
const list = (of: Shape): Shape => ({ list: of });
const map = (of: Shape): Shape => ({ map: of });
const strings = list('string');
const stringMap = map('string');

const TWO_63 = 2 ** 63;
/** What an int64 field says: JSON.parse reads 9223372036854775807 as 2^63, so Go's very largest is refused here. */
const INT64 = 'a whole number below 2^63 (int64; numbers are read as doubles here, so 9223372036854775807 itself reads as 2^63 and is refused)';
const isInt64 = (v: number): boolean => Number.isInteger(v) && v >= -TWO_63 && v < TWO_63;
/** Go's name of each scalar, its JSON kind, and the values it holds (JSON.parse has made every number a double). */
const SCALARS: Record<Scalar, { go: string; json: 'string' | 'bool' | 'number'; holds: (v: never) => boolean; expected: string }> = {
  string: { go: 'string', json: 'string', holds: () => true, expected: 'a string' },
  bool: { go: 'bool', json: 'bool', holds: () => true, expected: 'true or false' },
  int: { go: 'int', json: 'number', holds: isInt64, expected: INT64 },
  int64: { go: 'int64', json: 'number', holds: isInt64, expected: INT64 },
  uint32: { go: 'uint32', json: 'number', holds: (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff, expected: 'a whole number from 0 to 4294967295 (uint32)' },
  uint64: { go: 'uint64', json: 'number', holds: (v: number) => Number.isInteger(v) && v >= 0 && v < 2 ** 64, expected: 'a whole number from 0 to 18446744073709551615 (uint64)' },
  float32: { go: 'float32', json: 'number', holds: (v: number) => Math.abs(v) <= 3.4028234663852886e38, expected: 'a number within float32\'s range' },
  duration: {
    go: 'time.Duration', json: 'number', holds: isInt64,
    expected: 'a whole number of nanoseconds below 2^63 (int64), like 10000000000 for 10s (numbers are read as doubles here, so 9223372036854775807 itself reads as 2^63 and is refused)',
  },
  bytes: { go: '[]uint8', json: 'string', holds: (v: string) => v.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(v), expected: 'base64 text' },
  ip: { go: 'netip.Addr', json: 'string', holds: (v: string) => v === '' || isIP(v) !== 0, expected: 'an IP address' },
};

const DRIVER = struct('swarm.Driver', { Name: 'string', Options: stringMap });
const FILE_TARGET = { Name: 'string', UID: 'string', GID: 'string', Mode: 'uint32' } as const;
/** A health check's durations. */
export const HEALTH_DURATIONS = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const;

const MOUNT = struct('mount.Mount', {
  Type: 'string', Source: 'string', Target: 'string', ReadOnly: 'bool', Consistency: 'string',
  BindOptions: struct('mount.BindOptions', {
    Propagation: 'string', NonRecursive: 'bool', CreateMountpoint: 'bool', ReadOnlyNonRecursive: 'bool', ReadOnlyForceRecursive: 'bool',
  }),
  VolumeOptions: struct('mount.VolumeOptions', { NoCopy: 'bool', Labels: stringMap, Subpath: 'string', DriverConfig: DRIVER }),
  ImageOptions: struct('mount.ImageOptions', { Subpath: 'string' }),
  TmpfsOptions: struct('mount.TmpfsOptions', { SizeBytes: 'int64', Mode: 'uint32', Options: list(strings) }),
  ClusterOptions: struct('mount.ClusterOptions', {}),
});

const CONTAINER_SPEC = struct('swarm.ContainerSpec', {
  Image: 'string', Labels: stringMap, Command: strings, Args: strings, Hostname: 'string', Env: strings, Dir: 'string',
  User: 'string', Groups: strings,
  Privileges: struct('swarm.Privileges', {
    CredentialSpec: struct('swarm.CredentialSpec', { Config: 'string', File: 'string', Registry: 'string' }),
    SELinuxContext: struct('swarm.SELinuxContext', { Disable: 'bool', User: 'string', Role: 'string', Type: 'string', Level: 'string' }),
    Seccomp: struct('swarm.SeccompOpts', { Mode: 'string', Profile: 'bytes' }),
    AppArmor: struct('swarm.AppArmorOpts', { Mode: 'string' }),
    NoNewPrivileges: 'bool',
  }),
  Init: 'bool', StopSignal: 'string', TTY: 'bool', OpenStdin: 'bool', ReadOnly: 'bool',
  Mounts: list(MOUNT),
  StopGracePeriod: 'duration',
  Healthcheck: struct('container.HealthConfig', { Test: strings, Retries: 'int', ...Object.fromEntries(HEALTH_DURATIONS.map((d) => [d, 'duration'])) }),
  Hosts: strings,
  DNSConfig: struct('swarm.DNSConfig', { Nameservers: list('ip'), Search: strings, Options: strings }),
  Secrets: list(struct('swarm.SecretReference', { File: struct('swarm.SecretReferenceFileTarget', FILE_TARGET), SecretID: 'string', SecretName: 'string' })),
  Configs: list(struct('swarm.ConfigReference', {
    File: struct('swarm.ConfigReferenceFileTarget', FILE_TARGET), Runtime: struct('swarm.ConfigReferenceRuntimeTarget', {}),
    ConfigID: 'string', ConfigName: 'string',
  })),
  Isolation: 'string', Sysctls: stringMap, CapabilityAdd: strings, CapabilityDrop: strings,
  Ulimits: list(struct('container.Ulimit', { Name: 'string', Hard: 'int64', Soft: 'int64' })),
  OomScoreAdj: 'int64',
});

const TASK_SPEC = struct('swarm.TaskSpec', {
  ContainerSpec: CONTAINER_SPEC,
  PluginSpec: struct('swarm.RuntimeSpec', {
    name: 'string', remote: 'string', disabled: 'bool', env: strings,
    privileges: list(struct('swarm.RuntimePrivilege', { name: 'string', description: 'string', value: strings })),
  }),
  NetworkAttachmentSpec: struct('swarm.NetworkAttachmentSpec', { ContainerID: 'string' }),
  Resources: struct('swarm.ResourceRequirements', {
    Limits: struct('swarm.Limit', { NanoCPUs: 'int64', MemoryBytes: 'int64', Pids: 'int64' }),
    Reservations: struct('swarm.Resources', {
      NanoCPUs: 'int64', MemoryBytes: 'int64',
      GenericResources: list(struct('swarm.GenericResource', {
        NamedResourceSpec: struct('swarm.NamedGenericResource', { Kind: 'string', Value: 'string' }),
        DiscreteResourceSpec: struct('swarm.DiscreteGenericResource', { Kind: 'string', Value: 'int64' }),
      })),
    }),
    SwapBytes: 'int64', MemorySwappiness: 'int64',
  }),
  RestartPolicy: struct('swarm.RestartPolicy', { Condition: 'string', Delay: 'duration', MaxAttempts: 'uint64', Window: 'duration' }),
  Placement: struct('swarm.Placement', {
    Constraints: strings,
    Preferences: list(struct('swarm.PlacementPreference', { Spread: struct('swarm.SpreadOver', { SpreadDescriptor: 'string' }) })),
    MaxReplicas: 'uint64',
    Platforms: list(struct('swarm.Platform', { Architecture: 'string', OS: 'string' })),
  }),
  Networks: list(struct('swarm.NetworkAttachmentConfig', { Target: 'string', Aliases: strings, DriverOpts: stringMap })),
  LogDriver: DRIVER,
  ForceUpdate: 'uint64',
  Runtime: 'string',
});

const UPDATE_CONFIG = struct('swarm.UpdateConfig', {
  Parallelism: 'uint64', Delay: 'duration', FailureAction: 'string', Monitor: 'duration', MaxFailureRatio: 'float32', Order: 'string',
});

const SERVICE_SPEC = struct('swarm.ServiceSpec', {
  Name: 'string',
  Labels: stringMap,
  TaskTemplate: TASK_SPEC,
  Mode: struct('swarm.ServiceMode', {
    Replicated: struct('swarm.ReplicatedService', { Replicas: 'uint64' }),
    Global: struct('swarm.GlobalService', {}),
    ReplicatedJob: struct('swarm.ReplicatedJob', { MaxConcurrent: 'uint64', TotalCompletions: 'uint64' }),
    GlobalJob: struct('swarm.GlobalJob', {}),
  }),
  UpdateConfig: UPDATE_CONFIG,
  RollbackConfig: UPDATE_CONFIG,
  EndpointSpec: struct('swarm.EndpointSpec', {
    Mode: 'string',
    Ports: list(struct('swarm.PortConfig', { Name: 'string', Protocol: 'string', TargetPort: 'uint32', PublishedPort: 'uint32', PublishMode: 'string' })),
  }),
});

const SWARM_SPEC = struct('swarm.Spec', {
  Name: 'string',
  Labels: stringMap,
  Orchestration: struct('swarm.OrchestrationConfig', { TaskHistoryRetentionLimit: 'int64' }),
  Raft: struct('swarm.RaftConfig', {
    SnapshotInterval: 'uint64', KeepOldSnapshots: 'uint64', LogEntriesForSlowFollowers: 'uint64', ElectionTick: 'int', HeartbeatTick: 'int',
  }),
  Dispatcher: struct('swarm.DispatcherConfig', { HeartbeatPeriod: 'duration' }),
  CAConfig: struct('swarm.CAConfig', {
    NodeCertExpiry: 'duration',
    ExternalCAs: list(struct('swarm.ExternalCA', { Protocol: 'string', URL: 'string', Options: stringMap, CACert: 'string' })),
    SigningCACert: 'string', SigningCAKey: 'string', ForceRotate: 'uint64',
  }),
  TaskDefaults: struct('swarm.TaskDefaults', { LogDriver: DRIVER }),
  EncryptionConfig: struct('swarm.EncryptionConfig', { AutoLockManagers: 'bool' }),
});

function goType(shape: Shape): string {
  if (typeof shape === 'string') return SCALARS[shape].go;
  if ('struct' in shape) return shape.struct;
  if ('list' in shape) return `[]${goType(shape.list)}`;
  return `map[string]${goType(shape.map)}`;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'number' ? 'number' : typeof value;
}

/** Go's own words for the value it cannot decode, then what would do. */
function mismatch(root: string, path: string, value: unknown, shape: Shape): SwarmError {
  const what = typeof value === 'number' ? `number ${JSON.stringify(value)}` : jsonKind(value);
  const expected = typeof shape === 'string' ? SCALARS[shape].expected
    : 'struct' in shape ? 'an object' : 'list' in shape ? 'a list' : 'an object of strings';
  return new SwarmError('invalid_argument',
    `invalid JSON: json: cannot unmarshal ${what} into Go struct field ${root}.${path} of type ${goType(shape)}: ${path} must be ${expected}`);
}

/** A copy of `value` whose struct keys are Go's field names; throws on the first value Go could not decode. */
function canonical(root: string, value: unknown, shape: Shape, path: string): unknown {
  // Go decodes null into anything (it leaves the zero value, or nil).
  if (value === null || value === undefined) return value;
  if (typeof shape === 'string') {
    const scalar = SCALARS[shape];
    if (jsonKind(value) !== scalar.json || !scalar.holds(value as never)) throw mismatch(root, path, value, shape);
    return value;
  }
  if ('list' in shape) {
    if (!Array.isArray(value)) throw mismatch(root, path, value, shape);
    return value.map((item, i) => canonical(root, item, shape.list, `${path}[${i}]`));
  }
  if (!isObject(value)) throw mismatch(root, path, value, shape);
  // A map's keys are data, matched exactly.
  if ('map' in shape) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, canonical(root, item, shape.map, `${path}[${JSON.stringify(key)}]`)]));
  return canonicalFields(root, value, shape, path);
}

/** Go matches a key to a field ignoring case: each key renamed to its field's name, each value checked. */
function canonicalFields(root: string, value: Record<string, unknown>, shape: Struct, path: string): Record<string, unknown> {
  return combined(Object.entries(value).map(([key, item]) => {
    const field = shape.byFold.get(fold(key));
    if (field === undefined) return [key, structuredClone(item)];
    return [field, canonical(root, item, shape.fields[field]!, path ? `${path}.${field}` : field)];
  }), shape);
}

/**
 * Of two keys for one field Go decodes both, the later into what the earlier left: its value wins, or
 * for objects, each of its fields does. An unknown key is kept as given (Go ignores it; a newer client may
 * know it), but of unknown keys spelled alike only the last, so no field is ever stored twice.
 */
function combined(entries: [string, unknown][], shape: Struct | { map: Shape }): Record<string, unknown> {
  const out = new Map<string, unknown>();
  const unknown = new Map<string, string>();
  for (const [key, item] of entries) {
    const itemShape = 'map' in shape ? shape.map : shape.byFold.get(fold(key)) === key ? shape.fields[key]! : undefined;
    if (itemShape === undefined) {
      const spelledAlike = unknown.get(fold(key));
      if (spelledAlike !== undefined) out.delete(spelledAlike);
      unknown.set(fold(key), key);
      out.set(key, item);
    } else {
      out.set(key, out.has(key) ? merged(out.get(key), item, itemShape) : item);
    }
  }
  return Object.fromEntries(out);
}

/** `later` decoded over `earlier` (both canonical), as Go decodes into a struct or map it already holds. */
function merged(earlier: unknown, later: unknown, shape: Shape): unknown {
  if (typeof shape === 'string' || 'list' in shape || !isObject(earlier) || !isObject(later)) return later;
  return combined([...Object.entries(earlier), ...Object.entries(later)], shape);
}

/**
 * A copy of `spec` with each key renamed to its Go field's name (the last of two spellings winning, as in
 * Go); throws a SwarmError naming the first field whose JSON type Docker's ServiceSpec could not decode.
 */
export function canonicalServiceSpec(spec: Record<string, unknown>): Record<string, unknown> {
  return canonicalFields('ServiceSpec', spec, SERVICE_SPEC, '');
}

/** The swarm's Spec (POST /swarm/update) as canonicalServiceSpec does a service's. */
export function canonicalSwarmSpec(spec: Record<string, unknown>): Record<string, unknown> {
  return canonicalFields('Spec', spec, SWARM_SPEC, '');
}
