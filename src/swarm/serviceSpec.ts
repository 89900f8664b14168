// Checks a ServiceSpec as the API receives it and fills Swarm's defaults, so nothing half-valid
// reaches the store: a wrongly typed field stored once would break every client that lists services.
// `withDefaults` is what `insertDefaults=true` shows (`docker service inspect`).
import type { PortConfig, ServiceSpec } from './model.js';
import { DEFAULT_RESTART_DELAY, DEFAULT_STOP_GRACE_PERIOD, DEFAULT_UPDATE_CONFIG } from './defaults.js';
import { SwarmError, invalidArgument } from './errors.js';
import { parseConstraint } from './constraints.js';
import { checkCount, checkOneOf, checkStringMap, isObject } from './specChecks.js';
import { HEALTH_DURATIONS, canonicalServiceSpec } from './specSchema.js';
import { checkContainerLabels, lbSettings } from './lbSettings.js';

// swarmkit's rule (controlapi): letters and digits, joined by runs of '-' or '_'; 63 characters at most.
const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

function checkPorts(ports: unknown): PortConfig[] {
  if (ports === undefined || ports === null) return [];
  const seen = new Set<string>();
  return (ports as unknown[]).map((raw) => {
    if (!isObject(raw)) throw invalidArgument('each EndpointSpec.Ports entry must be an object like {"TargetPort":80,"PublishedPort":8080}');
    const protocol = raw.Protocol || 'tcp';
    checkOneOf(protocol, ['tcp', 'udp', 'sctp'], 'port protocol');
    const mode = raw.PublishMode || 'ingress';
    checkOneOf(mode, ['ingress', 'host'], 'port publish mode');
    // Refused rather than accepted and never served: the mesh forwards TCP and UDP.
    if (protocol === 'sctp') throw invalidArgument('sctp ports are not supported: routemesh\'s mesh forwards tcp and udp ports');
    if (mode === 'host' && !raw.PublishedPort) {
      throw invalidArgument('a port published in host mode needs its published port (mode=host,published=8081,target=80): routemesh does not pick one per task');
    }
    for (const field of ['TargetPort', 'PublishedPort'] as const) {
      const v = raw[field];
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535)) {
        throw invalidArgument(`${field} must be a port number between 1 and 65535, got ${JSON.stringify(v)}`);
      }
    }
    if (!raw.TargetPort) throw invalidArgument('every published port needs a TargetPort (the port the task listens on)');
    const port: PortConfig = { Protocol: protocol as PortConfig['Protocol'], TargetPort: raw.TargetPort as number, PublishMode: mode as PortConfig['PublishMode'] };
    if (raw.Name) port.Name = raw.Name as string;
    if (raw.PublishedPort) {
      port.PublishedPort = raw.PublishedPort as number;
      const key = `${port.PublishedPort}/${protocol}`;
      if (seen.has(key)) throw invalidArgument('EndpointSpec: duplicate published ports provided');
      seen.add(key);
    }
    return port;
  });
}

/** The mount types a Linux node runs (moby's linux mount parser), in any case as the daemon takes them. */
const MOUNT_TYPES = ['bind', 'volume', 'tmpfs'];

/**
 * Swarm's API also takes npipe and cluster, but on Linux neither ever runs (the node refuses an npipe
 * mount; a cluster mount waits for a CSI volume routemesh cannot have): refused here instead, saying why.
 */
const NEVER_RUN: Record<string, string> = {
  npipe: 'a Windows named pipe, which no Linux node mounts (Docker refuses the task: mount type unknown)',
  cluster: 'a cluster (CSI) volume, which routemesh has none of (Swarm would leave the task pending)',
};

