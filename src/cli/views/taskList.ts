// The `service ps` table: one row per task, grouped by <service>.<slot> (global: <service>.<node ID>),
// newest first within a group, older ones indented with " \_ ". CURRENT STATE ages are Go's human
// durations. PORTS adds, to docker's host-mode ports, where a task really listens when its port moved.
import type { ApiTask } from '../apiTypes.js';
import { ellipsis, imageWithoutDigest, prettyPrint, truncateId } from '../dockerText.js';
import { ageMs, humanDuration, naturalLess } from '../../shared/index.js';
import { renderTable } from '../table.js';

export interface TaskListOptions {
  /** Service ID → name; a missing one shows the ID. */
  readonly serviceNames: ReadonlyMap<string, string>;
  /** Node ID → name (Spec.Name, else hostname); a missing one shows the ID. */
  readonly nodeNames: ReadonlyMap<string, string>;
  readonly now: number;
  /** false with --no-trunc: full IDs, full images, whole errors. */
  readonly trunc: boolean;
}

const MAX_ERROR_LENGTH = 30;

export interface TaskRow {
  readonly task: ApiTask;
  /** "web.1", or " \_ web.1" for an older task of the same slot. */
  readonly name: string;
}

/** Sorted rows with their display names; also what `-q` prints the IDs of. */
export function taskRows(tasks: readonly ApiTask[], serviceNames: ReadonlyMap<string, string>): TaskRow[] {
  const named = tasks.map((task) => {
    const service = serviceNames.get(task.ServiceID ?? '') ?? task.ServiceID ?? '';
    const slot = task.Slot ?? 0;
    return { task, name: slot !== 0 ? `${service}.${slot}` : `${service}.${task.NodeID ?? ''}` };
  });
  // Array.prototype.sort is stable, as docker's sort.Stable is.
  named.sort((a, b) => {
    if (a.name !== b.name) return naturalLess(a.name, b.name) ? -1 : 1;
    return createdAt(b.task) - createdAt(a.task);
  });
  let previous: string | undefined;
  return named.map(({ task, name }) => {
    const shown = name === previous ? ` \\_ ${name}` : name;
    previous = name;
    return { task, name: shown };
  });
}

export function renderTaskList(tasks: readonly ApiTask[], options: TaskListOptions): string {
  const rows = taskRows(tasks, options.serviceNames).map(({ task, name }) => {
    const image = task.Spec?.ContainerSpec?.Image ?? '';
    const err = task.Status?.Err ?? '';
    const shownErr = options.trunc ? ellipsis(err, MAX_ERROR_LENGTH) : err;
    return [
      options.trunc ? truncateId(task.ID) : task.ID,
      name,
      options.trunc ? imageWithoutDigest(image) : image,
      task.NodeID ? options.nodeNames.get(task.NodeID) ?? task.NodeID : '',
      prettyPrint(task.DesiredState),
      `${prettyPrint(task.Status?.State)} ${humanDuration(ageMs(task.Status?.Timestamp, options.now)).toLowerCase()} ago`,
      shownErr === '' ? '' : `"${shownErr}"`,
      taskPorts(task),
    ];
  });
  return renderTable([['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'], ...rows]);
}

/** Host-mode ports as docker shows them, then any task port that listens elsewhere than its target. */
export function taskPorts(task: ApiTask): string {
  const ports = (task.Status?.PortStatus?.Ports ?? []).map(
    (p) => `*:${p.PublishedPort ?? 0}->${p.TargetPort ?? 0}/${p.Protocol ?? 'tcp'}`);
  const addr = task.Endpoint?.Addr ?? '';
  for (const p of task.Endpoint?.Ports ?? []) {
    if (p.ListenPort !== undefined && p.ListenPort !== p.TargetPort) {
      ports.push(`${addr}:${p.ListenPort}->${p.TargetPort ?? 0}/${p.Protocol ?? 'tcp'}`);
    }
  }
  return ports.join(',');
}

function createdAt(task: ApiTask): number {
  const t = Date.parse(task.CreatedAt ?? '');
  return Number.isNaN(t) ? 0 : t;
}
