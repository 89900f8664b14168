// `routemesh service update` and `service rollback`: fetch the spec, change what the flags say (the
// rest goes back exactly as the engine sent it), POST it with the version read, then follow convergence.
import type { ApiPortConfig, ApiServiceSpec } from '../apiTypes.js';
import type { Command } from '../Command.js';
import { withDefaultTag } from '../dockerText.js';
import { failure } from '../errors.js';
import { intFlag, type ParsedArgs } from '../flags.js';
import { parsePublish } from '../publish.js';
import { keyValueMap, UPDATE_CONFIG_FLAGS, updateConfig } from '../serviceSpec.js';
import { readService, updateService } from './serviceRequests.js';
import { DETACH_FLAGS, waitOnService } from './waitOnService.js';

export const updateCommand: Command = {
  name: 'update',
  usage: '[OPTIONS] SERVICE',
  summary: 'Update a service',
  details: 'Example:\n  routemesh service update --update-parallelism 1 --update-delay 10s --image madvirus/simplenode:0.2 simple',
  flags: [
    { name: 'image', kind: 'string', help: 'Service image tag' },
    { name: 'replicas', kind: 'string', valueName: 'uint', help: 'Number of tasks' },
    { name: 'force', kind: 'bool', help: 'Force update even if no changes require it' },
    ...UPDATE_CONFIG_FLAGS,
    { name: 'env-add', kind: 'list', help: 'Add or update an environment variable' },
    { name: 'env-rm', kind: 'list', help: 'Remove an environment variable' },
    { name: 'user', short: 'u', kind: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
    { name: 'publish-add', kind: 'list', valueName: 'port', help: 'Add or update a published port' },
    { name: 'publish-rm', kind: 'list', valueName: 'port', help: 'Remove a published port by its target port' },
    { name: 'label-add', kind: 'list', help: 'Add or update a service label' },
    { name: 'label-rm', kind: 'list', help: 'Remove a label by its key' },
    { name: 'constraint-add', kind: 'list', help: 'Add or update a placement constraint' },
    { name: 'constraint-rm', kind: 'list', help: 'Remove a constraint' },
    ...DETACH_FLAGS,
  ],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const ref = args.positionals[0]!;
    const service = await readService(ctx.client(), ref);
    await updateService(ctx, service, applyUpdateFlags(service.Spec, args), { registryAuthFrom: 'spec' });
    ctx.out(ref);
    if (!args.bool('detach')) await waitOnService(ctx, ref, args.bool('quiet'));
    return 0;
  },
};

export const rollbackCommand: Command = {
  name: 'rollback',
  usage: '[OPTIONS] SERVICE',
  summary: 'Revert changes to a service\'s configuration',
  flags: [...DETACH_FLAGS],
  minArgs: 1,
  maxArgs: 1,
  async run(ctx, args) {
    const ref = args.positionals[0]!;
    const service = await readService(ctx.client(), ref);
    // The body is the current spec; the engine swaps in PreviousSpec itself.
    await updateService(ctx, service, service.Spec, { rollback: 'previous' });
    ctx.out(ref);
    if (!args.bool('detach')) await waitOnService(ctx, ref, args.bool('quiet'));
    return 0;
  },
};

/** A copy of `current` with the flags applied, docker's way for each. */
export function applyUpdateFlags(current: ApiServiceSpec, args: ParsedArgs): ApiServiceSpec {
  const spec = structuredClone(current);
  const task = (spec.TaskTemplate ??= {});
  const container = (task.ContainerSpec ??= {});
  const image = args.string('image');
  if (image !== undefined) container.Image = withDefaultTag(image);
  const replicas = intFlag(args, 'replicas');
  if (replicas !== undefined) {
    if (!spec.Mode?.Replicated) throw failure('replicas can only be used with replicated or replicated-job mode');
    spec.Mode.Replicated.Replicas = replicas;
  }
  if (args.bool('force')) task.ForceUpdate = (task.ForceUpdate ?? 0) + 1;
  const update = updateConfig(spec.UpdateConfig, args);
  if (update !== undefined) spec.UpdateConfig = update;
  const rollback = updateConfig(spec.RollbackConfig, args, 'rollback');
  if (rollback !== undefined) spec.RollbackConfig = rollback;

  if (args.has('env-add') || args.has('env-rm')) {
    const removed = new Set(args.list('env-rm').map(envKey));
    const env = (container.Env ?? []).filter((e) => !removed.has(envKey(e)));
    for (const entry of args.list('env-add')) {
      const i = env.findIndex((e) => envKey(e) === envKey(entry));
      if (i === -1) env.push(entry);
      else env[i] = entry;
    }
    if (env.length > 0) container.Env = env;
    else delete container.Env;
  }
  const user = args.string('user');
  if (user !== undefined) container.User = user;
  if (args.has('label-add') || args.has('label-rm')) {
    const labels: Record<string, string> = { ...(spec.Labels ?? {}), ...keyValueMap(args.list('label-add')) };
    for (const key of args.list('label-rm')) delete labels[key];
    spec.Labels = keyValueMap(Object.entries(labels).map(([k, v]) => `${k}=${v}`));
  }
  if (args.has('constraint-add') || args.has('constraint-rm')) {
    const placement = (task.Placement ??= {});
    const removed = new Set(args.list('constraint-rm'));
    placement.Constraints = [...(placement.Constraints ?? []), ...args.list('constraint-add')]
      .filter((c) => !removed.has(c)).sort();
  }
  if (args.has('publish-add') || args.has('publish-rm')) {
    const endpoint = (spec.EndpointSpec ??= { Mode: 'vip' });
    endpoint.Ports = updatePorts(endpoint.Ports ?? [], args);
  }
  return inGoOrder(spec);
}

/** ServiceSpec's field order in Go, so a config added here sits where docker's body has it. */
const SPEC_ORDER = ['Name', 'Labels', 'TaskTemplate', 'Mode', 'UpdateConfig', 'RollbackConfig', 'Networks', 'EndpointSpec'];

function inGoOrder(spec: ApiServiceSpec): ApiServiceSpec {
  const keys = [...SPEC_ORDER.filter((k) => k in spec), ...Object.keys(spec).filter((k) => !SPEC_ORDER.includes(k))];
  return Object.fromEntries(keys.map((k) => [k, spec[k]])) as ApiServiceSpec;
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq === -1 ? entry : entry.slice(0, eq);
}

/** docker's updatePorts: drop by target (and protocol), add what is new, sort by "published:target/proto/mode". */
function updatePorts(current: readonly ApiPortConfig[], args: ParsedArgs): ApiPortConfig[] {
  const key = (p: ApiPortConfig): string => `${p.PublishedPort ?? 0}:${p.TargetPort ?? 0}/${p.Protocol ?? 'tcp'}/${p.PublishMode ?? 'ingress'}`;
  const toRemove = args.list('publish-rm').flatMap((v) => parsePublish(v, '--publish-rm'));
  const kept = current.filter((p) => !toRemove.some((r) =>
    (r.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp') && r.TargetPort === p.TargetPort));
  const seen = new Set(current.map(key));
  for (const p of args.list('publish-add').flatMap((v) => parsePublish(v, '--publish-add'))) {
    if (!seen.has(key(p))) {
      kept.push(p);
      seen.add(key(p));
    }
  }
  return kept.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
