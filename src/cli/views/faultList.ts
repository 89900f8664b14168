// `routemesh fault ls`: one line a fault, saying in Swarm's words where it sits, what it does, and when it lifts.
import { humanDuration } from '../../shared/index.js';
import type { ApiFault } from '../apiTypes.js';
import { renderTable } from '../table.js';

/** Where it sits: `my-web`, `my-web.3`, `node1 → my-web.2`, `node1 ↔ node2`. */
export function faultTarget(fault: ApiFault): string {
  const { Service, Slot, TaskNode, From, Between } = fault.Spec.Target;
  if (Between) return `${Between[0].Name} ↔ ${Between[1].Name}`;
  const task = Slot !== undefined ? `${Service?.Name}.${Slot}` : TaskNode ? `${Service?.Name} on ${TaskNode.Name}` : (Service?.Name ?? '?');
  return From ? `${From.Name} → ${task}` : task;
}

const size = (bytes: number): string => (bytes >= 1e6 ? `${bytes / 1e6}MB` : bytes >= 1e3 ? `${bytes / 1e3}kB` : `${bytes}B`);

/** What it does: `100ms ±10ms`, `1MB/s`, `after 1kB`, `30%`, `2s`. */
export function faultEffect(fault: ApiFault): string {
  const spec = fault.Spec;
  switch (spec.Kind) {
    case 'latency': return `${spec.LatencyMs}ms${spec.JitterMs ? ` ±${spec.JitterMs}ms` : ''}`;
    case 'bandwidth': return `${size(spec.BytesPerSecond ?? 0)}/s`;
    case 'reset': return `after ${size(spec.AfterBytes ?? 0)}`;
    case 'loss': case 'duplicate': return `${spec.Percent}% of datagrams`;
    case 'slow-connect': return `${spec.DelayMs}ms`;
    default: return '';
  }
}

export function renderFaultList(faults: readonly ApiFault[], now: number): string {
  const rows = faults.map((f) => [
    f.ID.slice(0, 12), f.Spec.Kind, faultTarget(f), faultEffect(f),
    f.Spec.ExpiresAt ? `in ${humanDuration(Math.max(0, Date.parse(f.Spec.ExpiresAt) - now)).toLowerCase()}` : 'when removed',
  ]);
  return renderTable([['ID', 'KIND', 'ON', 'EFFECT', 'LIFTS'], ...rows]);
}
