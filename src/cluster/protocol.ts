// The cluster protocol on a manager's cluster port (2377), as its messages and paths: what a node sends a
// manager (join, heartbeats, task status, what its mesh has applied, leave) and the one stream a manager
// sends each node (the whole cluster view, then numbered changes). HTTP/1.1 and JSON in mutual TLS: curl
// reads it with a node's key and certificate (--key, --cert) and the swarm's root (--cacert).
import type { ContainerEndpoint, Network, NodeRole, PlainKind, PlainLists, PlainObjects, Service, StoreKind, SwarmNode, SwarmState, Task, TaskStatusReport } from '../swarm/index.js';

export const CLUSTER_PORT = 2377;

export const PATHS = {
  /** Anyone: the swarm's root CA certificate, which a joining node checks against its token's digest. */
  ca: '/v1/ca',
  join: '/v1/join',
  session: '/v1/session',
  heartbeat: '/v1/heartbeat',
  status: '/v1/status',
  applied: '/v1/applied',
  leave: '/v1/leave',
  /** Any manager: `{leader}`, whether it leads. */
  ping: '/v1/ping',
  /** Node → leader: its own networks and its containers' places on networks (NetworkRequest). */
  networks: '/v1/networks',
} as const;

/** Where a manager that is not the leader sends engine API requests that need the leader. */
export const ENGINE_PREFIX = '/v1/engine';

/** Swarm's answer to what needs the control plane while no manager leads (the docker CLI prints it as is). */
export const NO_LEADER = "rpc error: code = Unknown desc = The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online.";

export interface JoinRequest {
  token: string;
  hostname: string;
  /** The node's own address, where its engine, mesh and tasks are. */
  addr: string;
  engineLabels?: Record<string, string>;
  /** Set by a node that was a member before (it restarted): it keeps its ID, proven by its certificate. */
  nodeId?: string;
  /** The node's new public key (SPKI PEM), which its certificate is issued for. */
  publicKey: string;
}

export interface JoinAnswer {
  nodeId: string;
  role: NodeRole;
  swarmId: string;
  /** The managers' cluster addresses (`addr:2377`), the one answering first. */
  managers: string[];
  heartbeatPeriodMs: number;
  /** The node's certificate (PEM) from the swarm's root CA: CN its node ID, OU its role. */
  certificate: string;
  rootCA: string;
}

export interface StatusReport {
  taskId: string;
  report: TaskStatusReport;
}

/** One object as it is after a change, or its deletion. */
export type ViewChange =
  | { kind: 'node'; op: 'put'; object: SwarmNode }
  | { kind: 'service'; op: 'put'; object: Service }
  | { kind: 'task'; op: 'put'; object: Task }
  | { [K in PlainKind]: { kind: K; op: 'put'; object: PlainObjects[K] } }[PlainKind]
  | { kind: StoreKind; op: 'delete'; id: string };

/**
 * What a session stream carries, one JSON object a line. `seq` numbers the manager's batches of changes
 * (one per turn of its event loop, the same numbers on every stream); `epoch` names the manager process
 * that numbered them, so a node never chains changes of one manager to a view of another.
 */
export type SessionMessage =
  | ({ type: 'complete'; epoch: string; seq: number; nodes: SwarmNode[]; services: Service[]; tasks: Task[] } & PlainLists)
  | { type: 'changes'; epoch: string; appliesTo: number; resultsIn: number; changes: ViewChange[] }
  /** Every Ready node has applied the view up to `seq`: what it fenced there, it fences. */
  | { type: 'applied'; epoch: string; seq: number }
  /**
   * To managers, at the start and whenever it changes: the swarm object as /info shows it, and whole
   * (CA key and token secrets too), so another manager can lead the swarm should the leader go.
   */
  | { type: 'swarm'; swarm: Record<string, unknown>; state: SwarmState['swarm'] }
  /** Nothing changed for a heartbeat period: the manager is alive (a node takes three silent periods for a lost manager). */
  | { type: 'alive' }
  /** This node was removed from the swarm (`node rm --force`): it leaves. */
  | { type: 'removed' };

/**
 * What a node asks the leader of networks, as Swarm's network attachments: the addresses of every network
 * are handed out by the leader, since one host's blocks are shared. `create`/`remove` are the node's own
 * (bridge) networks; `attach`/`detach` a standalone container's places.
 */
export type NetworkRequest =
  | { nodeId: string; op: 'create'; request: unknown }
  | { nodeId: string; op: 'remove'; ref: string }
  | { nodeId: string; op: 'attach'; containerId: string; containerName: string; network: string; aliases: string[] }
  | { nodeId: string; op: 'detach'; containerId: string };

/** The leader's answer: the network concerned (as stored) and, for `attach`, the container's place on it. */
export interface NetworkAnswer {
  network?: Network;
  endpoint?: ContainerEndpoint;
}
