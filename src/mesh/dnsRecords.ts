// Turns the cluster view into the embedded DNS server's records: every service's name, VIP and the
// tasks that are in its pool (the same test the pools use, so DNS never names a task the mesh avoids).
// Pure, so it is tested as a table.
import type { Network, Service, SwarmNode, Task } from '../swarm/index.js';
import type { ServiceRecord, ServiceScope, TaskRecord } from '../vip-dns/index.js';
import { groupByService, nodesUpOf, poolStateOf, servicePorts, vipOf } from './RoutingTable.js';
import type { ServicePort } from './RoutingTable.js';

/** A network's name by its ID (the cluster view's networks). */
export type NetworkName = (id: string) => string | undefined;

/** `targetPorts` as for buildRoutingTable: where the caller remembers more ports than the tasks show. */
export function dnsRecords(services: readonly Service[], tasks: readonly Task[], nodes: readonly SwarmNode[],
  targetPorts?: ReadonlyMap<string, readonly ServicePort[]>, networkName?: NetworkName): ServiceRecord[] {
  const nodesUp = nodesUpOf(nodes);
  const tasksByService = groupByService(tasks);
  return services.map((service) => {
    const own = tasksByService.get(service.ID) ?? [];
    const serving = own.filter((task) => poolStateOf(task, nodesUp) === 'up');
    const networks = new Set(own.flatMap(networksOf));
    return serviceRecord(service, serving.map(taskRecord), targetPorts?.get(service.ID) ?? servicePorts(service, own), networks, networkName);
  });
}

/** A service's record from its parts (a mesh keeps them task by task, see MeshService). */
export function serviceRecord(service: Service, tasks: readonly TaskRecord[], ports: readonly ServicePort[], networks: Iterable<string>,
  networkName?: NetworkName): ServiceRecord {
  const vip = vipOf(service);
  const scopes = scopesOf(service, networkName);
  return { name: service.Spec.Name, ...(vip ? { vip } : {}), tasks, ports, networks: [...networks], ...(scopes.length ? { scopes } : {}) };
}

/**
 * How tasks on each of the service's networks see it (a scope per network, by the network's ID): `<service>.<network>`,
 * its VIP there (the loopback one, which is what connects), its aliases there. Ingress has no names of its own.
 */
export function scopesOf(service: Service, networkName?: NetworkName): ServiceScope[] {
  return (service.Spec.TaskTemplate.Networks ?? []).map((attachment) => {
    const vip = service.Endpoint.VirtualIPs?.find((v) => v.NetworkID === attachment.Target)?.LoopbackAddr;
    return {
      scope: attachment.Target,
      network: networkName?.(attachment.Target) ?? attachment.Target,
      ...(vip ? { vip: vip.split('/')[0]! } : {}),
      ...(attachment.Aliases?.length ? { aliases: attachment.Aliases } : {}),
    };
  });
}

/** The names of the networks a task is attached to: its service answers on `<name>.<network>` too. */
export function networksOf(task: Task): string[] {
  return (task.NetworksAttachments ?? []).map((a) => a.Network.Spec.Name);
}

export function taskRecord(task: Task): TaskRecord {
  const moved = task.Endpoint!.Ports.filter((p) => p.ListenPort !== p.TargetPort);
  const scoped = (task.NetworksAttachments ?? []).flatMap((a) => (a.LoopbackAddresses?.[0] ? [[a.Network.ID, a.LoopbackAddresses[0].split('/')[0]!] as const] : []));
  return {
    name: task.Name ?? task.ID,
    address: task.Endpoint!.Addr,
    ...(moved.length ? { listenPorts: new Map(moved.map((p) => [`${p.TargetPort}/${p.Protocol}`, p.ListenPort])) } : {}),
    ...(scoped.length ? { scopedAddresses: new Map(scoped) } : {}),
  };
}

/**
 * Standalone containers, named as Docker's embedded DNS names them for the tasks and containers on their
 * networks: by name (and aliases), at their address on the network the asker shares. After the services,
 * whose names win.
 */
export function containerRecords(networks: readonly Network[]): ServiceRecord[] {
  const byContainer = new Map<string, { name: string; scoped: Map<string, string>; scopes: ServiceScope[] }>();
  for (const network of networks) {
    for (const [id, endpoint] of Object.entries(network.Containers ?? {})) {
      let entry = byContainer.get(id);
      if (!entry) byContainer.set(id, (entry = { name: endpoint.Name, scoped: new Map(), scopes: [] }));
      entry.scoped.set(network.ID, endpoint.LoopbackAddress.split('/')[0]!);
      entry.scopes.push({ scope: network.ID, network: network.Spec.Name, ...(endpoint.Aliases?.length ? { aliases: endpoint.Aliases } : {}) });
    }
  }
  return [...byContainer.values()].map(({ name, scoped, scopes }) => ({
    name, ports: [], scopes,
    tasks: [{ name, address: scoped.values().next().value!, scopedAddresses: scoped }],
  }));
}
