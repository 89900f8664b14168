// Each network's addresses: a loopback block from the network pool, mapped one to one onto the network's
// own subnet (the one the user gave, only ever shown), and an address pool over that block for the tasks,
// VIPs and containers on the network (each holder's address released once).
import { BlockPool, Ipam, IpamError, mapAddress, parseCidr } from '../vip-dns/index.js';
import type { Network } from './model.js';
import { invalidArgument } from './errors.js';

/** An address on a network, both ways. */
export interface NetworkAddress {
  /** In the network's own subnet, Docker's form: `10.0.1.5/24`. */
  shown: string;
  /** In its loopback block, what is really bound: `127.1.128.5/24`. */
  loopback: string;
}

interface Plan {
  subnet: string;
  loopback: string;
  prefix: number;
  ipam: Ipam;
  holders: Map<string, string>;
}

export class NetworkAllocator {
  readonly #blocks: BlockPool;
  readonly #networks = new Map<string, Plan>();

  constructor(pool: string) {
    this.#blocks = new BlockPool(pool);
  }

  get pool(): string {
    return this.#blocks.cidr;
  }

  /** A loopback block for a new network whose subnet is `subnet`; refused, saying what to do, when none fits. */
  block(subnet: string): string {
    const { prefix, size } = parseCidr(subnet);
    const block = this.#blocks.allocate(prefix);
    if (block) return block;
    const poolSize = parseCidr(this.pool).size;
    throw invalidArgument(size > poolSize
      ? `subnet ${subnet} is larger than routemesh's network pool ${this.pool}, whose loopback addresses the network's tasks really bind: ` +
        `give a smaller --subnet (a /24 is Swarm's default), or start the cluster with a larger --network-pool`
      : `routemesh's network pool ${this.pool} has no free /${prefix} block left for subnet ${subnet}: remove a network, give a smaller --subnet, ` +
        'or start the cluster with a larger --network-pool');
  }

  /** A network's addresses from now on (a new one, or a restored one, whose block is taken again). */
  add(network: Network): void {
    const subnet = network.IPAMOptions?.Configs[0]?.Subnet;
    const loopback = network.LoopbackSubnet;
    if (!subnet || !loopback || this.#networks.has(network.ID)) return;
    try {
      this.#blocks.reserve(loopback);
    } catch (error) {
      throw new Error(`the stored swarm does not fit this cluster's addresses (${(error as Error).message}): ` +
        'start it with the --network-pool it was made with, or start over with --fresh');
    }
    const ipam = new Ipam(loopback);
    const gateway = network.IPAMOptions!.Configs[0]!.Gateway;
    // A gateway the user chose elsewhere than the block's second address is never handed out.
    if (gateway) {
      try { ipam.reserve(mapAddress(gateway, subnet, loopback)); } catch { /* the block's own gateway: skipped already */ }
    }
    const plan = { subnet, loopback, prefix: parseCidr(subnet).prefix, ipam, holders: new Map<string, string>() };
    this.#networks.set(network.ID, plan);
    // A restored network's containers hold their addresses again.
    for (const [containerId, endpoint] of Object.entries(network.Containers ?? {})) {
      const addr = endpoint.LoopbackAddress.split('/')[0]!;
      ipam.reserve(addr);
      plan.holders.set(containerId, addr);
    }
  }

  remove(networkId: string): void {
    const plan = this.#networks.get(networkId);
    if (!plan) return;
    this.#networks.delete(networkId);
    this.#blocks.release(plan.loopback);
  }

  /** The holder's address on the network (the same one if it has one); throws IpamError when the network's block is full. */
  address(networkId: string, holder: string): NetworkAddress {
    const plan = this.#plan(networkId);
    const addr = plan.holders.get(holder) ?? plan.ipam.allocate();
    plan.holders.set(holder, addr);
    return this.#both(plan, addr);
  }

  /** A restored holder's address (its loopback form, CIDR or not), held again. */
  restore(networkId: string, holder: string, loopback: string): void {
    const plan = this.#networks.get(networkId);
    if (!plan) return;
    const addr = loopback.split('/')[0]!;
    plan.ipam.reserve(addr);
    plan.holders.set(holder, addr);
  }

  release(networkId: string, holder: string): void {
    const plan = this.#networks.get(networkId);
    const addr = plan?.holders.get(holder);
    if (!plan || addr === undefined) return;
    plan.holders.delete(holder);
    plan.ipam.release(addr);
  }

  /** Whether the network has an address left for a new holder. */
  hasFree(networkId: string): boolean {
    const plan = this.#networks.get(networkId);
    return !!plan && plan.ipam.used < parseCidr(plan.loopback).size - 3;
  }

  #plan(networkId: string): Plan {
    const plan = this.#networks.get(networkId);
    if (!plan) throw new IpamError(`network ${networkId} has no address block`);
    return plan;
  }

  #both(plan: Plan, addr: string): NetworkAddress {
    return { shown: `${mapAddress(addr, plan.loopback, plan.subnet)}/${plan.prefix}`, loopback: `${addr}/${plan.prefix}` };
  }
}
