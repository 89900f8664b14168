// The swarm's networks, as the leader keeps them: overlay networks and each node's bridge networks, their
// subnets as given and their loopback blocks (NetworkAllocator), and standalone containers' places on them
// (Swarm's network attachments). Services' and tasks' addresses on networks are the Manager's (TaskLifecycle).
import { createHash } from 'node:crypto';
import type { ContainerEndpoint, Network } from './model.js';
import { isTerminal, nowIso } from './model.js';
import type { ClusterView, Store } from './Store.js';
import type { NetworkAllocator } from './NetworkAllocator.js';
import { INGRESS_NETWORK_NAME } from './TaskLifecycle.js';
import { PREDEFINED_NETWORKS, normalizeNetworkRequest } from './networkSpec.js';
import { SwarmError, failedPrecondition, invalidArgument } from './errors.js';
import { newLocalId, newObjectId } from './ids.js';
import { IpamError, intToIp, parseCidr } from '../vip-dns/index.js';

/** Swarm's default address pool for networks given no subnet: 10.0.N.0/24 (ingress has 10.0.0.0/24 in Swarm). */
const DEFAULT_SUBNETS = { base: '10.0.0.0', count: 256, prefix: 24 } as const;

export class SwarmNetworks {
  readonly #store: Store;
  readonly #addresses: NetworkAllocator;
  readonly #ingressNetworkId: string;

  constructor(store: Store, addresses: NetworkAllocator, ingressNetworkId: string) {
    this.#store = store;
    this.#addresses = addresses;
    this.#ingressNetworkId = ingressNetworkId;
  }

