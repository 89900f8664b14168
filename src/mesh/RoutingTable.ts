// Turns the cluster view into what one node's data plane needs: which published ports (and, on the node
// that holds them, which VIP ports) to open and, per service port, which task endpoints are in the pool.
// Pure, so it is tested as a table.
import { DEFAULT_LB_SETTINGS, lbSettings, naturalOrder, weightOf } from '../swarm/index.js';
import type { LbSettings, Protocol, Service, SwarmNode, Task } from '../swarm/index.js';
import type { Backend, BackendDesired } from '../lb/index.js';

export interface PublishedRoute {
  /** `8080/tcp` (a published port), `127.10.0.2:80/tcp` (a VIP port): the protocol is part of a port's identity. */
  key: string;
  /** Where to listen: the service's VIP, or (absent) the node's own address. */
  vip?: string;
  /** A VIP on a network (not ingress): the network's ID, whose tasks alone it admits among tasks (see Membership). */
  network?: string;
  publishedPort: number;
  protocol: Protocol;
  serviceId: string;
  serviceName: string;
  targetPort: number;
  /** Key of the pool this port balances over. */
  poolKey: string;
  /** How the service asks to be balanced (its labels). */
  settings: LbSettings;
}

export interface RoutingTable {
  routes: Map<string, PublishedRoute>;
  pools: Map<string, BackendDesired[]>;
}

export function poolKeyOf(serviceId: string, targetPort: number, protocol: Protocol): string {
  return `${serviceId}/${targetPort}/${protocol}`;
}

/**
 * Where a task stands in its service's pools: a task serves ('up') while it runs on a node that is up;
 * once it is asked to stop, or turns unhealthy, it is fenced (open connections finish, new ones go
 * elsewhere, DNS no longer names it); otherwise it is out. DNS and pools both ask here, so they agree.
 */
export function poolStateOf(task: Task, nodesUp: ReadonlySet<string>): 'up' | 'fenced' | undefined {
  if (task.Status.State !== 'running' || !task.Endpoint || !nodesUp.has(task.NodeID)) return undefined;
  return task.DesiredState === 'running' && task.Status.Health !== 'unhealthy' ? 'up' : 'fenced';
}

export function nodesUpOf(nodes: readonly SwarmNode[]): Set<string> {
  return new Set(nodes.filter((n) => n.Status.State !== 'down').map((n) => n.ID));
}

/** `serviceLabels` give the weight a task's own container labels leave out. */
export function backendFor(task: Task, targetPort: number, protocol: Protocol, nodesUp: ReadonlySet<string>,
  serviceLabels?: Readonly<Record<string, string>>): BackendDesired | undefined {
  const state = poolStateOf(task, nodesUp);
  if (state === undefined) return undefined;
  const listen = task.Endpoint!.Ports.find((p) => p.TargetPort === targetPort && p.Protocol === protocol);
  return {
    id: task.ID, host: task.Endpoint!.Addr, port: listen?.ListenPort ?? targetPort, state, label: task.Name ?? task.ID,
    weight: weightOrOne(task.Spec.ContainerSpec.Labels, serviceLabels),
    ...(task.Status.Health === 'unhealthy' ? { unhealthy: true } : {}),
  };
}

/** Labels were checked when the service was written; one that slipped through must not stop the mesh. */
function weightOrOne(containerLabels: Record<string, string> | undefined, serviceLabels: Readonly<Record<string, string>> | undefined): number {
  try {
    return weightOf(containerLabels, serviceLabels);
  } catch {
    return 1;
  }
}

/** Each service's settings as of its version, read once for every node's mesh (each rebuilds the service's part when it changes). */
const settingsMade = new WeakMap<Service, { version: number; settings: LbSettings }>();

function settingsOf(service: Service): LbSettings {
  const made = settingsMade.get(service);
  if (made?.version === service.Version.Index) return made.settings;
  let settings: LbSettings;
  try {
    settings = lbSettings(service.Spec.Labels);
  } catch {
    settings = DEFAULT_LB_SETTINGS;
  }
  settingsMade.set(service, { version: service.Version.Index, settings });
  return settings;
}

/** A target port with its protocol: `53/udp` and `53/tcp` are two ports. */
export interface ServicePort {
  port: number;
  protocol: 'tcp' | 'udp';
}

/** The target ports a service answers on (on its VIP, in SRV): its endpoint ports and the ports its tasks listen on. */
export function servicePorts(service: Service, tasks: readonly Task[]): ServicePort[] {
  const ports = new Map<string, ServicePort>();
  const add = (port: number, protocol: Protocol): void => {
    if (protocol === 'tcp' || protocol === 'udp') ports.set(`${port}/${protocol}`, { port, protocol });
  };
  for (const port of service.Endpoint.Ports ?? []) add(port.TargetPort, port.Protocol);
  for (const task of tasks) {
    if (task.Status.State !== 'running') continue;
    for (const port of task.Endpoint?.Ports ?? []) add(port.TargetPort, port.Protocol);
  }
  return sortedPorts(ports.values());
}

/** By port, then tcp before udp. */
export function sortedPorts(ports: Iterable<ServicePort>): ServicePort[] {
  return [...ports].sort((a, b) => a.port - b.port || a.protocol.localeCompare(b.protocol));
}

