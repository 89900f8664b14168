// Hands out what a service and its tasks need from shared pools: task addresses (one per task,
// released once), VIPs and published ports (dynamic ones from Swarm's 30000-32767 range), and refuses
// a published port another service holds.
import { Ipam, IpamError, parseCidr } from '../vip-dns/index.js';
import type { PortConfig, Service } from './model.js';
import { SwarmError, invalidArgument } from './errors.js';

const DYNAMIC_PORTS = { first: 30000, last: 32767 } as const;

export interface AllocatorOptions {
  taskSubnet: string;
  vipSubnet: string;
}

function portKey(port: PortConfig): string {
  return `${port.PublishedPort}/${port.Protocol}`;
}

export class Allocator {
  #tasks: Ipam;
  #vips: Ipam;
  /** Which task holds which address: releasing by task makes a second release harmless. */
  #taskAddresses = new Map<string, string>();
  /** How many tasks can hold an address at once: the block less Ipam's network, gateway and last addresses. */
  readonly taskCapacity: number;

  constructor(options: AllocatorOptions) {
    this.#tasks = new Ipam(options.taskSubnet);
    this.taskCapacity = Math.max(parseCidr(options.taskSubnet).size - 3, 0);
    this.#vips = new Ipam(options.vipSubnet);
  }

  /** The task's address in CIDR form (`127.20.0.5/16`); throws IpamError when the pool is exhausted. */
  taskAddress(taskId: string): { addr: string; cidr: string } {
    const addr = this.#taskAddresses.get(taskId) ?? this.#tasks.allocate();
    this.#taskAddresses.set(taskId, addr);
    return { addr, cidr: `${addr}/${this.#tasks.prefix}` };
  }

  /** Task addresses no task holds now. */
  get freeTaskAddresses(): number {
    return this.taskCapacity - this.#tasks.used;
  }

  releaseTask(taskId: string): void {
    const addr = this.#taskAddresses.get(taskId);
    if (addr === undefined) return;
    this.#taskAddresses.delete(taskId);
    this.#tasks.release(addr);
  }

  /**
   * A restored swarm's task address (CIDR form), held again by its task. An address outside the pool means
   * the swarm was started with other subnets than it was made with.
   */
  restoreTask(taskId: string, cidr: string): void {
    const addr = cidr.split('/')[0]!;
    restoring(() => this.#tasks.reserve(addr), '--task-subnet');
    this.#taskAddresses.set(taskId, addr);
  }

  /** A restored service's VIP (CIDR form), taken again. */
  restoreVip(cidr: string): void {
    restoring(() => this.#vips.reserve(cidr.split('/')[0]!), '--vip-subnet');
  }

  /** A VIP in CIDR form; an exhausted pool is the caller's error to report, before anything is written. */
  vip(): string {
    try {
      return `${this.#vips.allocate()}/${this.#vips.prefix}`;
    } catch (error) {
      if (error instanceof IpamError) throw new SwarmError('invalid_argument', error.message);
      throw error;
    }
  }

  releaseVip(cidr: string): void {
    this.#vips.release(cidr.split('/')[0]!);
  }

  /**
   * The endpoint ports a service will have: its spec's ports with dynamic published ports filled in
   * (kept from `current` when the same target was already published). Throws if another service holds one.
   */
  publishedPorts(wanted: readonly PortConfig[], others: readonly Service[], current?: readonly PortConfig[]): PortConfig[] {
    // An ingress port opens on every node, so it collides with any other service's port of the same number,
    // ingress or host; two host-mode ports only collide on one node, which the scheduler avoids.
    const taken = new Map<string, Service>();
    const takenByHost = new Map<string, Service>();
    for (const other of others) {
      for (const port of other.Endpoint.Ports ?? []) {
        (port.PublishMode === 'ingress' ? taken : takenByHost).set(portKey(port), other);
      }
    }
    const result: PortConfig[] = [];
    for (const port of wanted) {
      const out = { ...port };
      if (out.PublishMode === 'ingress' && !out.PublishedPort) {
        const previous = current?.find((p) => p.TargetPort === out.TargetPort && p.Protocol === out.Protocol && p.PublishMode === 'ingress');
        out.PublishedPort = previous?.PublishedPort ?? this.#dynamicPort(out.Protocol, taken, result);
      }
      const ingressHolder = taken.get(portKey(out));
      if (ingressHolder) {
        throw invalidArgument(`port '${out.PublishedPort}' is already in use by service '${ingressHolder.Spec.Name}' (${ingressHolder.ID}) as an ingress port`);
      }
      const hostHolder = out.PublishMode === 'ingress' ? takenByHost.get(portKey(out)) : undefined;
      if (hostHolder) {
        throw invalidArgument(`port '${out.PublishedPort}' is already in use by service '${hostHolder.Spec.Name}' (${hostHolder.ID}) as a host port`);
      }
      result.push(out);
    }
    return result;
  }

  #dynamicPort(protocol: PortConfig['Protocol'], taken: Map<string, Service>, chosen: PortConfig[]): number {
    for (let port = DYNAMIC_PORTS.first; port <= DYNAMIC_PORTS.last; port++) {
      const key = `${port}/${protocol}`;
      if (!taken.has(key) && !chosen.some((p) => portKey(p) === key)) return port;
    }
    throw invalidArgument('no dynamic port is free in 30000-32767: give the port a published value');
  }
}

function restoring(reserve: () => void, flag: string): void {
  try {
    reserve();
  } catch (error) {
    throw new Error(`the stored swarm does not fit this cluster's addresses (${(error as Error).message}): ` +
      `start it with the ${flag} it was made with, or start over with --fresh`);
  }
}
