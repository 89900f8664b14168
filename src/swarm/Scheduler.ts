// Chooses a node for each new task the way Swarm spreads them: among Ready and Active nodes that meet
// the constraints (and where no task holds the host-mode ports it needs), the one with the fewest tasks of
// this service, then the fewest tasks overall.
import type { SwarmNode, Task } from './model.js';
import { isTerminal } from './model.js';
import type { Constraint } from './constraints.js';
import { nodeSatisfies } from './constraints.js';
import { naturalOrder } from './naturalOrder.js';

export interface PlacementRequest {
  serviceId: string;
  constraints: readonly Constraint[];
  /** 0 = unlimited (Placement.MaxReplicas). */
  maxPerNode: number;
  /** Host-mode ports (`8081/tcp`) the task binds on its node: no two tasks that need one share a node. */
  hostPorts?: readonly string[];
}

export function isEligible(node: SwarmNode): boolean {
  return node.Status.State === 'ready' && node.Spec.Availability === 'active';
}

/** Tasks that occupy a node: desired to run and not yet ended. */
function occupies(task: Task): boolean {
  return task.DesiredState === 'running' && !isTerminal(task.Status.State) && task.NodeID !== '';
}

export class Scheduler {
  /** Places `count` tasks one by one, counting each placement so a batch spreads too. Undefined = no node. */
  place(request: PlacementRequest, count: number, nodes: readonly SwarmNode[], tasks: readonly Task[]): (string | undefined)[] {
    const ofService = new Map<string, number>();
    const overall = new Map<string, number>();
    const hostPorts = request.hostPorts ?? [];
    /** Nodes whose host ports this task would collide with. */
    const blocked = new Set<string>();
    for (const task of tasks) {
      if (!occupies(task)) continue;
      if ((task.Status.PortStatus.Ports ?? []).some((p) => hostPorts.includes(`${p.PublishedPort}/${p.Protocol}`))) blocked.add(task.NodeID);
      overall.set(task.NodeID, (overall.get(task.NodeID) ?? 0) + 1);
      if (task.ServiceID === request.serviceId) ofService.set(task.NodeID, (ofService.get(task.NodeID) ?? 0) + 1);
    }
    const candidates = nodes
      .filter((n) => isEligible(n) && nodeSatisfies(n, request.constraints))
      .sort((a, b) => naturalOrder(a.Description.Hostname, b.Description.Hostname));

    const choices: (string | undefined)[] = [];
    for (let i = 0; i < count; i++) {
      let best: SwarmNode | undefined;
      for (const node of candidates) {
        const mine = ofService.get(node.ID) ?? 0;
        if (request.maxPerNode > 0 && mine >= request.maxPerNode) continue;
        if (blocked.has(node.ID)) continue;
        if (!best) { best = node; continue; }
        const bestMine = ofService.get(best.ID) ?? 0;
        if (mine < bestMine || (mine === bestMine && (overall.get(node.ID) ?? 0) < (overall.get(best.ID) ?? 0))) best = node;
      }
      choices.push(best?.ID);
      if (best) {
        if (hostPorts.length) blocked.add(best.ID);
        ofService.set(best.ID, (ofService.get(best.ID) ?? 0) + 1);
        overall.set(best.ID, (overall.get(best.ID) ?? 0) + 1);
      }
    }
    return choices;
  }
}
