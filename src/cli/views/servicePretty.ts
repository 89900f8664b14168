// `service inspect --pretty`: docker's human-readable service template, reproduced with its tabs and
// stray trailing spaces so the text looks as the docker CLI's does. Mounts, secrets and configs,
// which routemesh does not model, are left out.
import type { ApiService, ApiUpdateConfig } from '../apiTypes.js';
import { formatGoDuration } from '../../shared/index.js';
import { ageMs, humanDuration } from '../../shared/index.js';
import { bytesSize } from './nodePretty.js';

export function renderServicePretty(service: ApiService, now: number): string {
  const spec = service.Spec ?? {};
  const task = spec.TaskTemplate ?? {};
  const container = task.ContainerSpec ?? {};
  let out = `\nID:\t\t${service.ID}\nName:\t\t${spec.Name ?? ''}`;
  const labels = spec.Labels ?? {};
  if (Object.keys(labels).length > 0) {
    out += '\nLabels:' + Object.keys(labels).sort().map((k) => `\n ${k}${labels[k] ? `=${labels[k]}` : ''}`).join('');
  }
  out += '\nService Mode:';
  if (spec.Mode?.Global) out += '\tGlobal';
  else if (spec.Mode?.Replicated) {
    out += '\tReplicated';
    if (spec.Mode.Replicated.Replicas !== undefined) out += `\n Replicas:\t${spec.Mode.Replicated.Replicas}`;
  }
  const status = service.UpdateStatus;
  if (status?.State) {
    out += `\nUpdateStatus:\n State:\t\t${status.State}`;
    if (status.StartedAt) out += `\n Started:\t${humanDuration(ageMs(status.StartedAt, now))} ago`;
    if (status.State === 'completed' && status.CompletedAt) {
      out += `\n Completed:\t${humanDuration(ageMs(status.CompletedAt, now))} ago`;
    }
    out += `\n Message:\t${status.Message ?? ''}`;
  }
  out += '\nPlacement:';
  const placement = task.Placement ?? {};
  if (placement.Constraints?.length) out += `\n Constraints:\t[${placement.Constraints.join(' ')}]`;
  if (placement.MaxReplicas) out += `\n Max Replicas Per Node:   ${placement.MaxReplicas}`;
  if (spec.UpdateConfig) out += updateConfig('UpdateConfig', 'Update order:      ', spec.UpdateConfig);
  if (spec.RollbackConfig) out += updateConfig('RollbackConfig', 'Rollback order:    ', spec.RollbackConfig);
  out += `\nContainerSpec:\n Image:\t\t${container.Image ?? ''}`;
  if (container.Args?.length) out += `\n Args:\t\t${container.Args.map((a) => `${a} `).join('')}`;
  if (container.Env?.length) out += `\n Env:\t\t${container.Env.map((e) => `${e} `).join('')}`;
  if (container.Dir) out += `\n Dir:\t\t${container.Dir}`;
  if (container.Init !== undefined && container.Init !== null) out += `\n Init:\t\t${container.Init}`;
  if (container.User) out += `\n User: ${container.User}`;
  if (task.Resources) {
    out += '\nResources:';
    for (const [title, r] of [['Reservations', task.Resources.Reservations], ['Limits', task.Resources.Limits]] as const) {
      if (r && ((r.NanoCPUs ?? 0) > 0 || (r.MemoryBytes ?? 0) > 0)) {
        out += `\n ${title}:`;
        if ((r.NanoCPUs ?? 0) > 0) out += `\n  CPU:\t\t${(r.NanoCPUs ?? 0) / 1e9}`;
        if ((r.MemoryBytes ?? 0) > 0) out += `\n  Memory:\t${bytesSize(r.MemoryBytes ?? 0)}`;
      }
    }
  }
  if (task.Networks?.length) out += `\nNetworks:${task.Networks.map((n) => ` ${n.Target}`).join('')} `;
  out += `\nEndpoint Mode:\t${spec.EndpointSpec?.Mode ?? ''}`;
  const ports = service.Endpoint?.Ports ?? [];
  if (ports.length > 0) {
    out += '\nPorts:' + ports.map((p) => `\n PublishedPort = ${p.PublishedPort ?? 0}\n  Protocol = ${p.Protocol ?? ''}` +
      `\n  TargetPort = ${p.TargetPort ?? 0}\n  PublishMode = ${p.PublishMode ?? ''}`).join('') + ' ';
  }
  const health = container.Healthcheck;
  if (health) {
    out += `\n Healthcheck:\n  Interval = ${formatGoDuration(health.Interval ?? 0)}\n  Retries = ${health.Retries ?? 0}` +
      `\n  StartPeriod =\t${formatGoDuration(health.StartPeriod ?? 0)}\n  Timeout =\t${formatGoDuration(health.Timeout ?? 0)}`;
    if (health.Test?.length) out += '\n  Tests:' + health.Test.map((t) => `\n\t Test = ${t}`).join('') + ' ';
  }
  return out + '\n';
}

function updateConfig(title: string, orderLabel: string, c: ApiUpdateConfig): string {
  let out = `\n${title}:\n Parallelism:\t${c.Parallelism ?? 0}`;
  if ((c.Delay ?? 0) > 0) out += `\n Delay:\t\t${formatGoDuration(c.Delay ?? 0)}`;
  out += `\n On failure:\t${c.FailureAction ?? ''}`;
  if ((c.Monitor ?? 0) > 0) out += `\n Monitoring Period: ${formatGoDuration(c.Monitor ?? 0)}`;
  out += `\n Max failure ratio: ${c.MaxFailureRatio ?? 0}\n ${orderLabel}${c.Order ?? ''}`;
  return out;
}
