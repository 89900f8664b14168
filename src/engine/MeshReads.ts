// The dashboard's record of every node's pools while a page follows: each node's last read, sent to the
// pages when it differs from the one before (its time of reading aside), and its last read that had pools,
// which ejections are counted against, so that a failed read in between hides none.
import { poolEvents } from './dashboardTimeline.js';
import type { DashboardEvent } from './dashboardTimeline.js';
import type { NodeMesh } from './MeshWatch.js';
import type { PoolMemberReport } from '../mesh/index.js';

interface NodeReads {
  last: NodeMesh;
  /** `last` but for when it was made: what the next read is compared with. */
  key: string;
  withPools: NodeMesh | undefined;
}

export class MeshReads {
  #nodes = new Map<string, NodeReads>();
  #changed = new Set<string>();

  /** Takes a node's read: the timeline lines it makes, or undefined when it says nothing new. */
  take(read: NodeMesh, subjectOf: (member: PoolMemberReport) => string): Omit<DashboardEvent, 'at'>[] | undefined {
    const key = JSON.stringify(read.report ? { ...read, report: { ...read.report, at: '' } } : read);
    const known = this.#nodes.get(read.nodeId);
    if (known?.key === key) return undefined;
    this.#nodes.set(read.nodeId, { last: read, key, withPools: read.report ? read : known?.withPools });
    this.#changed.add(read.nodeId);
    return read.report ? poolEvents(known?.withPools, read, subjectOf) : [];
  }

  /** The reads that changed since the last call. */
  takeChanged(): NodeMesh[] {
    const changed = [...this.#changed].flatMap((id) => this.#nodes.get(id)?.last ?? []);
    this.#changed.clear();
    return changed;
  }

  all(): NodeMesh[] {
    return [...this.#nodes.values()].map((reads) => reads.last);
  }

  forget(nodeId: string): void {
    this.#nodes.delete(nodeId);
    this.#changed.delete(nodeId);
  }

  clear(): void {
    this.#nodes.clear();
    this.#changed.clear();
  }
}
