// One service as one node's mesh sees it, kept up to date a task at a time: its part of the routing
// table (made again only when the service, its target ports or the nodes change), the tasks DNS names,
// its ports and networks. A task's change costs that task, not the size of its service; RoutingTable's
// and dnsRecords' pure functions say what it must equal (test/unit/mesh-service.ts).
import type { Protocol, Service, Task } from '../swarm/index.js';
import type { BackendDesired } from '../lb/index.js';
import type { ServiceRecord, TaskRecord } from '../vip-dns/index.js';
import { backendFor, poolStateOf, serviceRoutingTable, servicePorts, sortedPorts } from './RoutingTable.js';
import type { RoutingOptions, RoutingTable, ServicePort } from './RoutingTable.js';
import { networksOf, serviceRecord, taskRecord } from './dnsRecords.js';
import type { NetworkName } from './dnsRecords.js';

/** A pool of the service and what picks its members from the service's tasks. */
interface PoolOf {
  key: string;
  targetPort: number;
  protocol: Protocol;
}

/** What one task's change does to the service's pools: each pool's new member, or undefined when it leaves. */
type PoolChanges = Map<string, BackendDesired | undefined>;

export class MeshService {
  #service: Service;
  /** The service's routes, and its pools as they were when this was made (they change task by task after). */
  readonly table: RoutingTable;
  /** Its target ports as its tasks have shown them so far: remembered while the service lives. */
  readonly ports: readonly ServicePort[];
  readonly #pools: PoolOf[];
  /** A host-mode port opens only where a task runs: a task's change may open or close it, so it rebuilds. */
  readonly #hostMode: boolean;
  readonly #serving = new Map<string, TaskRecord>();
  readonly #networks = new Map<string, number>();
  readonly #taskNetworks = new Map<string, readonly string[]>();
  #record: ServiceRecord | undefined;
  readonly #networkName: NetworkName | undefined;
  /** Goes up each time a name the DNS server holds for the service changes. */
  namesVersion = 0;

  /** `remembered`: the ports the service's previous state had shown. */
  constructor(service: Service, tasks: readonly Task[], nodesUp: ReadonlySet<string>, options: RoutingOptions & { networkName?: NetworkName },
    remembered: readonly ServicePort[] = []) {
    this.#service = service;
    this.#networkName = options.networkName;
    const ports = new Map<string, ServicePort>();
    for (const port of [...remembered, ...servicePorts(service, tasks)]) ports.set(`${port.port}/${port.protocol}`, port);
    this.ports = sortedPorts(ports.values());
    this.table = serviceRoutingTable(service, tasks, nodesUp, { ...options, targetPorts: new Map([[service.ID, this.ports]]) });
    this.#hostMode = (service.Endpoint.Ports ?? []).some((p) => p.PublishMode === 'host' && p.PublishedPort);
    const pools = new Map<string, PoolOf>();
    for (const route of this.table.routes.values()) {
      pools.set(route.poolKey, { key: route.poolKey, targetPort: route.targetPort, protocol: route.protocol });
    }
    this.#pools = [...pools.values()];
    for (const task of tasks) this.#noteNames(task.ID, task, nodesUp);
  }

  get service(): Service {
    return this.#service;
  }

  /**
   * The service was written again. A new spec that routes as the old one did (a scale, an update's
   * progress) is taken in place and says so; otherwise (false) the service's table must be made again.
   */
  serviceChanged(service: Service): boolean {
    const routing = (s: Service): string => JSON.stringify([s.Spec.Name, s.Spec.Labels, s.Endpoint]);
    if (routing(service) !== routing(this.#service)) return false;
    this.#service = service;
    return true;
  }

  /**
   * A task of the service was written or deleted (`task` undefined): what its pools gain or lose, or
   * undefined when the service's table must be made again (a host-mode port, or a target port not seen yet).
   */
  taskChanged(id: string, task: Task | undefined, nodesUp: ReadonlySet<string>): PoolChanges | undefined {
    if (this.#hostMode || (task && this.#showsNewPort(task))) return undefined;
    const changes: PoolChanges = new Map();
    for (const pool of this.#pools) {
      changes.set(pool.key, task && backendFor(task, pool.targetPort, pool.protocol, nodesUp, this.#service.Spec.Labels));
    }
    this.#noteNames(id, task, nodesUp);
    return changes;
  }

  /** The service's record for the DNS server: the same object until one of its names changes. */
  record(): ServiceRecord {
    this.#record ??= serviceRecord(this.#service, [...this.#serving.values()], this.ports, this.#networks.keys(), this.#networkName);
    return this.#record;
  }

  #showsNewPort(task: Task): boolean {
    if (task.Status.State !== 'running') return false;
    return (task.Endpoint?.Ports ?? []).some((p) => (p.Protocol === 'tcp' || p.Protocol === 'udp') &&
      !this.ports.some((known) => known.port === p.TargetPort && known.protocol === p.Protocol));
  }

  /** DNS names a task while it is in its pools as `up`; the service answers on every network of its tasks. */
  #noteNames(id: string, task: Task | undefined, nodesUp: ReadonlySet<string>): void {
    const serving = task !== undefined && poolStateOf(task, nodesUp) === 'up';
    const record = serving ? taskRecord(task) : undefined;
    const before = this.#serving.get(id);
    if (record) this.#serving.set(id, record);
    else this.#serving.delete(id);
    if (before || record) this.#namesChanged();
    const networks = task ? networksOf(task) : [];
    const previous = this.#taskNetworks.get(id) ?? [];
    if (networks.length === previous.length && networks.every((n, i) => previous[i] === n)) return;
    for (const name of previous) {
      const count = this.#networks.get(name)! - 1;
      if (count === 0) this.#networks.delete(name);
      else this.#networks.set(name, count);
    }
    for (const name of networks) this.#networks.set(name, (this.#networks.get(name) ?? 0) + 1);
    if (networks.length) this.#taskNetworks.set(id, networks);
    else this.#taskNetworks.delete(id);
    this.#namesChanged();
  }

  #namesChanged(): void {
    this.#record = undefined;
    this.namesVersion++;
  }
}
