// What one node's pools look like from outside (GET /routemesh/mesh, and the dashboard's mesh grid and
// bars): per service port, each member's state on this node (ejection and fencing are this node's own),
// what it was handed in the last minute, and what is open to it now. Read off the pools when asked.
import { memberStateOf } from '../lb/index.js';
import type { LinkFault, MemberState } from '../lb/index.js';
import type { Algorithm, Protocol } from '../swarm/index.js';
import type { BalancedPool } from './BalancedPool.js';
import type { TrafficWindow } from './TrafficWindow.js';

export const POOL_COUNTS = ['connections', 'flows', 'requests'] as const;

export interface PoolMemberReport {
  /** The task's ID. */
  task: string;
  /** The task's name (`my-web.1.<id>`). */
  name: string;
  /** Where this node connects to it. */
  address: string;
  state: MemberState;
  weight: number;
  /** Connections, flows or requests open to it from this node now. */
  active: number;
  /** Handed to it by this node within the window. */
  recent: number;
  /** Handed to it by this node since it joined the pool. */
  total: number;
  /** Its ejection level on this node: each ejection lasts longer than the one before (the log's `ejection N`). */
  ejections: number;
  /** Times this node ever ejected it. */
  timesEjected: number;
  /** While it is ejected: how long until it is back. */
  ejectedForMs?: number;
  /** The injected faults on this node's way to it, merged. */
  fault?: LinkFault;
}

export interface PoolReport {
  serviceId: string;
  service: string;
  targetPort: number;
  protocol: Protocol;
  mode: 'tcp' | 'http';
  algorithm: Algorithm;
  /** What `recent` and `total` count: tcp connections, udp flows, or http-mode requests. */
  counts: (typeof POOL_COUNTS)[number];
  /** A port published in host mode: this node's own tasks only. */
  local: boolean;
  members: PoolMemberReport[];
}

/** A node's whole report. */
export interface MeshReport {
  /** The node's hostname. */
  node: string;
  /** When it was read (ISO 8601). */
  at: string;
  /** What `recent` spans. */
  windowSeconds: number;
  pools: PoolReport[];
}

export function poolReport(pool: BalancedPool, traffic: TrafficWindow, now: number): PoolReport | undefined {
  const route = pool.route;
  if (!route) return undefined;
  const { settings } = route;
  return {
    serviceId: route.serviceId,
    service: route.serviceName,
    targetPort: route.targetPort,
    protocol: route.protocol,
    mode: settings.mode,
    algorithm: settings.algorithm,
    counts: route.protocol === 'udp' ? 'flows' : settings.mode === 'http' ? 'requests' : 'connections',
    local: route.poolKey.includes('@'),
    members: pool.pool.backends.map((backend) => ({
      task: backend.id,
      name: backend.label,
      address: `${backend.host}:${backend.port}`,
      state: memberStateOf(backend, now),
      weight: backend.weight,
      active: backend.active,
      recent: traffic.recent(backend),
      total: backend.total,
      ejections: backend.ejections,
      timesEjected: backend.timesEjected,
      ...(backend.ejectedUntil > now ? { ejectedForMs: backend.ejectedUntil - now } : {}),
      ...(backend.link ? { fault: backend.link.fault } : {}),
    })),
  };
}
