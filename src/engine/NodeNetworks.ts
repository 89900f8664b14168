// One node's networking requests that only the swarm's leader can grant, as Swarm's network attachments:
// its own bridge networks, and its standalone containers' places on networks (ContainerNetworking). Every
// address comes from the leader, over the node's cluster link, since one host's blocks are shared; what
// happened is said to the node's event feed, as Docker's network events.
import { ClusterRequestError, asSwarmError } from '../cluster/index.js';
import type { ManagerLink } from '../cluster/index.js';
import type { Network } from '../swarm/index.js';
import { ApiError } from './api/index.js';
import type { ContainerAttachment, ContainerNetworking } from './ContainerNetworking.js';
import type { EventSink } from './EventSink.js';

const NOT_IN_SWARM = "this node is not in a swarm: routemesh's networks, and every container address, come from the swarm's leader; " +
  'run `docker swarm init` or `docker swarm join` first';

export class NodeNetworks implements ContainerNetworking {
  readonly #link: () => ManagerLink | undefined;
  readonly #events: EventSink | undefined;

  constructor(link: () => ManagerLink | undefined, events?: EventSink) {
    this.#link = link;
    this.#events = events;
  }

  /** `docker network create -d bridge` on this node: a network of its own, for its containers. */
  async createLocal(request: unknown): Promise<Network> {
    const { network } = await this.#ask({ op: 'create', request });
    this.said('create', network!);
    return network!;
  }

  async removeLocal(ref: string, network: Network): Promise<void> {
    await this.#ask({ op: 'remove', ref });
    this.said('destroy', network);
  }

  async attach(request: { containerId: string; containerName: string; network: string; aliases: string[] }): Promise<ContainerAttachment> {
    const { network, endpoint } = await this.#ask({ op: 'attach', ...request, aliases: [...request.aliases] });
    const [address, prefix] = endpoint!.LoopbackAddress.split('/');
    this.said('connect', network!, { container: request.containerId });
    return {
      networkId: network!.ID,
      networkName: network!.Spec.Name,
      address: address!,
      shownAddress: endpoint!.Address.split('/')[0]!,
      prefixLength: Number(prefix),
      gateway: network!.IPAMOptions?.Configs[0]?.Gateway ?? '',
      aliases: endpoint!.Aliases ?? [],
    };
  }

  async detach(containerId: string): Promise<void> {
    const link = this.#link();
    const on = link?.view.all('network').filter((n) => n.Containers?.[containerId]) ?? [];
    await this.#ask({ op: 'detach', containerId });
    for (const network of on) this.said('disconnect', network, { container: containerId });
  }

  /** Docker's network event: `create`, `destroy`, `connect`, `disconnect`. */
  said(action: string, network: Network, attributes: Record<string, string> = {}): void {
    this.#events?.record({
      Type: 'network',
      Action: action,
      Actor: { ID: network.ID, Attributes: { ...attributes, name: network.Spec.Name, type: network.Spec.DriverConfiguration?.Name ?? 'overlay' } },
      scope: network.Spec.Scope === 'local' ? 'local' : 'swarm',
    });
  }

  async #ask(request: Parameters<ManagerLink['networks']>[0]): ReturnType<ManagerLink['networks']> {
    const link = this.#link();
    if (!link) throw new ApiError(503, NOT_IN_SWARM);
    try {
      return await link.networks(request);
    } catch (error) {
      if (error instanceof ClusterRequestError) throw asSwarmError(error);
      throw error;
    }
  }
}