/** What the daemon and swarmkit check at create; the node checks the rest (paths) when the task starts. */
function checkServiceMounts(mounts: unknown[]): void {
  const targets = new Set<string>();
  for (const mount of mounts) {
    const { Type: type, Target: target } = isObject(mount) ? mount : {};
    const known = typeof type === 'string' ? type.toLowerCase() : '';
    if (Object.hasOwn(NEVER_RUN, known)) {
      throw invalidArgument(`mount type ${known} is not supported: it mounts ${NEVER_RUN[known]}; use bind, volume or tmpfs`);
    }
    if (!MOUNT_TYPES.includes(known)) {
      throw new SwarmError('invalid_argument', `invalid MountType: ${JSON.stringify(type ?? '')}: a mount's Type is bind, volume or tmpfs`);
    }
    if (typeof target === 'string' && targets.has(target)) throw invalidArgument(`invalid duplicate mount point: ${target}`);
    if (typeof target === 'string') targets.add(target);
  }
}

function checkContainer(container: unknown): void {
  if (!isObject(container) || typeof container.Image !== 'string' || container.Image === '') {
    throw invalidArgument('ContainerSpec: image reference must be provided');
  }
  checkContainerLabels(container.Labels as Record<string, string> | undefined);
  checkServiceMounts((container.Mounts ?? []) as unknown[]);
  checkCount(container.StopGracePeriod, 'ContainerSpec.StopGracePeriod (nanoseconds)');
  checkHealth(container.Healthcheck);
}

/** swarmkit's floor for a health check's durations (0 means the default): shorter would probe without pause. */
const MINIMUM_HEALTH_DURATION_NS = 1_000_000;

/** swarmkit's checks, in its words; StartInterval too, which the daemon refuses when the node creates the container. */
function checkHealth(health: unknown): void {
  if (!isObject(health)) return;
  for (const field of HEALTH_DURATIONS) {
    const ns = health[field];
    if (typeof ns === 'number' && ns !== 0 && ns < MINIMUM_HEALTH_DURATION_NS) {
      throw invalidArgument(`ContainerSpec: ${field} in HealthConfig cannot be less than 1ms`);
    }
  }
  if (typeof health.Retries === 'number' && health.Retries < 0) throw invalidArgument('ContainerSpec: Retries in HealthConfig cannot be negative');
}

function checkTaskTemplate(template: unknown): void {
  if (!isObject(template)) throw invalidArgument('TaskTemplate: missing (it must hold a ContainerSpec with an Image)');
  checkContainer(template.ContainerSpec);
  checkCount(template.ForceUpdate, 'TaskTemplate.ForceUpdate');
  const restart = template.RestartPolicy;
  if (isObject(restart)) {
    checkOneOf(restart.Condition, ['none', 'on-failure', 'any'], 'RestartPolicy.Condition');
    checkCount(restart.Delay, 'RestartPolicy.Delay (nanoseconds)');
    checkCount(restart.Window, 'RestartPolicy.Window (nanoseconds)');
    checkCount(restart.MaxAttempts, 'RestartPolicy.MaxAttempts');
  }
  const placement = template.Placement;
  if (isObject(placement)) {
    ((placement.Constraints as string[] | undefined) ?? []).forEach((c) => parseConstraint(c));
    checkCount(placement.MaxReplicas, 'Placement.MaxReplicas');
  }
}

function checkUpdateConfig(config: unknown, key: string): void {
  if (!isObject(config)) return;
  checkCount(config.Parallelism, `${key}.Parallelism`);
  checkCount(config.Delay, `${key}.Delay (nanoseconds)`);
  checkCount(config.Monitor, `${key}.Monitor (nanoseconds)`);
  checkOneOf(config.FailureAction, ['pause', 'continue', 'rollback'], `${key}.FailureAction`);
  checkOneOf(config.Order, ['stop-first', 'start-first'], `${key}.Order`);
  const ratio = config.MaxFailureRatio;
  if (typeof ratio === 'number' && (ratio < 0 || ratio > 1)) {
    throw invalidArgument(`${key}.MaxFailureRatio must be a number between 0 and 1, got ${JSON.stringify(ratio)}`);
  }
}

