// Test support: a node's read of its pools (GET /routemesh/mesh, as MeshWatch tells it), with one pool,
// web:80 of service s1, and the members a test gives; each member as a serving task unless told otherwise.
import type { NodeMesh } from '../../src/engine/MeshWatch.js';
import type { PoolMemberReport } from '../../src/mesh/index.js';

export function poolMember(task: string, o: Partial<PoolMemberReport> = {}): PoolMemberReport {
  return {
    task, name: `s1.1.${task}`, address: '127.20.0.2:80', state: 'serving', weight: 1, active: 0, recent: 0, total: 0, ejections: 0, timesEjected: 0, ...o,
  };
}

export function nodeRead(nodeId: string, members: PoolMemberReport[]): NodeMesh {
  return {
    nodeId, hostname: nodeId,
    report: {
      node: nodeId, at: new Date().toISOString(), windowSeconds: 60,
      pools: [{ serviceId: 's1', service: 'web', targetPort: 80, protocol: 'tcp', mode: 'tcp', algorithm: 'round-robin', counts: 'connections', local: false, members }],
    },
  };
}