export function groupByService(tasks: readonly Task[]): Map<string, Task[]> {
  const byService = new Map<string, Task[]>();
  for (const task of tasks) {
    const list = byService.get(task.ServiceID);
    if (list) list.push(task);
    else byService.set(task.ServiceID, [task]);
  }
  return byService;
}

/** The service's VIP without its prefix length (`127.10.0.2`), or undefined in dnsrr mode. */
export function vipOf(service: Service): string | undefined {
  return service.Endpoint.VirtualIPs?.[0]?.Addr.split('/')[0];
}

/** Every VIP of the service where it really listens: ingress's, then one in each of its networks' loopback blocks. */
export function vipsOf(service: Service): { address: string; network?: string }[] {
  return (service.Endpoint.VirtualIPs ?? []).map((v) => v.LoopbackAddr
    ? { address: v.LoopbackAddr.split('/')[0]!, network: v.NetworkID }
    : { address: v.Addr.split('/')[0]! });
}

/** The key of a VIP port's route. */
export function vipRouteKey(vip: string, targetPort: number, protocol: Protocol = 'tcp'): string {
  return `${vip}:${targetPort}/${protocol}`;
}

export interface RoutingOptions {
  /** This node holds the cluster's VIPs (one node must, since they are addresses on one machine). */
  withVips?: boolean;
  /** Each service's target ports, where the caller remembers more than its tasks show now. */
  targetPorts?: ReadonlyMap<string, readonly ServicePort[]>;
  /** This node's ID: its host-mode ports open here, to its own tasks only. */
  localNode?: string;
}

export function buildRoutingTable(services: readonly Service[], tasks: readonly Task[], nodes: readonly SwarmNode[],
  options: RoutingOptions = {}): RoutingTable {
  const nodesUp = nodesUpOf(nodes);
  const tasksByService = groupByService(tasks);
  const table: RoutingTable = { routes: new Map(), pools: new Map() };
  for (const service of services) {
    const own = serviceRoutingTable(service, tasksByService.get(service.ID) ?? [], nodesUp, options);
    for (const [key, route] of own.routes) table.routes.set(key, route);
    for (const [key, pool] of own.pools) table.pools.set(key, pool);
  }
  return table;
}

/** One service's part of the table, from its own tasks: a mesh rebuilds only the services that changed. */
export function serviceRoutingTable(service: Service, tasks: readonly Task[], nodesUp: ReadonlySet<string>,
  { withVips = false, targetPorts, localNode }: RoutingOptions = {}): RoutingTable {
  const routes = new Map<string, PublishedRoute>();
  const pools = new Map<string, BackendDesired[]>();
  /** `onNode`: only the tasks on that node (a host-mode port's pool). */
  const pool = (targetPort: number, protocol: Protocol, onNode?: string): string => {
    const poolKey = poolKeyOf(service.ID, targetPort, protocol) + (onNode ? `@${onNode}` : '');
    if (pools.has(poolKey)) return poolKey;
    const members: BackendDesired[] = [];
    for (const task of tasks) {
      if (onNode && task.NodeID !== onNode) continue;
      const backend = backendFor(task, targetPort, protocol, nodesUp, service.Spec.Labels);
      if (backend) members.push(backend);
    }
    pools.set(poolKey, members.sort((a, b) => naturalOrder(a.label!, b.label!)));
    return poolKey;
  };
  const common = { serviceId: service.ID, serviceName: service.Spec.Name, settings: settingsOf(service) };
  for (const port of service.Endpoint.Ports ?? []) {
    if (!port.PublishedPort) continue;
    const key = `${port.PublishedPort}/${port.Protocol}`;
    if (port.PublishMode === 'host') {
      // Host mode: the port opens only on a node running a task of the service, and goes to that task.
      if (localNode === undefined) continue;
      const poolKey = pool(port.TargetPort, port.Protocol, localNode);
      if (pools.get(poolKey)!.length === 0) {
        pools.delete(poolKey);
        continue;
      }
      routes.set(key, { key, publishedPort: port.PublishedPort, protocol: port.Protocol, targetPort: port.TargetPort, poolKey, ...common });
      continue;
    }
    const poolKey = pool(port.TargetPort, port.Protocol);
    routes.set(key, { key, publishedPort: port.PublishedPort, protocol: port.Protocol, targetPort: port.TargetPort, poolKey, ...common });
  }
  if (withVips) {
    for (const { address: vip, network } of vipsOf(service)) {
      for (const { port, protocol } of targetPorts?.get(service.ID) ?? servicePorts(service, tasks)) {
        const key = vipRouteKey(vip, port, protocol);
        const poolKey = pool(port, protocol);
        routes.set(key, { key, vip, ...(network ? { network } : {}), publishedPort: port, protocol, targetPort: port, poolKey, ...common });
      }
    }
  }
  return { routes, pools };
}

/** Slot order (task 1, 2, 3 ...), which keeps round robin's cycle stable and readable: where a joining backend goes. */
export function poolOrder(a: BackendDesired, b: Backend): number {
  return naturalOrder(a.label ?? a.id, b.label);
}