/** Returns a normalised copy of a valid spec (the input is not touched), or throws a SwarmError naming the field. */
export function normalizeServiceSpec(input: unknown): ServiceSpec {
  if (!isObject(input)) throw invalidArgument('the service spec must be a JSON object');
  // From here on every key is spelled as Docker's field, once: what is read is what a docker CLI decodes.
  const spec = canonicalServiceSpec(input) as unknown as ServiceSpec;
  if (typeof spec.Name !== 'string' || spec.Name === '') {
    throw invalidArgument('name must be valid as a DNS name component: give the service a name with --name');
  }
  if (!NAME.test(spec.Name) || spec.Name.length > 63) {
    // swarmkit's words, then which of its rules the name breaks.
    const why = /[^A-Za-z0-9_-]/.test(spec.Name) ? "may use only letters, digits, '-' and '_'"
      : !NAME.test(spec.Name) ? 'must start and end with a letter or digit'
        : `is ${spec.Name.length} characters long: use up to 63 characters`;
    throw invalidArgument(`name must be valid as a DNS name component: '${spec.Name}' ${why}`);
  }
  spec.Labels = checkStringMap(spec.Labels, 'Labels');
  lbSettings(spec.Labels);
  checkTaskTemplate(spec.TaskTemplate);

  const mode: unknown = spec.Mode ?? { Replicated: {} };
  if (!isObject(mode)) throw invalidArgument('Mode must be {"Replicated":{"Replicas":N}} or {"Global":{}}');
  if (mode.Replicated && mode.Global) throw invalidArgument('a service is either replicated or global, not both');
  if (mode.Global) {
    spec.Mode = { Global: {} };
  } else if (mode.Replicated) {
    const replicas = (mode.Replicated as { Replicas?: unknown }).Replicas;
    if (replicas !== undefined && replicas !== null && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
      throw invalidArgument(`Replicas must be a whole number of 0 or more, got ${JSON.stringify(replicas)}`);
    }
    spec.Mode = { Replicated: { Replicas: (replicas as number | undefined | null) ?? 1 } };
  } else {
    throw invalidArgument('Mode must be {"Replicated":{"Replicas":N}} or {"Global":{}} (jobs are not supported)');
  }

  const endpoint = (spec.EndpointSpec ?? {}) as Record<string, unknown>;
  const endpointMode = endpoint.Mode || 'vip';
  checkOneOf(endpointMode, ['vip', 'dnsrr'], 'EndpointSpec.Mode');
  const ports = checkPorts(endpoint.Ports);
  if (endpointMode === 'dnsrr' && ports.some((p) => p.PublishMode === 'ingress')) {
    throw invalidArgument('EndpointSpec: port published with ingress mode can\'t be used with dnsrr mode');
  }
  spec.EndpointSpec = { Mode: endpointMode as 'vip' | 'dnsrr', ...(ports.length ? { Ports: ports } : {}) };
  for (const key of ['UpdateConfig', 'RollbackConfig'] as const) {
    if (spec[key] === undefined || spec[key] === null) delete spec[key];
    else checkUpdateConfig(spec[key], key);
  }
  return spec;
}

/** Swarm's defaults written out, as the daemon does for `insertDefaults=true`. */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const out = structuredClone(spec);
  const container = out.TaskTemplate.ContainerSpec;
  container.StopGracePeriod ??= DEFAULT_STOP_GRACE_PERIOD;
  container.Isolation ??= 'default';
  out.TaskTemplate.RestartPolicy = { Condition: 'any', Delay: DEFAULT_RESTART_DELAY, MaxAttempts: 0, ...out.TaskTemplate.RestartPolicy };
  out.UpdateConfig = { ...DEFAULT_UPDATE_CONFIG, ...out.UpdateConfig };
  out.RollbackConfig = { ...DEFAULT_UPDATE_CONFIG, ...out.RollbackConfig };
  return out;
}
