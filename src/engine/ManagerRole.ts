// What a manager node runs beside its agent and mesh: its cluster port (every manager listens, as Swarm's
// do), the control plane while it leads, and the taking of the lead when the leader is gone: the managers
// that still answer, if they are more than half of them, agree without a vote on the one with the
// freshest copy (then the first by hostname), which makes the swarm again from its copy of the view and
// of the swarm object. Without a quorum nobody leads, and the swarm answers "does not have a leader".
// (Consensus proper is etcd's, later.)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { naturalOrder } from '../swarm/index.js';
import type { Manager, SwarmNode, SwarmState } from '../swarm/index.js';
import { CLUSTER_PORT, ClusterPortServer, Dispatcher, ManagerLink } from '../cluster/index.js';
import { ApiError } from './api/index.js';

export interface ManagerRoleOptions {
  hostname: string;
  address: string;
  clusterPort: number;
  /** This engine's API, which the other managers forward to while this one leads. */
  engineApi: (req: IncomingMessage, res: ServerResponse) => void;
  /** A new control plane, or the swarm made again from a copy. */
  newManager: (restore?: SwarmState) => Manager;
  log: (line: string) => void;
}

export class ManagerRole {
  readonly #options: ManagerRoleOptions;
  readonly #server: ClusterPortServer;
  #control: { manager: Manager; dispatcher: Dispatcher } | undefined;
  #electing = false;

  /** `leader`: where the leader is, as this node's view has it; `copyIndex`: how fresh this node's copy of the swarm is. */
  constructor(options: ManagerRoleOptions, follower: { leader: () => string | undefined; copyIndex: () => number }) {
    this.#options = options;
    this.#server = new ClusterPortServer({
      engineApi: options.engineApi, leader: follower.leader, log: options.log,
      index: () => this.#control?.manager.store.index ?? follower.copyIndex(),
    });
  }

  /** The control plane, while this manager leads. */
  get manager(): Manager | undefined {
    return this.#control?.manager;
  }

  async listen(): Promise<void> {
    const { address, clusterPort } = this.#options;
    await this.#server.listen(address, clusterPort).catch((error: Error) => {
      throw new ApiError(500, `cannot listen on the cluster port ${address}:${clusterPort}: ${error.message}`);
    });
  }

  lead(manager: Manager): void {
    const dispatcher = new Dispatcher(manager);
    this.#control = { manager, dispatcher };
    this.#server.lead(dispatcher);
  }

  /**
   * The leader has been gone for three heartbeat periods (the link says so): if no manager says it leads,
   * and more than half of them answer, the first of those by hostname leads. Resolves once decided.
   */
  async takeOverIfLeaderless(link: ManagerLink): Promise<void> {
    const copy = link.swarmCopy();
    if (this.#control || this.#electing || !copy) return;
    this.#electing = true;
    try {
      const view = link.view;
      const managers = view.nodes().filter((n) => n.Spec.Role === 'manager');
      const me = managers.find((n) => n.ID === link.nodeId);
      if (!me) return;
      const others = await Promise.all(managers.filter((n) => n !== me).map(async (node) => ({ node, pong: await ManagerLink.ping(clusterAddrOf(node), this.#options.address) })));
      if (others.some((o) => o.pong?.leader)) return; // another leads: the link finds it
      const reachable = [{ node: me, index: view.index }, ...others.flatMap((o) => (o.pong ? [{ node: o.node, index: o.pong.index }] : []))];
      if (reachable.length * 2 <= managers.length) {
        this.#options.log(`${this.#options.hostname}: the leader is gone and only ${reachable.length} of ${managers.length} managers answer: the swarm has no leader until more are back`);
        return;
      }
      if (firstToLead(reachable) !== me || this.#control) return;
      const manager = this.#options.newManager(copy);
      // They missed the heartbeats that mark a node Down, as the leader did: Down now, their tasks replaced.
      for (const { node, pong } of others) if (!pong) manager.setNodeState(node.ID, 'down');
      manager.runsOn(me.ID);
      this.lead(manager);
      this.#options.log(`${this.#options.hostname}: the leader was lost; this manager leads the swarm now`);
    } finally {
      this.#electing = false;
    }
  }

  async close(): Promise<void> {
    const control = this.#control;
    this.#control = undefined;
    control?.dispatcher.close();
    await this.#server.close();
    control?.manager.close();
  }
}

/** Of managers that may lead, the one whose copy of the swarm is freshest, then the first by hostname: every manager picks the same. */
export function firstToLead(candidates: readonly { node: SwarmNode; index: number }[]): SwarmNode {
  return [...candidates].sort((a, b) => b.index - a.index || naturalOrder(a.node.Description.Hostname, b.node.Description.Hostname))[0]!.node;
}

export function clusterAddrOf(node: SwarmNode): string {
  return node.ManagerStatus?.Addr ?? `${node.Status.Addr}:${CLUSTER_PORT}`;
}
