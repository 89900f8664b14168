// What the dashboard (/ui/) is told of a node's view of the cluster: the nodes, services and tasks, cut
// down to what the page shows, whole once (a snapshot) and then in numbered batches of changes, a batch at
// most every BATCH_MS, each with the timeline's new lines (dashboardTimeline). The last batches are kept, so
// a page whose event stream broke resumes where it was (Last-Event-ID); one too far behind gets a snapshot.
// While a page follows, every node's pools are read too (MeshWatch), and each node's that changed goes out
// in the next batch whole, with the ejections it shows on the timeline.
import { randomBytes } from 'node:crypto';
import type { ClusterView, Fault, Service, StoreChange, SwarmNode, Task } from '../swarm/index.js';
import { faultReadsOf, isGlobal, replicasOf } from '../swarm/index.js';
import { faultEffect, faultTarget, naturalCompare } from '../shared/index.js';
import { faultEvents, nodeEvents, serviceEvents, taskEvents, taskSubject } from './dashboardTimeline.js';
import type { DashboardEvent } from './dashboardTimeline.js';
import type { NodeMesh } from './MeshWatch.js';
import { MeshReads } from './MeshReads.js';

/** How often, at most, changes go out: a burst (a scale of 100) is one batch, and the page is within 1 s. */
const BATCH_MS = 100;
/** Batches kept for pages that come back. */
const KEPT_BATCHES = 256;
/** Timeline lines a new page is given. */
const KEPT_EVENTS = 100;

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
  /** Where the mesh reaches it, one per port it serves: `127.20.0.2:80`, `127.20.0.2:53/udp`. */
  endpoints?: string[];
  message?: string;
}

/** An injected fault, in the words `routemesh fault ls` uses. */
export interface DashboardFault {
  id: string;
  kind: string;
  /** Where it sits: `web`, `web.3`, `node1 → web.2`, `node1 ↔ node2`. */
  on: string;
  /** What it does: `100ms ±10ms`, `1MB/s` (nothing for a kind that says it all). */
  effect: string;
  /** When it lifts itself (ISO 8601); absent: when removed. */
  expiresAt?: string;
}

export type DashboardChange =
  | { kind: 'node'; op: 'put'; object: DashboardNode }
  | { kind: 'service'; op: 'put'; object: DashboardService }
  | { kind: 'task'; op: 'put'; object: DashboardTask }
  | { kind: 'fault'; op: 'put'; object: DashboardFault }
  | { kind: 'node' | 'service' | 'task' | 'fault'; op: 'delete'; id: string };

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
  /** The injected faults, oldest first. */
  faults: DashboardFault[];
  /** Each node's pools as last read (none while no page follows the feed). */
  mesh: NodeMesh[];
  /** The timeline's last lines, oldest first. */
  timeline: DashboardEvent[];
}

export interface DashboardBatch {
  id: string;
  changes: DashboardChange[];
  /** The nodes whose pools read otherwise than before, each whole. */
  mesh: NodeMesh[];
  /** What the changes mean, a line each (oldest first). */
  timeline: DashboardEvent[];
  /** As it is after the batch (few IDs: sent whole, so the page never sorts). */
  order: DashboardOrder;
}

type Shown = 'node' | 'service' | 'task' | 'fault';

/** What reads the nodes' pools while someone follows: started at the first follower, stopped after the last. */
export interface MeshSource {
  start(report: (mesh: NodeMesh) => void): () => void;
}
/** Nodes and services first in a batch: a new task is named by its service's and its node's names. */
const SHOWN_ORDER: Record<string, number> = { node: 0, service: 1, task: 2, fault: 3 };

