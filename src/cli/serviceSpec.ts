// `service create` flags → the ServiceSpec JSON the docker CLI would send: same fields, same order,
// same defaults (Mode {"Replicated":{}} without --replicas, a whole UpdateConfig once any --update-*
// flag is given, durations in nanoseconds). The image gets docker's ":latest" but no digest: routemesh
// has no registry to pin against.
import type { ApiHealthConfig, ApiServiceSpec, ApiUpdateConfig } from './apiTypes.js';
import { withDefaultTag } from './dockerText.js';
import { durationFlag } from './duration.js';
import { usageError } from './errors.js';
import { intFlag, type FlagSpec, type ParsedArgs } from './flags.js';
import { parsePublish } from './publish.js';

/** An update or a rollback: the same six settings, under --update-* or --rollback-*. */
export type RolloutKind = 'update' | 'rollback';

function rolloutFlags(kind: RolloutKind): FlagSpec[] {
  const noun = kind === 'update' ? 'update' : 'rollback';
  return [
    { name: `${kind}-parallelism`, kind: 'string', valueName: 'uint', help: `Maximum number of tasks ${kind === 'update' ? 'updated' : 'rolled back'} simultaneously (0 to ${noun} all at once)`, defaultText: '1' },
    { name: `${kind}-delay`, kind: 'string', valueName: 'duration', help: `Delay between task ${kind === 'update' ? 'updates' : 'rollbacks'} (ns|us|ms|s|m|h)`, defaultText: '0s' },
    { name: `${kind}-failure-action`, kind: 'string', help: kind === 'update' ? 'Action on update failure ("pause", "continue", "rollback")' : 'Action on rollback failure ("pause", "continue")', defaultText: '"pause"' },
    { name: `${kind}-monitor`, kind: 'string', valueName: 'duration', help: `Duration after each task ${noun} to monitor for failure (ns|us|ms|s|m|h)`, defaultText: '5s' },
    { name: `${kind}-max-failure-ratio`, kind: 'string', valueName: 'float', help: `Failure rate to tolerate during a${kind === 'update' ? 'n' : ''} ${noun}`, defaultText: '0' },
    { name: `${kind}-order`, kind: 'string', help: `${kind === 'update' ? 'Update' : 'Rollback'} order ("start-first", "stop-first")`, defaultText: '"stop-first"' },
  ];
}

export const UPDATE_CONFIG_FLAGS: readonly FlagSpec[] = [...rolloutFlags('update'), ...rolloutFlags('rollback')];

