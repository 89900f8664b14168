// The dashboard's timeline: what a change of a node, service or task means, in a line, as the docker CLI and
// Swarm's events word it (a service scaled, a task started or failed, a node down or drained). Worked out
// from the object as it was and as it is, so every manager tells the same story from its own view.
import type { DashboardFault, DashboardNode, DashboardService, DashboardTask } from './DashboardFeed.js';
import type { NodeMesh } from './MeshWatch.js';
import type { PoolMemberReport, PoolReport } from '../mesh/index.js';

export interface DashboardEvent {
  /** When this manager saw it (ISO 8601). */
  at: string;
  /** `pool`: a node's pool ejected a task, or took it back; `fault`: a fault injected or lifted. */
  kind: 'node' | 'service' | 'task' | 'pool' | 'fault';
  /** The node's hostname, the service's name, or the task's `service.slot` (`service.hostname` in a global service). */
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

/** A fault injected, or lifted (removed, or run out). */
export function faultEvents(before: DashboardFault | undefined, after: DashboardFault | undefined): Omit<DashboardEvent, 'at'>[] {
  const fault = (after ?? before)!;
  const what = `${fault.kind}${fault.effect ? ` (${fault.effect})` : ''} on ${fault.on}`;
  if (!before) return [{ kind: 'fault', subject: fault.on, text: `fault ${what} injected${fault.expiresAt ? `, until ${fault.expiresAt.slice(11, 19)}` : ''}` }];
  return after ? [] : [{ kind: 'fault', subject: fault.on, text: `fault ${what} lifted` }];
}

/**
 * `replaced`: the task this one takes the place of (its slot's, or in a global service its node's, asked to
 * stop), if the feed still has it: a start after a failure, a node going down or an update says so.
 */
export function taskEvents(before: DashboardTask | undefined, after: DashboardTask | undefined, names: TimelineNames,
  replaced?: DashboardTask): Omit<DashboardEvent, 'at'>[] {
  const task = (after ?? before)!;
  const subject = taskSubject(task, names);
  const on = names.node(task.nodeId);
  const event = (text: string) => ({ kind: 'task' as const, subject, text: `task ${subject} ${text}` });
  // Gone from the view while it ran (a scale-down removes its tasks): it stopped.
  if (!after) return before?.state === 'running' ? [event(`stopped on ${on}`)] : [];
  if (after.state === before?.state) return [];
  switch (after.state) {
    case 'running':
      return [event(`started on ${on}${replaced ? `, replacing the one on ${names.node(replaced.nodeId)}` : ''}`)];
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

/** How a task is named on the page: `service.slot`, or `service.hostname` in a global service. */
export function taskSubject(task: DashboardTask, names: TimelineNames): string {
  const service = names.service(task.serviceId);
  return task.slot === undefined ? `${service}.${names.node(task.nodeId)}` : `${service}.${task.slot}`;
}

/**
 * What changed in one node's pools between two reads of them: a task it ejected (it was ejected more times:
 * one that came and went between two reads is told too), or took back. Nothing is told of the first read:
 * what happened before it happened at no time the page can show.
 */
export function poolEvents(before: NodeMesh | undefined, after: NodeMesh, subjectOf: (member: PoolMemberReport) => string): Omit<DashboardEvent, 'at'>[] {
  if (!before?.report || !after.report) return [];
  const earlier = new Map(before.report.pools.map((pool) => [poolKey(pool), new Map(pool.members.map((m) => [m.task, m]))]));
  const events: Omit<DashboardEvent, 'at'>[] = [];
  for (const pool of after.report.pools) {
    const where = `${pool.service}:${pool.targetPort}${pool.protocol === 'udp' ? '/udp' : ''}`;
    for (const member of pool.members) {
      const was = earlier.get(poolKey(pool))?.get(member.task);
      if (!was) continue;
      const subject = subjectOf(member);
      const event = (text: string) => ({ kind: 'pool' as const, subject, text: `task ${subject} ${text}` });
      if (member.timesEjected > was.timesEjected) {
        const back = member.ejectedForMs === undefined ? 'back already' : `for ${Math.ceil(member.ejectedForMs / 1000)}s`;
        events.push(event(`ejected by ${after.hostname} from its pool of ${where}, ${back} (ejection ${member.ejections})`));
      } else if (was.state === 'ejected' && member.state !== 'ejected') {
        events.push(event(`back in ${after.hostname}'s pool of ${where} after its ejection`));
      }
    }
  }
  return events;
}

function poolKey(pool: PoolReport): string {
  return `${pool.serviceId}/${pool.targetPort}/${pool.protocol}${pool.local ? '@' : ''}`;
}