export class DashboardFeed {
  readonly #view: ClusterView;
  /** Names this feed's numbering: an id of another (the node rejoined, or restarted) gets a snapshot. */
  readonly #epoch = randomBytes(4).toString('hex');
  #seq = 0;
  #kept: DashboardBatch[] = [];
  #pending = new Map<string, { kind: Shown; id: string }>();
  /** Each object as the page was last told it: what a change is told against. */
  #shown = {
    node: new Map<string, DashboardNode>(), service: new Map<string, DashboardService>(), task: new Map<string, DashboardTask>(),
    fault: new Map<string, DashboardFault>(),
  };
  #timeline: DashboardEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #followers = new Set<{ batch: (batch: DashboardBatch) => void; end: () => void }>();
  /** Each node's pools as last read, and the timeline lines the reads since the last batch made. */
  readonly #mesh = new MeshReads();
  #meshLines: Omit<DashboardEvent, 'at'>[] = [];
  readonly #meshSource: MeshSource | undefined;
  #stopMesh: (() => void) | undefined;
  #onChange = (change: StoreChange): void => {
    if (!(change.kind in SHOWN_ORDER)) return;
    this.#pending.set(`${change.kind}:${change.id}`, { kind: change.kind as Shown, id: change.id });
    this.#schedule();
  };
  readonly #log: (line: string) => void;

  constructor(view: ClusterView, log: (line: string) => void = () => {}, meshSource?: MeshSource) {
    this.#view = view;
    this.#log = log;
    this.#meshSource = meshSource;
    for (const node of view.nodes()) this.#shown.node.set(node.ID, dashboardNode(node));
    for (const service of view.services()) this.#shown.service.set(service.ID, dashboardService(service));
    for (const task of view.tasks()) this.#shown.task.set(task.ID, dashboardTask(task));
    for (const fault of view.all('fault')) this.#shown.fault.set(fault.ID, dashboardFault(fault));
    view.on('change', this.#onChange);
  }

  snapshot(): DashboardSnapshot {
    // What is still pending goes out first: the snapshot is then exactly the state after its id, timeline and all.
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#flush();
    }
    const view = this.#view;
    return {
      id: this.#id(this.#seq),
      nodes: sortedNodes(view).map(dashboardNode),
      services: sortedServices(view).map(dashboardService),
      tasks: view.tasks().map(dashboardTask),
      faults: faultReadsOf(view).list().map(dashboardFault),
      mesh: this.#mesh.all(),
      timeline: [...this.#timeline],
    };
  }

  /** The batches after `id`, or undefined when they are not all kept (or `id` is another feed's): send a snapshot. */
  since(id: string): DashboardBatch[] | undefined {
    const [epoch, seqText] = id.split('-');
    // The kept batches are the last ones, the newest numbered #seq: those after `id` are its last `missed`.
    const missed = this.#seq - Number(seqText);
    if (epoch !== this.#epoch || !Number.isInteger(missed) || missed < 0 || missed > this.#kept.length) return undefined;
    return this.#kept.slice(this.#kept.length - missed);
  }

  /** Each batch from now on, until `close()` (then `end`). */
  follow(follower: { batch: (batch: DashboardBatch) => void; end: () => void }): () => void {
    this.#followers.add(follower);
    this.#stopMesh ??= this.#meshSource?.start((mesh) => this.#meshRead(mesh));
    return () => {
      this.#followers.delete(follower);
      if (this.#followers.size === 0) this.#stopReadingMesh();
    };
  }

  /** Nobody follows: the pools are no longer read, and what was read would grow stale. */
  #stopReadingMesh(): void {
    this.#stopMesh?.();
    this.#stopMesh = undefined;
    this.#mesh.clear();
    this.#meshLines = [];
  }

  /** A node's pools, just read: told in the next batch if they differ from the last read. */
  #meshRead(mesh: NodeMesh): void {
    // An answer that was on its way when its node was removed: the node is gone from the page, and stays so.
    if (!this.#view.nodes().some((node) => node.ID === mesh.nodeId)) return;
    const lines = this.#mesh.take(mesh, (member) => {
      const task = this.#shown.task.get(member.task);
      return task ? taskSubject(task, this.#names) : member.name.replace(/\.[^.]+$/, '');
    });
    if (!lines) return;
    this.#meshLines.push(...lines);
    this.#schedule();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => {
      // A fault here is the dashboard's, never the node's: it is said, and the batches go on.
      try {
        this.#flush();
      } catch (error) {
        this.#log(`dashboard: a batch could not be made (${(error as Error).stack ?? String(error)})`);
      }
    }, BATCH_MS);
  }

  readonly #names = {
    service: (id: string) => this.#shown.service.get(id)?.name ?? id,
    node: (id: string) => this.#shown.node.get(id)?.hostname ?? id,
  };

  close(): void {
    this.#view.off('change', this.#onChange);
    this.#stopReadingMesh();
    clearTimeout(this.#timer);
    for (const follower of this.#followers) follower.end();
    this.#followers.clear();
  }

  #flush(): void {
    this.#timer = undefined;
    const view = this.#view;
    const changes: DashboardChange[] = [];
    const lines: Omit<DashboardEvent, 'at'>[] = [];
    const pending = [...this.#pending.values()].sort((a, b) => SHOWN_ORDER[a.kind]! - SHOWN_ORDER[b.kind]!);
    /** What a task that starts replaces: read once a batch, and only for a batch in which one starts. */
    let stopped: Map<string, DashboardTask> | undefined;
    this.#pending.clear();
    /** One object's change and its lines; nothing for one made and gone again between two batches (the page never saw it). */
    const step = <T>(shown: Map<string, T>, id: string, after: T | undefined, linesOf: (before: T | undefined, after: T | undefined) => typeof lines,
      put: (object: T) => DashboardChange, remove: DashboardChange): void => {
      const before = shown.get(id);
      if (!before && !after) return;
      lines.push(...linesOf(before, after));
      if (after) shown.set(id, after);
      else shown.delete(id);
      changes.push(after ? put(after) : remove);
    };
    for (const { kind, id } of pending) {
      const remove = { kind, op: 'delete', id } as const;
      if (kind === 'node') {
        const node = view.nodes().find((n) => n.ID === id);
        step(this.#shown.node, id, node && dashboardNode(node), nodeEvents, (object) => ({ kind, op: 'put', object }), remove);
        if (!node) this.#mesh.forget(id);
      } else if (kind === 'service') {
        const service = view.service(id);
        step(this.#shown.service, id, service && dashboardService(service), serviceEvents, (object) => ({ kind, op: 'put', object }), remove);
      } else if (kind === 'fault') {
        const fault = view.get('fault', id);
        step(this.#shown.fault, id, fault && dashboardFault(fault), faultEvents, (object) => ({ kind, op: 'put', object }), remove);
      } else {
        const task = view.task(id);
        step(this.#shown.task, id, task && dashboardTask(task), (before, after) =>
          taskEvents(before, after, this.#names, after?.state === 'running' && before?.state !== 'running' ? (stopped ??= stoppedBySlot(view)).get(slotOf(after)) : undefined),
        (object) => ({ kind, op: 'put', object }), remove);
      }
    }
    lines.push(...this.#meshLines);
    this.#meshLines = [];
    const mesh = this.#mesh.takeChanged();
    // Only pending objects made and gone again, or reads of a node since removed: nothing to tell.
    if (!changes.length && !mesh.length && !lines.length) return;
    const at = new Date().toISOString();
    const timeline = lines.map((line) => ({ at, ...line }));
    this.#timeline = [...this.#timeline, ...timeline].slice(-KEPT_EVENTS);
    const order = { nodes: sortedNodes(view).map((n) => n.ID), services: sortedServices(view).map((s) => s.ID) };
    const batch = { id: this.#id(++this.#seq), changes, mesh, timeline, order };
    this.#kept.push(batch);
    if (this.#kept.length > KEPT_BATCHES) this.#kept.shift();
    for (const follower of this.#followers) follower.batch(batch);
  }

  #id(seq: number): string {
    return `${this.#epoch}-${seq}`;
  }
}

/** A task's place in its service: its slot, or in a global service its node. */
function slotOf(task: { serviceId: string; slot?: number; nodeId: string }): string {
  return `${task.serviceId}/${task.slot ?? `node ${task.nodeId}`}`;
}

/** Per place, the newest task asked to stop: what a task starting there takes the place of. */
function stoppedBySlot(view: ClusterView): Map<string, DashboardTask> {
  const newest = new Map<string, Task>();
  for (const task of view.tasks()) {
    if (task.DesiredState === 'running') continue;
    const slot = slotOf({ serviceId: task.ServiceID, ...(task.Slot !== undefined ? { slot: task.Slot } : {}), nodeId: task.NodeID });
    const known = newest.get(slot);
    if (!known || known.CreatedAt < task.CreatedAt) newest.set(slot, task);
  }
  return new Map([...newest].map(([slot, task]) => [slot, dashboardTask(task)]));
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

function dashboardFault(fault: Fault): DashboardFault {
  return {
    id: fault.ID, kind: fault.Spec.Kind, on: faultTarget(fault.Spec), effect: faultEffect(fault.Spec),
    ...(fault.Spec.ExpiresAt ? { expiresAt: fault.Spec.ExpiresAt } : {}),
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
    ...(task.Endpoint?.Ports.length ? { endpoints: task.Endpoint.Ports.map((p) => `${task.Endpoint!.Addr}:${p.ListenPort}${p.Protocol === 'udp' ? '/udp' : ''}`) } : {}),
    ...(task.Status.Err ? { message: task.Status.Err } : {}),
  };
}
