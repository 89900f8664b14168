// What the dashboard (/ui/) is told of a node's view of the cluster: the nodes, services and tasks, cut
// down to what the page shows, whole once (a snapshot) and then in numbered batches of changes, a batch at
// most every BATCH_MS. The last batches are kept, so a page whose event stream broke resumes where it was
// (Last-Event-ID) rather than start over; one too far behind gets a snapshot again.
import { randomBytes } from 'node:crypto';
import type { ClusterView, Service, StoreChange, SwarmNode, Task } from '../swarm/index.js';
import { isGlobal, replicasOf } from '../swarm/index.js';
import { naturalCompare } from '../shared/index.js';

/** How often, at most, changes go out: a burst (a scale of 100) is one batch, and the page is within 1 s. */
const BATCH_MS = 100;
/** Batches kept for pages that come back. */
const KEPT_BATCHES = 256;

export interface DashboardNode {
  id: string;
  hostname: string;
  role: string;
  leader: boolean;
  state: string;
  availability: string;
  address: string;
}

export interface DashboardService {
  id: string;
  name: string;
  mode: 'replicated' | 'global';
  /** Replicas asked for; absent for a global service (one a node). */
  replicas?: number;
  image: string;
  ports: { published: number; target: number; protocol: string; mode: string }[];
  vips: string[];
  /** Its `routemesh.lb.*` labels: how its connections are balanced. */
  balancing: Record<string, string>;
}

export interface DashboardTask {
  id: string;
  serviceId: string;
  slot?: number;
  nodeId: string;
  image: string;
  state: string;
  desiredState: string;
  health?: string;
  address?: string;
  message?: string;
}

export type DashboardChange =
  | { kind: 'node'; op: 'put'; object: DashboardNode }
  | { kind: 'service'; op: 'put'; object: DashboardService }
  | { kind: 'task'; op: 'put'; object: DashboardTask }
  | { kind: 'node' | 'service' | 'task'; op: 'delete'; id: string };

/** The nodes' and services' IDs in the docker CLI's order (natural, by hostname and by name). */
export interface DashboardOrder {
  nodes: string[];
  services: string[];
}

export interface DashboardSnapshot {
  /** The id of the last batch it includes: a page resumes after it. */
  id: string;
  /** In the docker CLI's order. */
  nodes: DashboardNode[];
  services: DashboardService[];
  tasks: DashboardTask[];
}

export interface DashboardBatch {
  id: string;
  changes: DashboardChange[];
  /** As it is after the batch (few IDs: sent whole, so the page never sorts). */
  order: DashboardOrder;
}

type Shown = 'node' | 'service' | 'task';
const SHOWN = new Set<string>(['node', 'service', 'task']);

