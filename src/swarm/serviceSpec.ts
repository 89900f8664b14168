// Checks a ServiceSpec as the API receives it and fills Swarm's defaults, so nothing half-valid
// reaches the store. `withDefaults` is what `insertDefaults=true` shows (`docker service inspect`).
import type { PortConfig, ServiceSpec, UpdateConfig } from './model.js';
import { invalidArgument } from './errors.js';
import { parseConstraint } from './constraints.js';

// swarmkit's rule (controlapi): letters and digits, joined by runs of '-' or '_'; 63 characters at most.
const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;
const SECOND = 1_000_000_000;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkCount(value: unknown, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0)) {
    throw invalidArgument(`${what} must be a whole number of 0 or more, got ${JSON.stringify(value)}`);
  }
}

function checkPorts(ports: unknown): PortConfig[] {
  if (ports === undefined || ports === null) return [];
  if (!Array.isArray(ports)) throw invalidArgument('EndpointSpec.Ports must be a list of port configs');
  const seen = new Set<string>();
  return ports.map((raw: unknown) => {
    if (!isObject(raw)) throw invalidArgument('each EndpointSpec.Ports entry must be an object like {"TargetPort":80,"PublishedPort":8080}');
    const protocol = raw.Protocol ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp' && protocol !== 'sctp') {
      throw invalidArgument(`port protocol must be tcp, udp or sctp, got ${JSON.stringify(protocol)}`);
    }
    const mode = raw.PublishMode ?? 'ingress';
    if (mode !== 'ingress' && mode !== 'host') {
      throw invalidArgument(`port publish mode must be ingress or host, got ${JSON.stringify(mode)}`);
    }
    for (const field of ['TargetPort', 'PublishedPort'] as const) {
      const v = raw[field];
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535)) {
        throw invalidArgument(`${field} must be a port number between 1 and 65535, got ${JSON.stringify(v)}`);
      }
    }
    if (!raw.TargetPort) throw invalidArgument('every published port needs a TargetPort (the port the task listens on)');
    const port: PortConfig = { Protocol: protocol, TargetPort: raw.TargetPort as number, PublishMode: mode };
    if (typeof raw.Name === 'string' && raw.Name) port.Name = raw.Name;
    if (raw.PublishedPort) {
      port.PublishedPort = raw.PublishedPort as number;
      const key = `${port.PublishedPort}/${protocol}`;
      if (seen.has(key)) throw invalidArgument(`EndpointSpec: duplicate published ports provided`);
      seen.add(key);
    }
    return port;
  });
}

/** Validates in place-free fashion: returns a normalised copy, or throws a SwarmError naming the field. */
export function normalizeServiceSpec(input: unknown): ServiceSpec {
  if (!isObject(input)) throw invalidArgument('the service spec must be a JSON object');
  const spec = structuredClone(input) as unknown as ServiceSpec;
  if (typeof spec.Name !== 'string' || spec.Name === '') {
    throw invalidArgument('name must be valid as a DNS name component: give the service a name with --name');
  }
  if (!NAME.test(spec.Name) || spec.Name.length > 63) {
    throw invalidArgument(`name must be valid as a DNS name component: '${spec.Name}' may use letters, digits, '-' and '_', up to 63 characters`);
  }
  if (spec.Labels === undefined || spec.Labels === null) spec.Labels = {};
  if (!isObject(spec.Labels)) throw invalidArgument('Labels must be an object of strings');

  if (!isObject(spec.TaskTemplate)) throw invalidArgument('TaskTemplate: missing (it must hold a ContainerSpec with an Image)');
  const container = spec.TaskTemplate.ContainerSpec;
  if (!isObject(container) || typeof container.Image !== 'string' || container.Image === '') {
    throw invalidArgument('ContainerSpec: image reference must be provided');
  }
  for (const field of ['Command', 'Args', 'Env'] as const) {
    const v = container[field];
    if (v !== undefined && v !== null && (!Array.isArray(v) || v.some((s) => typeof s !== 'string'))) {
      throw invalidArgument(`ContainerSpec.${field} must be a list of strings`);
    }
  }
  const constraints = spec.TaskTemplate.Placement?.Constraints ?? [];
  if (!Array.isArray(constraints)) throw invalidArgument('Placement.Constraints must be a list of strings');
  constraints.forEach((c) => parseConstraint(String(c)));
  checkCount(spec.TaskTemplate.Placement?.MaxReplicas, 'Placement.MaxReplicas');

  if (!isObject(spec.Mode)) spec.Mode = { Replicated: {} };
  if (spec.Mode.Replicated && spec.Mode.Global) throw invalidArgument('a service is either replicated or global, not both');
  if (!spec.Mode.Replicated && !spec.Mode.Global) {
    throw invalidArgument('Mode must be {"Replicated":{"Replicas":N}} or {"Global":{}}');
  }
  if (spec.Mode.Replicated) {
    const replicas = spec.Mode.Replicated.Replicas;
    checkCount(replicas, 'Replicas');
    spec.Mode.Replicated = { Replicas: replicas ?? 1 };
  }

  const endpoint = isObject(spec.EndpointSpec) ? spec.EndpointSpec : {};
  const mode = endpoint.Mode ?? 'vip';
  if (mode !== 'vip' && mode !== 'dnsrr') throw invalidArgument(`EndpointSpec.Mode must be vip or dnsrr, got ${JSON.stringify(mode)}`);
  const ports = checkPorts(endpoint.Ports);
  if (mode === 'dnsrr' && ports.some((p) => p.PublishMode === 'ingress')) {
    throw invalidArgument('EndpointSpec: port published with ingress mode can\'t be used with dnsrr mode');
  }
  spec.EndpointSpec = { Mode: mode, ...(ports.length ? { Ports: ports } : {}) };
  for (const key of ['UpdateConfig', 'RollbackConfig'] as const) {
    const config = spec[key];
    if (config === undefined || config === null) { delete spec[key]; continue; }
    if (!isObject(config)) throw invalidArgument(`${key} must be an object`);
    checkCount(config.Parallelism, `${key}.Parallelism`);
  }
  return spec;
}

const DEFAULT_UPDATE: UpdateConfig = {
  Parallelism: 1, FailureAction: 'pause', Monitor: 5 * SECOND, MaxFailureRatio: 0, Order: 'stop-first',
};

/** Swarm's defaults written out, as the daemon does for `insertDefaults=true`. */
export function withDefaults(spec: ServiceSpec): ServiceSpec {
  const out = structuredClone(spec);
  const container = out.TaskTemplate.ContainerSpec;
  container.StopGracePeriod ??= 10 * SECOND;
  container.Isolation ??= 'default';
  out.TaskTemplate.RestartPolicy = { Condition: 'any', Delay: 5 * SECOND, MaxAttempts: 0, ...out.TaskTemplate.RestartPolicy };
  out.UpdateConfig = { ...DEFAULT_UPDATE, ...out.UpdateConfig };
  out.RollbackConfig = { ...DEFAULT_UPDATE, ...out.RollbackConfig };
  return out;
}
