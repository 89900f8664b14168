// Turns the cluster view into the embedded DNS server's records: every service's name, VIP and the
// tasks that are in its pool (the same test the pools use, so DNS never names a task the mesh avoids).
// Pure, so it is tested as a table.
import type { Service, SwarmNode, Task } from '../swarm/index.js';
import type { ServiceRecord, TaskRecord } from '../vip-dns/index.js';
import { groupByService, nodesUpOf, poolStateOf, servicePorts, vipOf } from './RoutingTable.js';
import type { ServicePort } from './RoutingTable.js';

/** `targetPorts` as for buildRoutingTable: where the caller remembers more ports than the tasks show. */
export function dnsRecords(services: readonly Service[], tasks: readonly Task[], nodes: readonly SwarmNode[],
  targetPorts?: ReadonlyMap<string, readonly ServicePort[]>): ServiceRecord[] {
  const nodesUp = nodesUpOf(nodes);
  const tasksByService = groupByService(tasks);
  return services.map((service) => {
    const own = tasksByService.get(service.ID) ?? [];
    const serving = own.filter((task) => poolStateOf(task, nodesUp) === 'up');
    const networks = new Set(own.flatMap(networksOf));
    return serviceRecord(service, serving.map(taskRecord), targetPorts?.get(service.ID) ?? servicePorts(service, own), networks);
  });
}

/** A service's record from its parts (a mesh keeps them task by task, see MeshService). */
export function serviceRecord(service: Service, tasks: readonly TaskRecord[], ports: readonly ServicePort[], networks: Iterable<string>): ServiceRecord {
  const vip = vipOf(service);
  return { name: service.Spec.Name, ...(vip ? { vip } : {}), tasks, ports, networks: [...networks] };
}

/** The names of the networks a task is attached to: its service answers on `<name>.<network>` too. */
export function networksOf(task: Task): string[] {
  return (task.NetworksAttachments ?? []).map((a) => a.Network.Spec.Name);
}

export function taskRecord(task: Task): TaskRecord {
  const moved = task.Endpoint!.Ports.filter((p) => p.ListenPort !== p.TargetPort);
  return {
    name: task.Name ?? task.ID,
    address: task.Endpoint!.Addr,
    ...(moved.length ? { listenPorts: new Map(moved.map((p) => [`${p.TargetPort}/${p.Protocol}`, p.ListenPort])) } : {}),
  };
}
