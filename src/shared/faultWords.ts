// An injected fault in the words `routemesh fault ls`, the dashboard and its timeline use: where it sits
// (`web`, `web.3`, `node1 → web.2`, `node1 ↔ node2`) and what it does (`100ms ±10ms`, `1MB/s`).

interface Named {
  Name: string;
}

/** The parts of a fault's spec that its words need (the swarm's FaultSpec, as the API shows it). */
export interface FaultWording {
  Kind: string;
  Target: { Service?: Named; Slot?: number; TaskNode?: Named; From?: Named; Between?: [Named, Named] };
  LatencyMs?: number;
  JitterMs?: number;
  BytesPerSecond?: number;
  AfterBytes?: number;
  /** Loss or duplication: the share of datagrams, in percent. */
  Percent?: number;
  DelayMs?: number;
}

export function faultTarget(spec: FaultWording): string {
  const { Service, Slot, TaskNode, From, Between } = spec.Target;
  if (Between) return `${Between[0].Name} ↔ ${Between[1].Name}`;
  const task = Slot !== undefined ? `${Service?.Name}.${Slot}` : TaskNode ? `${Service?.Name} on ${TaskNode.Name}` : (Service?.Name ?? '?');
  return From ? `${From.Name} → ${task}` : task;
}

/** A size in the unit that says it exactly, as it was most likely given: 1MB, 512KiB, 64kB, 1500B. */
function size(bytes: number): string {
  const units: [number, string][] = [[1024 ** 3, 'GiB'], [1e9, 'GB'], [1024 ** 2, 'MiB'], [1e6, 'MB'], [1024, 'KiB'], [1e3, 'kB']];
  const [unit, name] = units.find(([n]) => bytes >= n && bytes % n === 0) ?? [1, 'B'];
  return `${bytes / unit}${name}`;
}

export function faultEffect(spec: FaultWording): string {
  switch (spec.Kind) {
    case 'latency': return `${spec.LatencyMs}ms${spec.JitterMs ? ` ±${spec.JitterMs}ms` : ''}`;
    case 'bandwidth': return `${size(spec.BytesPerSecond ?? 0)}/s`;
    case 'reset': return `after ${size(spec.AfterBytes ?? 0)}`;
    case 'loss': case 'duplicate': return `${spec.Percent}% of datagrams`;
    case 'slow-connect': return `${spec.DelayMs}ms`;
    default: return '';
  }
}
