// The cluster's desired and observed state: nodes, services and tasks, each versioned from one
// cluster-wide index. Writers are the manager (desired) and agents through it (observed); readers
// (meshes, the engine API) take snapshots and listen for `change`. It stores; it decides nothing.
import { EventEmitter } from 'node:events';
import type { Service, SwarmNode, Task } from './model.js';
import { nowIso } from './model.js';
import { outOfSequence } from './errors.js';

export type StoreKind = 'node' | 'service' | 'task';

export interface StoreChange {
  kind: StoreKind;
  op: 'put' | 'delete';
  id: string;
}

/** The read side a data plane needs: a snapshot plus change events. */
export interface ClusterView {
  nodes(): readonly SwarmNode[];
  services(): readonly Service[];
  tasks(): readonly Task[];
  on(event: 'change', listener: (change: StoreChange) => void): unknown;
  off(event: 'change', listener: (change: StoreChange) => void): unknown;
}

export class Store extends EventEmitter implements ClusterView {
  #index = 0;
  #nodes = new Map<string, SwarmNode>();
  #services = new Map<string, Service>();
  #tasks = new Map<string, Task>();
  /** Each service's tasks, so a reconcile reads its own service's tasks, not the whole cluster's. */
  #tasksByService = new Map<string, Map<string, Task>>();

  constructor() {
    super();
    // Every node's mesh and agent listens here; a large cluster is not a leak.
    this.setMaxListeners(0);
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

  putNode(node: SwarmNode, expectedVersion?: number): SwarmNode {
    return this.#put('node', this.#nodes, node, expectedVersion);
  }
  putService(service: Service, expectedVersion?: number): Service {
    return this.#put('service', this.#services, service, expectedVersion);
  }
  putTask(task: Task): Task {
    let ofService = this.#tasksByService.get(task.ServiceID);
    if (!ofService) this.#tasksByService.set(task.ServiceID, (ofService = new Map()));
    ofService.set(task.ID, task);
    return this.#put('task', this.#tasks, task);
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
    const ofService = task && this.#tasksByService.get(task.ServiceID);
    ofService?.delete(id);
    if (ofService?.size === 0) this.#tasksByService.delete(task!.ServiceID);
    this.#delete('task', this.#tasks, id);
  }

  #put<T extends { ID: string; Version: { Index: number }; UpdatedAt: string }>(
    kind: StoreKind,
    map: Map<string, T>,
    object: T,
    expectedVersion?: number,
  ): T {
    const current = map.get(object.ID);
    if (expectedVersion !== undefined && current && current.Version.Index !== expectedVersion) {
      throw outOfSequence();
    }
    object.Version = { Index: this.nextIndex() };
    object.UpdatedAt = nowIso();
    map.set(object.ID, object);
    this.emit('change', { kind, op: 'put', id: object.ID } satisfies StoreChange);
    return object;
  }

  #delete<T>(kind: StoreKind, map: Map<string, T>, id: string): void {
    if (map.delete(id)) this.emit('change', { kind, op: 'delete', id } satisfies StoreChange);
  }
}