export const HEALTH_FLAGS: readonly FlagSpec[] = [
  { name: 'health-cmd', kind: 'string', help: 'Command to run to check health' },
  { name: 'health-interval', kind: 'string', valueName: 'duration', help: 'Time between running the check (ms|s|m|h)' },
  { name: 'health-timeout', kind: 'string', valueName: 'duration', help: 'Maximum time to allow one check to run (ms|s|m|h)' },
  { name: 'health-retries', kind: 'string', valueName: 'int', help: 'Consecutive failures needed to report unhealthy' },
  { name: 'health-start-period', kind: 'string', valueName: 'duration', help: 'Start period for the container to initialize before counting retries towards unstable (ms|s|m|h)' },
  { name: 'no-healthcheck', kind: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
];

export const CREATE_FLAGS: readonly FlagSpec[] = [
  { name: 'name', kind: 'string', help: 'Service name' },
  { name: 'replicas', kind: 'string', valueName: 'uint', help: 'Number of tasks' },
  { name: 'mode', kind: 'string', help: 'Service mode ("replicated" or "global")', defaultText: '"replicated"' },
  { name: 'publish', short: 'p', kind: 'list', valueName: 'port', help: 'Publish a port as a node port: published=8080,target=80[,protocol=udp][,mode=host] or 8080:80[/udp]' },
  { name: 'constraint', kind: 'list', help: 'Placement constraints (e.g. "node.role == worker")' },
  { name: 'replicas-max-per-node', kind: 'string', valueName: 'uint', help: 'Maximum number of tasks per node (default 0 = unlimited)' },
  { name: 'env', short: 'e', kind: 'list', help: 'Set environment variables' },
  { name: 'user', short: 'u', kind: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'label', short: 'l', kind: 'list', help: 'Service labels' },
  { name: 'container-label', kind: 'list', help: 'Container labels' },
  { name: 'endpoint-mode', kind: 'string', help: 'Endpoint mode (vip or dnsrr)', defaultText: '"vip"' },
  { name: 'detach', short: 'd', kind: 'bool', help: 'Exit immediately instead of waiting for the service to converge' },
  { name: 'quiet', short: 'q', kind: 'bool', help: 'Suppress progress output' },
  ...HEALTH_FLAGS,
  ...UPDATE_CONFIG_FLAGS,
  { name: 'restart-condition', kind: 'string', help: 'Restart when condition is met ("none", "on-failure", "any")', defaultText: '"any"' },
  { name: 'restart-delay', kind: 'string', valueName: 'duration', help: 'Delay between restart attempts (ns|us|ms|s|m|h)', defaultText: '5s' },
  { name: 'restart-max-attempts', kind: 'string', valueName: 'uint', help: 'Maximum number of restarts before giving up' },
  { name: 'restart-window', kind: 'string', valueName: 'duration', help: 'Window used to evaluate the restart policy (ns|us|ms|s|m|h)' },
  { name: 'stop-grace-period', kind: 'string', valueName: 'duration', help: 'Time to wait before force killing a container (ns|us|ms|s|m|h)', defaultText: '10s' },
];

/** positionals: IMAGE [COMMAND] [ARG...]; env: where a bare `--env NAME` takes its value from. */
export function buildServiceSpec(args: ParsedArgs, env: Record<string, string | undefined> = {}): ApiServiceSpec {
  const [image, ...command] = args.positionals;
  if (image === undefined || image === '') throw usageError('"routemesh service create" requires at least 1 argument.');
  const mode = (args.string('mode') ?? 'replicated').toLowerCase();
  if (mode !== 'replicated' && mode !== 'global') {
    throw usageError(`Unknown mode: ${mode}, only replicated and global supported`);
  }
  const replicas = intFlag(args, 'replicas');
  if (replicas !== undefined && mode !== 'replicated') {
    throw usageError('replicas can only be used with replicated or replicated-job mode');
  }
  const endpointMode = (args.string('endpoint-mode') ?? 'vip').toLowerCase();
  if (endpointMode !== 'vip' && endpointMode !== 'dnsrr') {
    throw usageError(`invalid endpoint mode "${endpointMode}": must be "vip" or "dnsrr"`);
  }
  const containerLabels = keyValueMap(args.list('container-label'));
  const envList = args.list('env').map((e) => (e.includes('=') || env[e] === undefined ? e : `${e}=${env[e]}`));
  const health = healthcheck(args);
  const stopGrace = args.string('stop-grace-period');
  const restart = restartPolicy(args);
  const constraints = args.list('constraint');
  const maxReplicas = intFlag(args, 'replicas-max-per-node');
  const ports = args.list('publish').flatMap((p) => parsePublish(p));
  const update = updateConfig(undefined, args);
  const rollback = updateConfig(undefined, args, 'rollback');
  const name = args.string('name');
  const user = args.string('user');

  return {
    ...(name ? { Name: name } : {}),
    Labels: keyValueMap(args.list('label')),
    TaskTemplate: {
      ContainerSpec: {
        Image: withDefaultTag(image),
        ...(Object.keys(containerLabels).length > 0 ? { Labels: containerLabels } : {}),
        ...(command.length > 0 ? { Args: command } : {}),
        ...(envList.length > 0 ? { Env: envList } : {}),
        ...(user ? { User: user } : {}),
        Init: false,
        ...(stopGrace !== undefined ? { StopGracePeriod: durationFlag('stop-grace-period', stopGrace) } : {}),
        ...(health !== undefined ? { Healthcheck: health } : {}),
        DNSConfig: {},
      },
      Resources: { Limits: {}, Reservations: {} },
      ...(restart !== undefined ? { RestartPolicy: restart } : {}),
      Placement: {
        ...(constraints.length > 0 ? { Constraints: constraints } : {}),
        ...(maxReplicas ? { MaxReplicas: maxReplicas } : {}),
      },
      ForceUpdate: 0,
    },
    Mode: mode === 'global' ? { Global: {} } : { Replicated: replicas === undefined ? {} : { Replicas: replicas } },
    ...(update !== undefined ? { UpdateConfig: update } : {}),
    ...(rollback !== undefined ? { RollbackConfig: rollback } : {}),
    EndpointSpec: { Mode: endpointMode, ...(ports.length > 0 ? { Ports: ports } : {}) },
  };
}

/**
 * docker's updateConfig(): nothing unless a --update-* (or --rollback-*) flag is given; then the existing
 * config (for `service update`) or swarm's defaults, with the given flags applied. Keys in Go's field order.
 */
export function updateConfig(existing: ApiUpdateConfig | undefined, args: ParsedArgs, kind: RolloutKind = 'update'): ApiUpdateConfig | undefined {
  if (!rolloutFlags(kind).some((f) => args.has(f.name))) return existing;
  const base: ApiUpdateConfig = existing ?? { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' };
  const parallelism = intFlag(args, `${kind}-parallelism`) ?? base.Parallelism ?? 1;
  const delayText = args.string(`${kind}-delay`);
  const delay = delayText !== undefined ? durationFlag(`${kind}-delay`, delayText) : base.Delay ?? 0;
  const failureAction = args.string(`${kind}-failure-action`) ?? base.FailureAction ?? 'pause';
  const actions = kind === 'update' ? ['pause', 'continue', 'rollback'] : ['pause', 'continue'];
  if (!actions.includes(failureAction)) {
    const allowed = actions.map((a) => `"${a}"`).join(', ').replace(/, ([^,]*)$/, ' or $1');
    throw usageError(`invalid argument "${failureAction}" for "--${kind}-failure-action" flag: must be ${allowed}`);
  }
  const monitorText = args.string(`${kind}-monitor`);
  const monitor = monitorText !== undefined ? durationFlag(`${kind}-monitor`, monitorText) : base.Monitor ?? 0;
  const ratioText = args.string(`${kind}-max-failure-ratio`);
  const ratio = ratioText !== undefined ? Number(ratioText) : base.MaxFailureRatio ?? 0;
  if (ratioText !== undefined && (ratioText.trim() === '' || !Number.isFinite(ratio) || ratio < 0 || ratio > 1)) {
    throw usageError(`invalid argument "${ratioText}" for "--${kind}-max-failure-ratio" flag: must be a number between 0 and 1`);
  }
  const order = args.string(`${kind}-order`) ?? base.Order ?? 'stop-first';
  if (order !== 'stop-first' && order !== 'start-first') {
    throw usageError(`invalid argument "${order}" for "--${kind}-order" flag: must be "stop-first" or "start-first"`);
  }
  return {
    Parallelism: parallelism,
    ...(delay > 0 ? { Delay: delay } : {}),
    FailureAction: failureAction,
    ...(monitor > 0 ? { Monitor: monitor } : {}),
    MaxFailureRatio: ratio,
    Order: order,
  };
}

function healthcheck(args: ParsedArgs): ApiHealthConfig | undefined {
  const cmd = args.string('health-cmd') ?? '';
  const durations = (['interval', 'timeout', 'start-period'] as const).map((k) => {
    const text = args.string(`health-${k}`);
    return text === undefined ? undefined : durationFlag(`health-${k}`, text);
  });
  const retries = intFlag(args, 'health-retries', { signed: true }) ?? 0;
  const any = cmd !== '' || durations.some((d) => d !== undefined) || retries !== 0;
  if (args.bool('no-healthcheck')) {
    if (any) throw usageError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  const [interval = 0, timeout = 0, startPeriod = 0] = durations;
  return {
    ...(cmd !== '' ? { Test: ['CMD-SHELL', cmd] } : {}),
    ...(interval ? { Interval: interval } : {}),
    ...(timeout ? { Timeout: timeout } : {}),
    ...(startPeriod ? { StartPeriod: startPeriod } : {}),
    ...(retries ? { Retries: retries } : {}),
  };
}

function restartPolicy(args: ParsedArgs): { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number } | undefined {
  if (!['restart-condition', 'restart-delay', 'restart-max-attempts', 'restart-window'].some((f) => args.has(f))) return undefined;
  const condition = args.string('restart-condition');
  if (condition !== undefined && !['none', 'on-failure', 'any'].includes(condition)) {
    throw usageError(`invalid argument "${condition}" for "--restart-condition" flag: must be "none", "on-failure" or "any"`);
  }
  const delay = args.string('restart-delay');
  const attempts = intFlag(args, 'restart-max-attempts');
  const window = args.string('restart-window');
  return {
    ...(condition !== undefined ? { Condition: condition } : {}),
    ...(delay !== undefined ? { Delay: durationFlag('restart-delay', delay) } : {}),
    ...(attempts !== undefined ? { MaxAttempts: attempts } : {}),
    ...(window !== undefined ? { Window: durationFlag('restart-window', window) } : {}),
  };
}

/** K=V strings to a map with sorted keys (Go encodes maps sorted); a bare K maps to "". */
export function keyValueMap(items: readonly string[]): Record<string, string> {
  const entries = items.map((item) => {
    const eq = item.indexOf('=');
    // The docker CLI's rule for labels: a key is needed, the value may be empty.
    if ((eq === -1 ? item : item.slice(0, eq)).trim() === '') throw usageError(`invalid label '${item}': empty name`);
    return eq === -1 ? [item, ''] as const : [item.slice(0, eq), item.slice(eq + 1)] as const;
  });
  const map = new Map(entries);
  return Object.fromEntries([...map.keys()].sort().map((k) => [k, map.get(k)!]));
}