export class DashboardFeed {
  readonly #view: ClusterView;
  /** Names this feed's numbering: an id of another (the node rejoined, or restarted) gets a snapshot. */
  readonly #epoch = randomBytes(4).toString('hex');
  #seq = 0;
  #kept: DashboardBatch[] = [];
  #pending = new Map<string, { kind: Shown; id: string }>();
  #timer: NodeJS.Timeout | undefined;
  #followers = new Set<{ batch: (batch: DashboardBatch) => void; end: () => void }>();
  #onChange = (change: StoreChange): void => {
    if (!SHOWN.has(change.kind)) return;
    this.#pending.set(`${change.kind}:${change.id}`, { kind: change.kind as Shown, id: change.id });
    this.#timer ??= setTimeout(() => this.#flush(), BATCH_MS);
  };

  constructor(view: ClusterView) {
    this.#view = view;
    view.on('change', this.#onChange);
  }

  snapshot(): DashboardSnapshot {
    const view = this.#view;
    return {
      id: this.#id(this.#seq),
      nodes: sortedNodes(view).map(dashboardNode),
      services: sortedServices(view).map(dashboardService),
      tasks: view.tasks().map(dashboardTask),
    };
  }

  /** The batches after `id`, or undefined when they are not all kept (or `id` is another feed's): send a snapshot. */
  since(id: string): DashboardBatch[] | undefined {
    const [epoch, seqText] = id.split('-');
    const seq = Number(seqText);
    if (epoch !== this.#epoch || !Number.isInteger(seq) || seq > this.#seq) return undefined;
    if (seq === this.#seq) return [];
    const first = this.#kept[0];
    if (!first || seq < this.#seqOf(first) - 1) return undefined;
    return this.#kept.filter((batch) => this.#seqOf(batch) > seq);
  }

  /** Each batch from now on, until `close()` (then `end`). */
  follow(follower: { batch: (batch: DashboardBatch) => void; end: () => void }): () => void {
    this.#followers.add(follower);
    return () => { this.#followers.delete(follower); };
  }

  close(): void {
    this.#view.off('change', this.#onChange);
    clearTimeout(this.#timer);
    for (const follower of this.#followers) follower.end();
    this.#followers.clear();
  }

  #flush(): void {
    this.#timer = undefined;
    const view = this.#view;
    const changes: DashboardChange[] = [];
    for (const { kind, id } of this.#pending.values()) {
      const object = kind === 'node' ? view.nodes().find((n) => n.ID === id) : kind === 'service' ? view.service(id) : view.task(id);
      if (!object) changes.push({ kind, op: 'delete', id });
      else if (kind === 'node') changes.push({ kind, op: 'put', object: dashboardNode(object as SwarmNode) });
      else if (kind === 'service') changes.push({ kind, op: 'put', object: dashboardService(object as Service) });
      else changes.push({ kind, op: 'put', object: dashboardTask(object as Task) });
    }
    this.#pending.clear();
    const order = { nodes: sortedNodes(view).map((n) => n.ID), services: sortedServices(view).map((s) => s.ID) };
    const batch = { id: this.#id(++this.#seq), changes, order };
    this.#kept.push(batch);
    if (this.#kept.length > KEPT_BATCHES) this.#kept.shift();
    for (const follower of this.#followers) follower.batch(batch);
  }

  #id(seq: number): string {
    return `${this.#epoch}-${seq}`;
  }

  #seqOf(batch: DashboardBatch): number {
    return Number(batch.id.split('-')[1]);
  }
}

function sortedNodes(view: ClusterView): SwarmNode[] {
  return [...view.nodes()].sort((a, b) => naturalCompare(a.Description.Hostname, b.Description.Hostname));
}

function sortedServices(view: ClusterView): Service[] {
  return [...view.services()].sort((a, b) => naturalCompare(a.Spec.Name, b.Spec.Name));
}

function dashboardNode(node: SwarmNode): DashboardNode {
  return {
    id: node.ID,
    hostname: node.Description.Hostname,
    role: node.Spec.Role,
    leader: node.ManagerStatus?.Leader === true,
    state: node.Status.State,
    availability: node.Spec.Availability,
    address: node.Status.Addr,
  };
}

function dashboardService(service: Service): DashboardService {
  const spec = service.Spec;
  const labels = spec.Labels ?? {};
  return {
    id: service.ID,
    name: spec.Name,
    mode: isGlobal(spec) ? 'global' : 'replicated',
    ...(isGlobal(spec) ? {} : { replicas: replicasOf(spec) ?? 0 }),
    image: spec.TaskTemplate.ContainerSpec?.Image ?? '',
    ports: (service.Endpoint.Ports ?? []).map((p) => ({
      published: p.PublishedPort ?? 0, target: p.TargetPort, protocol: p.Protocol ?? 'tcp', mode: p.PublishMode ?? 'ingress',
    })),
    vips: (service.Endpoint.VirtualIPs ?? []).map((vip) => vip.Addr),
    balancing: Object.fromEntries(Object.entries(labels).filter(([key]) => key.startsWith('routemesh.lb.'))),
  };
}

function dashboardTask(task: Task): DashboardTask {
  return {
    id: task.ID,
    serviceId: task.ServiceID,
    ...(task.Slot !== undefined ? { slot: task.Slot } : {}),
    nodeId: task.NodeID,
    image: task.Spec.ContainerSpec?.Image ?? '',
    state: task.Status.State,
    desiredState: task.DesiredState,
    ...(task.Status.Health ? { health: task.Status.Health } : {}),
    ...(task.Endpoint?.Addr ? { address: task.Endpoint.Addr } : {}),
    ...(task.Status.Err ? { message: task.Status.Err } : {}),
  };
}
