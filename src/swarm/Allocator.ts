// Hands out what a service and its tasks need from shared pools: task addresses, VIPs and published
// ports (dynamic ones from Swarm's 30000-32767 range), and refuses a published port another service holds.
import { Ipam } from '../vip-dns/index.js';
import type { PortConfig, Service } from './model.js';
import { invalidArgument } from './errors.js';

export const DYNAMIC_PORTS = { first: 30000, last: 32767 } as const;

export interface AllocatorOptions {
  taskSubnet: string;
  vipSubnet: string;
}

function portKey(port: PortConfig): string {
  return `${port.PublishedPort}/${port.Protocol}`;
}

export class Allocator {
  readonly tasks: Ipam;
  readonly vips: Ipam;

  constructor(options: AllocatorOptions) {
    this.tasks = new Ipam(options.taskSubnet);
    this.vips = new Ipam(options.vipSubnet);
  }

  /**
   * The endpoint ports a service will have: its spec's ports with dynamic published ports filled in
   * (kept from `current` when the same target was already published). Throws if another service holds one.
   */
  publishedPorts(wanted: readonly PortConfig[], others: readonly Service[], current?: readonly PortConfig[]): PortConfig[] {
    const taken = new Map<string, Service>();
    for (const other of others) {
      for (const port of other.Endpoint.Ports ?? []) {
        if (port.PublishMode === 'ingress') taken.set(portKey(port), other);
      }
    }
    const result: PortConfig[] = [];
    for (const port of wanted) {
      const out = { ...port };
      if (out.PublishMode === 'ingress' && !out.PublishedPort) {
        const previous = current?.find((p) => p.TargetPort === out.TargetPort && p.Protocol === out.Protocol && p.PublishMode === 'ingress');
        out.PublishedPort = previous?.PublishedPort ?? this.#dynamicPort(out.Protocol, taken, result);
      }
      if (out.PublishMode === 'ingress') {
        const holder = taken.get(portKey(out));
        if (holder) {
          throw invalidArgument(`port '${out.PublishedPort}' is already in use by service '${holder.Spec.Name}' (${holder.ID}) as an ingress port`);
        }
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
