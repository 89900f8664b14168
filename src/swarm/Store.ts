// The cluster's desired and observed state: nodes, services, tasks, networks, secrets, configs and injected faults, each versioned from one
// cluster-wide index. Writers are the manager (desired) and agents through it (observed); readers
// (meshes, the engine API) take snapshots and listen for `change`. It stores; it decides nothing.
import { EventEmitter } from 'node:events';
import type { Config, Fault, Network, Secret, Service, SwarmNode, Task } from './model.js';
import { nowIso } from './model.js';
import { outOfSequence } from './errors.js';

/** Kinds the store keeps without indexes of their own: looked up by ID, listed whole. */
export type PlainKind = 'network' | 'secret' | 'config' | 'fault';
export type StoreKind = 'node' | 'service' | 'task' | PlainKind;
export const PLAIN_KINDS: readonly PlainKind[] = ['network', 'secret', 'config', 'fault'];

export interface PlainObjects {
  network: Network;
  secret: Secret;
  config: Config;
  fault: Fault;
}
export type StoreObject = SwarmNode | Service | Task | PlainObjects[PlainKind];

/** The objects of each plain kind, as a restore or a whole view carries them. */
export type PlainLists = { [K in PlainKind as `${K}s`]?: readonly PlainObjects[K][] };

export interface StoreChange {
  kind: StoreKind;
  op: 'put' | 'delete';
  id: string;
  /** A task's service and node, so a reader can tell whose it is even once it is deleted. */
  serviceId?: string;
  nodeId?: string;
}

/**
 * The read side a data plane needs: a snapshot plus change events, and look-ups by ID, service and node,
 * so a reader that follows the events reads what changed, not the whole cluster.
 */
export interface ClusterView {
  nodes(): readonly SwarmNode[];
  services(): readonly Service[];
  tasks(): readonly Task[];
  service(id: string): Service | undefined;
  task(id: string): Task | undefined;
  tasksOfService(serviceId: string): readonly Task[];
  tasksOfNode(nodeId: string): readonly Task[];
  all<K extends PlainKind>(kind: K): readonly PlainObjects[K][];
  get<K extends PlainKind>(kind: K, id: string): PlainObjects[K] | undefined;
  on(event: 'change', listener: (change: StoreChange) => void): unknown;
  off(event: 'change', listener: (change: StoreChange) => void): unknown;
}

export class Store extends EventEmitter implements ClusterView {
  #index = 0;
  #nodes = new Map<string, SwarmNode>();
  #services = new Map<string, Service>();
  #tasks = new Map<string, Task>();
  #plain: { [K in PlainKind]: Map<string, PlainObjects[K]> } = { network: new Map(), secret: new Map(), config: new Map(), fault: new Map() };
  /** Each service's tasks, so a reconcile reads its own service's tasks, not the whole cluster's. */
  #tasksByService = new Map<string, Map<string, Task>>();
  /** Each node's tasks, so an agent reads its own node's tasks. */
  #tasksByNode = new Map<string, Map<string, Task>>();

  constructor() {
    super();
    // Every node's mesh and agent listens here; a large cluster is not a leak.
    this.setMaxListeners(0);
  }

