// The swarm as the engine API's reads see it (GET /nodes, /services, /tasks, /networks, /secrets, /configs,
// /swarm): the leader's control plane answers them (Manager), and so will a manager that follows the swarm
// through its own copy (SwarmCopy). Each read is defined once, here or beside the kind it reads, for both.
import type { Service, SwarmNode } from './model.js';
import type { ClusterView } from './Store.js';
import type { SecretReads } from './SecretKind.js';
import type { FaultReads } from './Faults.js';
import type { SwarmState } from './SwarmState.js';
import { resolveRef } from './resolveRef.js';
import { tlsInfoOf } from './RootCA.js';

export interface SwarmReader {
  /** The swarm's objects (a node's networks: networksSeenBy). */
  readonly store: ClusterView;
  /** Swarm's lookup order (resolveRef); a node's names are its Spec.Name and its hostname. */
  resolveNode(ref: string): SwarmNode;
  resolveService(ref: string): Service;
  readonly secrets: SecretReads;
  readonly configs: SecretReads;
  readonly faults: FaultReads;
  /** The ingress network, which no store holds (it is made with the swarm): its ID, its creation (the swarm's) and its block. */
  readonly ingressNetworkId: string;
  readonly createdAt: string;
  readonly taskSubnet: string;
  /** The swarm as /info's Swarm.Cluster shows it: what GET /swarm answers, less the join tokens. */
  clusterInfo(): Record<string, unknown>;
  /** The join tokens GET /swarm shows. */
  joinTokens(): { Worker: string; Manager: string };
}

export function resolveNodeIn(view: ClusterView, ref: string): SwarmNode {
  return resolveRef('node', view.nodes(), ref, (n) => [n.Spec.Name, n.Description.Hostname]);
}

export function resolveServiceIn(view: ClusterView, ref: string): Service {
  return resolveRef('service', view.services(), ref, (s) => [s.Spec.Name]);
}

/** The swarm object of `clusterInfo()`, from the swarm's record. */
export function clusterInfoOf(swarm: SwarmState['swarm']): Record<string, unknown> {
  return {
    ID: swarm.id,
    // Absent only from a state written before the swarm had them; a Manager made from one fills them in.
    Version: { Index: swarm.version ?? 0 },
    CreatedAt: swarm.createdAt,
    UpdatedAt: swarm.updatedAt ?? swarm.createdAt,
    Spec: structuredClone(swarm.spec),
    TLSInfo: tlsInfoOf(swarm.rootCA.certificatePem),
    RootRotationInProgress: false,
    DefaultAddrPool: ['10.0.0.0/8'],
    SubnetSize: 24,
    DataPathPort: 4789,
  };
}
