// The dashboard's timeline: what a change of a node, service or task means, in a line, as the docker CLI and
// Swarm's events word it (a service scaled, a task started or failed, a node down or drained). Worked out
// from the object as it was and as it is, so every manager tells the same story from its own view.
import type { DashboardNode, DashboardService, DashboardTask } from './DashboardFeed.js';

export interface DashboardEvent {
  /** When this manager saw it (ISO 8601). */
  at: string;
  kind: 'node' | 'service' | 'task';
  /** The node's hostname, the service's name, or the task's `service.slot`. */
  subject: string;
  text: string;
}

/** Names a task is shown by: its service's name and its node's hostname. */
export interface TimelineNames {
  service(id: string): string;
  node(id: string): string;
}

export function nodeEvents(before: DashboardNode | undefined, after: DashboardNode | undefined): Omit<DashboardEvent, 'at'>[] {
  const subject = (after ?? before)!.hostname;
  const event = (text: string) => ({ kind: 'node' as const, subject, text: `node ${subject} ${text}` });
  if (!before) return [event(`joined as a ${after!.role}`)];
  if (!after) return [event('removed')];
  const events = [];
  if (after.state !== before.state) events.push(event(`is ${after.state}`));
  if (after.availability !== before.availability) events.push(event(AVAILABILITY[after.availability] ?? `is ${after.availability}`));
  if (after.role !== before.role) events.push(event(after.role === 'manager' ? 'promoted to a manager' : 'demoted to a worker'));
  if (after.leader && !before.leader) events.push(event('is the leader'));
  return events;
}

const AVAILABILITY: Record<string, string> = { drain: 'drained', pause: 'paused', active: 'active again' };

export function serviceEvents(before: DashboardService | undefined, after: DashboardService | undefined): Omit<DashboardEvent, 'at'>[] {
  const subject = (after ?? before)!.name;
  const event = (text: string) => ({ kind: 'service' as const, subject, text: `service ${subject} ${text}` });
  if (!before) return [event(`created: ${after!.image}, ${after!.mode === 'global' ? 'global' : `${after!.replicas} replicas`}`)];
  if (!after) return [event('removed')];
  const events = [];
  if (after.replicas !== before.replicas && after.replicas !== undefined) events.push(event(`scaled from ${before.replicas ?? 'global'} to ${after.replicas}`));
  if (after.image !== before.image) events.push(event(`updated: image ${before.image} → ${after.image}`));
  return events;
}

export function taskEvents(before: DashboardTask | undefined, after: DashboardTask | undefined, names: TimelineNames): Omit<DashboardEvent, 'at'>[] {
  const task = (after ?? before)!;
  const service = names.service(task.serviceId);
  const subject = task.slot === undefined ? `${service}.${names.node(task.nodeId)}` : `${service}.${task.slot}`;
  const on = names.node(task.nodeId);
  const event = (text: string) => ({ kind: 'task' as const, subject, text: `task ${subject} ${text}` });
  // Gone from the view while it ran (a scale-down removes its tasks): it stopped.
  if (!after) return before?.state === 'running' ? [event(`stopped on ${on}`)] : [];
  if (after.state === before?.state) return [];
  switch (after.state) {
    case 'running':
      return [event(`started on ${on}`)];
    case 'failed':
    case 'rejected':
      return [event(`${after.state} on ${on}${after.message ? `: ${after.message}` : ''}`)];
    case 'shutdown':
    case 'complete':
      return before?.state === 'running' ? [event(`stopped on ${on}`)] : [];
    default:
      return [];
  }
}
