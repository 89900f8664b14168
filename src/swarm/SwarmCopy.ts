// A copy of the swarm that a manager which does not lead keeps (its objects in a Store fed by a watch, and
// the swarm's record beside them), answering the engine API's reads as the leader's Manager answers them:
// the same functions over the same objects. It only reads; keeping the copy current is its keeper's.
import { faultReadsOf } from './Faults.js';
import type { FaultReads } from './Faults.js';
import type { Service, SwarmNode } from './model.js';
import type { ClusterView } from './Store.js';
import type { SwarmState } from './SwarmState.js';
import type { SwarmReader } from './SwarmReader.js';
import { clusterInfoOf, resolveNodeIn, resolveServiceIn } from './SwarmReader.js';
import { secretReadsOf } from './SecretKind.js';
import type { SecretReads } from './SecretKind.js';
import { joinTokensOf } from './JoinTokens.js';
import { SwarmError } from './errors.js';

export interface SwarmCopyOptions {
  /** The swarm's objects as the copy holds them (a Store its keeper writes). */
  store: ClusterView;
  /** The swarm's record as the copy last heard it; undefined until it has. */
  swarm: () => SwarmState['swarm'] | undefined;
  /** The ingress network's block, which the swarm's record does not hold: every manager is given it (ManagerOptions.taskSubnet). */
  taskSubnet: string;
}

export class SwarmCopy implements SwarmReader {
  readonly store: ClusterView;
  readonly secrets: SecretReads;
  readonly configs: SecretReads;
  readonly faults: FaultReads;
  readonly taskSubnet: string;
  readonly #swarm: () => SwarmState['swarm'] | undefined;

  constructor(options: SwarmCopyOptions) {
    this.store = options.store;
    this.secrets = secretReadsOf(options.store, 'secret');
    this.configs = secretReadsOf(options.store, 'config');
    this.faults = faultReadsOf(options.store);
    this.taskSubnet = options.taskSubnet;
    this.#swarm = options.swarm;
  }

  get ingressNetworkId(): string {
    return this.#record().ingressNetworkId;
  }

  get createdAt(): string {
    return this.#record().createdAt;
  }

  resolveNode(ref: string): SwarmNode {
    return resolveNodeIn(this.store, ref);
  }

  resolveService(ref: string): Service {
    return resolveServiceIn(this.store, ref);
  }

  clusterInfo(): Record<string, unknown> {
    return clusterInfoOf(this.#record());
  }

  joinTokens(): { Worker: string; Manager: string } {
    return joinTokensOf(this.#record());
  }

  #record(): SwarmState['swarm'] {
    const swarm = this.#swarm();
    if (!swarm) throw new SwarmError('unavailable', 'this manager has not yet heard the swarm\'s record from its store: try again in a moment, or ask the leader');
    return swarm;
  }
}
