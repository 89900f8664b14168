// Turns the cluster view into what one node's data plane needs: which published ports to open and,
// per service port, which task endpoints are in the pool. Pure, so it is tested as a table.
import type { Protocol, Service, SwarmNode, Task } from '../swarm/index.js';
import type { BackendDesired } from '../lb/index.js';

export interface PublishedRoute {
  /** `8080/tcp`: the protocol is part of a port's identity. */
  key: string;
  publishedPort: number;
  protocol: Protocol;
  serviceId: string;
  serviceName: string;
  targetPort: number;
  /** Key of the pool this port balances over. */
  poolKey: string;
}

export interface RoutingTable {
  routes: Map<string, PublishedRoute>;
  pools: Map<string, BackendDesired[]>;
}

export function poolKeyOf(serviceId: string, targetPort: number, protocol: Protocol): string {
  return `${serviceId}/${targetPort}/${protocol}`;
}

/** A task serves while it runs on a node that is up; once it is asked to stop it is fenced, not dropped. */
export function backendFor(task: Task, targetPort: number, protocol: Protocol, nodesUp: ReadonlySet<string>): BackendDesired | undefined {
  if (task.Status.State !== 'running' || !task.Endpoint || !nodesUp.has(task.NodeID)) return undefined;
  const listen = task.Endpoint.Ports.find((p) => p.TargetPort === targetPort && p.Protocol === protocol);
  return {
    id: task.ID,
    host: task.Endpoint.Addr,
    port: listen?.ListenPort ?? targetPort,
    // An unhealthy task is on its way out: open connections finish, new ones go elsewhere.
    state: task.DesiredState === 'running' && task.Status.Health !== 'unhealthy' ? 'up' : 'fenced',
    label: task.Name ?? task.ID,
  };
}

export function buildRoutingTable(services: readonly Service[], tasks: readonly Task[], nodes: readonly SwarmNode[]): RoutingTable {
  const nodesUp = new Set(nodes.filter((n) => n.Status.State !== 'down').map((n) => n.ID));
  const routes = new Map<string, PublishedRoute>();
  const pools = new Map<string, BackendDesired[]>();
  const tasksByService = new Map<string, Task[]>();
  for (const task of tasks) {
    const list = tasksByService.get(task.ServiceID);
    if (list) list.push(task);
    else tasksByService.set(task.ServiceID, [task]);
  }
  for (const service of services) {
    for (const port of service.Endpoint.Ports ?? []) {
      if (port.PublishMode !== 'ingress' || !port.PublishedPort) continue;
      const poolKey = poolKeyOf(service.ID, port.TargetPort, port.Protocol);
      const key = `${port.PublishedPort}/${port.Protocol}`;
      routes.set(key, {
        key, publishedPort: port.PublishedPort, protocol: port.Protocol,
        serviceId: service.ID, serviceName: service.Spec.Name, targetPort: port.TargetPort, poolKey,
      });
      if (pools.has(poolKey)) continue;
      const members: BackendDesired[] = [];
      for (const task of tasksByService.get(service.ID) ?? []) {
        const backend = backendFor(task, port.TargetPort, port.Protocol, nodesUp);
        if (backend) members.push(backend);
      }
      // Slot order keeps round robin's cycle stable and readable (task 1, 2, 3 ...).
      pools.set(poolKey, members.sort((a, b) => a.label!.localeCompare(b.label!, 'en', { numeric: true })));
    }
  }
  return { routes, pools };
}