  /**
   * Among the networks `nodeId` sees (networksSeenBy), Docker's lookup order: full ID, then exact name, then
   * unique ID prefix; the ingress network is the engine API's to show.
   */
  resolve(ref: string, nodeId?: string): Network {
    const all = networksSeenBy(this.#store, nodeId);
    const byId = all.find((n) => n.ID === ref);
    if (byId) return byId;
    const byName = all.filter((n) => n.Spec.Name === ref);
    if (byName.length === 1) return byName[0]!;
    const byPrefix = ref ? all.filter((n) => n.ID.startsWith(ref)) : [];
    if (byName.length > 1 || byPrefix.length > 1) {
      throw new SwarmError('invalid_argument', `network ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found based on ${byName.length > 1 ? 'name' : 'ID'})`);
    }
    if (byPrefix.length === 1) return byPrefix[0]!;
    throw new SwarmError('not_found', `network ${ref} not found`);
  }

  /**
   * `docker network create`: an overlay network for the swarm, or a bridge network of `nodeId` (the node
   * whose engine was asked). Its subnet is the one given, or the next free /24 of Swarm's 10.0.0.0/8, and
   * its loopback block of the same size comes from the network pool.
   */
  create(input: unknown, nodeId?: string, options: { id?: string; predefined?: boolean } = {}): Network {
    const request = normalizeNetworkRequest(input);
    const local = request.Driver === 'bridge';
    if (local && !nodeId) throw new SwarmError('invalid_argument', 'a bridge network belongs to one node: create it through that node\'s engine API');
    const all = this.#store.all('network');
    const clash = (!options.predefined && (PREDEFINED_NETWORKS as readonly string[]).includes(request.Name)) ||
      all.some((n) => n.Spec.Name === request.Name && (n.Spec.Scope !== 'local' || !local || n.NodeID === nodeId));
    if (clash) throw new SwarmError('already_exists', `network with name ${request.Name} already exists`);
    // Subnets are one host's, as in Docker: a node's bridge networks beside the swarm's, not other nodes'.
    const near = all.filter((n) => n.Spec.Scope !== 'local' || (local && n.NodeID === nodeId));
    const subnet = request.Subnet ?? defaultSubnet(near);
    const wanted = parseCidr(subnet);
    // Overlap is refused within one address space, as libnetwork's: the swarm's networks, or one node's bridges.
    const overlapping = near.find((n) => {
      if ((n.Spec.Scope === 'local') !== local) return false;
      const other = n.IPAMOptions?.Configs[0]?.Subnet;
      if (!other) return false;
      const o = parseCidr(other);
      return wanted.base < o.base + o.size && o.base < wanted.base + wanted.size;
    });
    if (overlapping) {
      throw new SwarmError('failed_precondition', `invalid pool request: Pool overlaps with other one on this address space ` +
        `(network ${overlapping.Spec.Name} has ${overlapping.IPAMOptions!.Configs[0]!.Subnet}): give another --subnet`);
    }
    const loopback = this.#addresses.block(subnet);
    const now = nowIso();
    const ipam = { Driver: { Name: 'default' }, Configs: [{ Subnet: subnet, Gateway: request.Gateway ?? intToIp(wanted.base + 1) }] };
    const network: Network = {
      ID: options.id ?? (local ? newLocalId() : newObjectId()),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: {
        Name: request.Name,
        Labels: request.Labels,
        DriverConfiguration: { Name: request.Driver, ...(Object.keys(request.Options).length ? { Options: request.Options } : {}) },
        Internal: request.Internal,
        Attachable: request.Attachable,
        IPAMOptions: request.Subnet ? { Driver: { Name: 'default' }, Configs: [{ Subnet: request.Subnet, ...(request.Gateway ? { Gateway: request.Gateway } : {}) }] } : { Driver: { Name: 'default' } },
        Scope: local ? 'local' : 'swarm',
      },
      IPAMOptions: ipam,
      LoopbackSubnet: loopback,
      ...(local ? { NodeID: nodeId! } : {}),
    };
    this.#addresses.add(network);
    return this.#store.put('network', network);
  }

  /** `docker network rm`: refused while a service, a task or a container is on the network, with swarmkit's words. */
  remove(ref: string, nodeId?: string): void {
    const network = this.resolve(ref, nodeId);
    const service = this.#store.services().find((s) => (s.Spec.TaskTemplate.Networks ?? []).some((n) => n.Target === network.ID));
    if (service) throw failedPrecondition(`network ${network.ID} is in use by service ${service.ID}`);
    const task = this.#store.tasks().find((t) => !isTerminal(t.Status.State) && (t.NetworksAttachments ?? []).some((a) => a.Network.ID === network.ID));
    if (task) throw failedPrecondition(`network ${network.ID} is in use by task ${task.ID}`);
    if (Object.keys(network.Containers ?? {}).length) {
      throw new SwarmError('permission_denied', `error while removing network: network ${network.Spec.Name} id ${network.ID} has active endpoints`);
    }
    this.#store.delete('network', network.ID);
    this.#addresses.remove(network.ID);
  }

  /**
   * A standalone container of `nodeId` on a network (Swarm's network attachment): its address there, from the
   * network's block, kept in the network's Containers. `bridge` is the node's default bridge network, made
   * the first time a container asks for it. Refused as Docker refuses: a network the node does not see, or
   * a swarm network that is not attachable.
   */
  attachContainer(nodeId: string, request: { containerId: string; containerName: string; network: string; aliases: string[] }): { network: Network; endpoint: ContainerEndpoint } {
    if (!this.#store.node(nodeId)) throw new SwarmError('not_found', `node ${nodeId} not found`);
    const ref = request.network;
    if (ref === INGRESS_NETWORK_NAME || ref === this.#ingressNetworkId || (ref && this.#ingressNetworkId.startsWith(ref) && ref.length >= 12)) {
      throw new SwarmError('permission_denied', `Could not attach to network ${ref}: rpc error: code = PermissionDenied desc = network ingress not manually attachable`);
    }
    const network = ref === 'bridge' ? this.#defaultBridge(nodeId) : this.resolve(ref, nodeId);
    if (network.Spec.Scope !== 'local' && !network.Spec.Attachable) {
      throw new SwarmError('permission_denied', `Could not attach to network ${ref}: rpc error: code = PermissionDenied desc = network ${network.Spec.Name} not manually attachable`);
    }
    const had = network.Containers?.[request.containerId];
    if (had) return { network, endpoint: had };
    let address;
    try {
      address = this.#addresses.address(network.ID, request.containerId);
    } catch (error) {
      if (!(error instanceof IpamError)) throw error;
      throw invalidArgument(`network ${network.Spec.Name} has no address left for container ${request.containerName}: remove a container or a service from it`);
    }
    const endpoint: ContainerEndpoint = {
      Name: request.containerName, NodeID: nodeId, Address: address.shown, LoopbackAddress: address.loopback,
      ...(request.aliases.length ? { Aliases: [...request.aliases] } : {}),
    };
    const next = structuredClone(network);
    next.Containers = { ...next.Containers, [request.containerId]: endpoint };
    return { network: this.#store.put('network', next), endpoint };
  }

  /** The container leaves every network it is on; its addresses are free again. */
  detachContainer(containerId: string): void {
    for (const network of this.#store.all('network')) {
      if (!network.Containers?.[containerId]) continue;
      const next = structuredClone(network);
      delete next.Containers![containerId];
      this.#store.put('network', next);
      this.#addresses.release(network.ID, containerId);
    }
  }

  /**
   * A node removed from the swarm: its containers' places on networks are free again, and its bridge
   * networks, which were its alone, are gone (as its engine's would be with it).
   */
  forgetNode(nodeId: string): void {
    for (const network of this.#store.all('network')) {
      if (network.Spec.Scope === 'local' && network.NodeID === nodeId) {
        this.#store.delete('network', network.ID);
        this.#addresses.remove(network.ID);
        continue;
      }
      const theirs = Object.entries(network.Containers ?? {}).filter(([, endpoint]) => endpoint.NodeID === nodeId).map(([id]) => id);
      if (!theirs.length) continue;
      const next = structuredClone(network);
      for (const id of theirs) {
        delete next.Containers![id];
        this.#addresses.release(network.ID, id);
      }
      this.#store.put('network', next);
    }
  }

  /** The node's default `bridge` network (Docker's docker0), made the first time it is needed, under an ID the node derives too. */
  #defaultBridge(nodeId: string): Network {
    const id = defaultBridgeId(nodeId);
    return this.#store.get('network', id) ?? this.create({ Name: 'bridge', Driver: 'bridge', IPAM: { Config: [{ Subnet: DEFAULT_BRIDGE_SUBNET }] } }, nodeId, { id, predefined: true });
  }
}

/** The networks one node sees, in any copy of the swarm's objects: the swarm's, and its own node-local (bridge) ones. */
export function networksSeenBy(view: ClusterView, nodeId: string | undefined): Network[] {
  return view.all('network').filter((n) => n.Spec.Scope !== 'local' || n.NodeID === nodeId);
}

/** The first /24 of Swarm's default pool, 10.0.N.0/24 from N = 1, that no network's subnet overlaps. */
function defaultSubnet(networks: readonly Network[]): string {
  const taken = networks.flatMap((n) => n.IPAMOptions?.Configs.map((c) => parseCidr(c.Subnet)) ?? []);
  const size = 2 ** (32 - DEFAULT_SUBNETS.prefix);
  const first = parseCidr(`${DEFAULT_SUBNETS.base}/8`).base;
  for (let n = 1; n < DEFAULT_SUBNETS.count; n++) {
    const base = first + n * size;
    if (!taken.some((c) => base < c.base + c.size && c.base < base + size)) return `${intToIp(base)}/${DEFAULT_SUBNETS.prefix}`;
  }
  throw invalidArgument('Swarm\'s default pool 10.0.0.0/16 has no /24 left: give the network a --subnet');
}

/** Docker's docker0 is 172.17.0.0/16; routemesh's default bridge is its first /24, so its loopback block fits a network pool. */
export const DEFAULT_BRIDGE_SUBNET = '172.17.0.0/24';

/** The ID of a node's default bridge network: derived from the node's, so every manager names it alike. */
export function defaultBridgeId(nodeId: string): string {
  return createHash('sha256').update(`bridge:${nodeId}`).digest('hex');
}