  /**
   * Fills an empty store with a restored swarm's objects as they were (versions kept, no events: nobody
   * listens yet); new writes continue above `lastIndex`.
   */
  restore(lastIndex: number, nodes: readonly SwarmNode[], services: readonly Service[], tasks: readonly Task[], plain: PlainLists = {}): void {
    if (this.#index || this.#nodes.size || this.#services.size || this.#tasks.size || PLAIN_KINDS.some((k) => this.#plain[k].size)) {
      throw new Error('only an empty store can be restored');
    }
    this.#index = lastIndex;
    for (const kind of PLAIN_KINDS) for (const object of plain[`${kind}s`] ?? []) (this.#plain[kind] as Map<string, StoreObject>).set(object.ID, object);
    for (const node of nodes) this.#nodes.set(node.ID, node);
    for (const service of services) this.#services.set(service.ID, service);
    for (const task of tasks) {
      this.#tasks.set(task.ID, task);
      index(this.#tasksByService, task.ServiceID, task);
      index(this.#tasksByNode, task.NodeID, task);
    }
  }

  /** The last index handed out. */
  get index(): number {
    return this.#index;
  }

  /** Hands out the next cluster-wide index, for objects and for the swarm's own version. */
  nextIndex(): number {
    return ++this.#index;
  }

  nodes(): SwarmNode[] {
    return [...this.#nodes.values()];
  }
  services(): Service[] {
    return [...this.#services.values()];
  }
  tasks(): Task[] {
    return [...this.#tasks.values()];
  }
  node(id: string): SwarmNode | undefined {
    return this.#nodes.get(id);
  }
  service(id: string): Service | undefined {
    return this.#services.get(id);
  }
  task(id: string): Task | undefined {
    return this.#tasks.get(id);
  }
  tasksOfService(serviceId: string): Task[] {
    return [...this.#tasksByService.get(serviceId)?.values() ?? []];
  }
  tasksOfNode(nodeId: string): Task[] {
    return [...this.#tasksByNode.get(nodeId)?.values() ?? []];
  }
  all<K extends PlainKind>(kind: K): PlainObjects[K][] {
    return [...this.#plain[kind].values()] as PlainObjects[K][];
  }
  get<K extends PlainKind>(kind: K, id: string): PlainObjects[K] | undefined {
    return this.#plain[kind].get(id) as PlainObjects[K] | undefined;
  }
  /** Any kind's object by ID. */
  object(kind: StoreKind, id: string): StoreObject | undefined {
    if (kind === 'node') return this.node(id);
    if (kind === 'service') return this.service(id);
    if (kind === 'task') return this.task(id);
    return this.get(kind, id);
  }

  putNode(node: SwarmNode, expectedVersion?: number): SwarmNode {
    return this.#put('node', this.#nodes, node, expectedVersion);
  }
  putService(service: Service, expectedVersion?: number): Service {
    return this.#put('service', this.#services, service, expectedVersion);
  }
  put<K extends PlainKind>(kind: K, object: PlainObjects[K], expectedVersion?: number): PlainObjects[K] {
    return this.#put(kind, this.#plain[kind] as Map<string, PlainObjects[K]>, object, expectedVersion);
  }
  putTask(task: Task): Task {
    this.#indexTask(task);
    return this.#put('task', this.#tasks, task, undefined, { serviceId: task.ServiceID, nodeId: task.NodeID });
  }

  #indexTask(task: Task): void {
    const before = this.#tasks.get(task.ID);
    // A task is scheduled (its node set) after it is created: it leaves its old node's index.
    if (before && before.NodeID !== task.NodeID) unindex(this.#tasksByNode, before.NodeID, task.ID);
    index(this.#tasksByService, task.ServiceID, task);
    index(this.#tasksByNode, task.NodeID, task);
  }

  /**
   * A copy's write: the object as the store it copies wrote it, its version and time kept (a node's view
   * of its manager's store, a restored snapshot). The index follows the highest version seen.
   */
  mirror(kind: StoreKind, object: StoreObject): void {
    this.#index = Math.max(this.#index, object.Version.Index);
    if (kind === 'task') {
      const task = object as Task;
      this.#indexTask(task);
      this.#tasks.set(task.ID, task);
      this.emit('change', { kind, op: 'put', id: task.ID, serviceId: task.ServiceID, nodeId: task.NodeID } satisfies StoreChange);
      return;
    }
    if (kind === 'node') this.#nodes.set(object.ID, object as SwarmNode);
    else if (kind === 'service') this.#services.set(object.ID, object as Service);
    else (this.#plain[kind] as Map<string, StoreObject>).set(object.ID, object);
    this.emit('change', { kind, op: 'put', id: object.ID } satisfies StoreChange);
  }

  delete(kind: StoreKind, id: string): void {
    if (kind === 'node') this.deleteNode(id);
    else if (kind === 'service') this.deleteService(id);
    else if (kind === 'task') this.deleteTask(id);
    else this.#delete(kind, this.#plain[kind] as Map<string, StoreObject>, id);
  }

  /** Writes a changed copy of a task (readers holding the old object never see it change under them). */
  updateTask(id: string, change: (task: Task) => void): Task | undefined {
    const current = this.#tasks.get(id);
    if (!current) return undefined;
    const next = structuredClone(current);
    change(next);
    return this.putTask(next);
  }

  deleteNode(id: string): void {
    this.#delete('node', this.#nodes, id);
  }
  deleteService(id: string): void {
    this.#delete('service', this.#services, id);
  }
  deleteTask(id: string): void {
    const task = this.#tasks.get(id);
    if (!task) return;
    unindex(this.#tasksByService, task.ServiceID, id);
    unindex(this.#tasksByNode, task.NodeID, id);
    this.#delete('task', this.#tasks, id, { serviceId: task.ServiceID, nodeId: task.NodeID });
  }

  #put<T extends { ID: string; Version: { Index: number }; UpdatedAt: string }>(
    kind: StoreKind,
    map: Map<string, T>,
    object: T,
    expectedVersion?: number,
    owner?: Pick<StoreChange, 'serviceId' | 'nodeId'>,
  ): T {
    const current = map.get(object.ID);
    if (expectedVersion !== undefined && current && current.Version.Index !== expectedVersion) {
      throw outOfSequence();
    }
    object.Version = { Index: this.nextIndex() };
    object.UpdatedAt = nowIso();
    map.set(object.ID, object);
    this.emit('change', { kind, op: 'put', id: object.ID, ...owner } satisfies StoreChange);
    return object;
  }

  #delete<T>(kind: StoreKind, map: Map<string, T>, id: string, owner?: Pick<StoreChange, 'serviceId' | 'nodeId'>): void {
    if (map.delete(id)) this.emit('change', { kind, op: 'delete', id, ...owner } satisfies StoreChange);
  }
}

function index(by: Map<string, Map<string, Task>>, key: string, task: Task): void {
  let tasks = by.get(key);
  if (!tasks) by.set(key, (tasks = new Map()));
  tasks.set(task.ID, task);
}

function unindex(by: Map<string, Map<string, Task>>, key: string, id: string): void {
  const tasks = by.get(key);
  tasks?.delete(id);
  if (tasks?.size === 0) by.delete(key);
}
