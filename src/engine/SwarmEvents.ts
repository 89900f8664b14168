// The swarm's events on a manager node, as dockerd makes them from swarmkit's watch (moby's
// daemon/events.go): create, update and remove of nodes, services, networks, secrets and configs, scope
// `swarm`, the object's name among the attributes and, on an update, what changed as `.old`/`.new`.
// Read from the node's own copy of the view, which every manager keeps (the leader's node too), so each
// manager shows each event once; a worker has none, as on Docker.
import { replicasOf } from '../swarm/index.js';
import type { Network, Service, Store, StoreChange, StoreKind, StoreObject, SwarmNode } from '../swarm/index.js';
import type { EventSink, EventType } from './EventSink.js';

interface SwarmKind {
  type: EventType;
  /** The `name` attribute (the spec's name when absent). */
  name?(object: StoreObject): string;
  /** What an update changed, as Docker's attributes say it. */
  changes?(now: StoreObject, before: StoreObject): Record<string, string>;
  /** Whether this event is the swarm's to announce (absent: every one is). */
  announces?(object: StoreObject, action: 'create' | 'update' | 'remove'): boolean;
}

/** The Store's kinds that have swarm events (tasks have none, as in Docker): a new kind needs one line. */
const KINDS: { [K in StoreKind]?: SwarmKind } = {
  node: { type: 'node', name: (node) => nodeName(node as SwarmNode), changes: (now, before) => nodeChanges(now as SwarmNode, before as SwarmNode) },
  service: { type: 'service', changes: (now, before) => serviceChanges(now as Service, before as Service) },
  // A bridge network is its node's: that node says so, in its local events (NodeNetworks). A swarm network
  // is never updated by a user; its writes are containers coming and going, which are connect/disconnect.
  network: { type: 'network', announces: (network, action) => (network as Network).Spec.Scope !== 'local' && action !== 'update' },
  secret: { type: 'secret' },
  config: { type: 'config' },
};

export class SwarmEvents {
  readonly #view: Store;
  readonly #sink: EventSink;
  /** Each object as last seen, by kind and ID: what an update is compared with, and a resync's puts are told from changes by. */
  readonly #seen = new Map<StoreKind, Map<string, StoreObject>>();
  readonly #onChange = (change: StoreChange): void => this.#changed(change);

  /** Events from now on: what the view holds already is seen, not announced. */
  constructor(view: Store, sink: EventSink) {
    this.#view = view;
    this.#sink = sink;
    for (const kind of Object.keys(KINDS) as StoreKind[]) this.#seen.set(kind, new Map(objectsOf(view, kind).map((o) => [o.ID, o])));
    view.on('change', this.#onChange);
  }

  close(): void {
    this.#view.off('change', this.#onChange);
  }

  #changed({ kind, op, id }: StoreChange): void {
    const described = KINDS[kind];
    if (!described) return;
    const seen = this.#seen.get(kind)!;
    const before = seen.get(id);
    const now = op === 'put' ? this.#view.object(kind, id) : undefined;
    const { type, name, changes } = described;
    const nameOf = (object: StoreObject): string => (name ? name(object) : (object as { Spec?: { Name?: string } }).Spec?.Name ?? '');
    const announces = (object: StoreObject, action: 'create' | 'update' | 'remove'): boolean => described.announces?.(object, action) ?? true;
    if (!now) {
      if (!before) return;
      seen.delete(id);
      if (announces(before, 'remove')) this.#record(type, 'remove', id, { name: nameOf(before) });
      return;
    }
    // A resync writes every object again: only a new version is a change.
    if (before?.Version.Index === now.Version.Index) return;
    seen.set(id, now);
    if (!before) {
      if (announces(now, 'create')) this.#record(type, 'create', id, { name: nameOf(now) });
    } else if (announces(now, 'update')) {
      this.#record(type, 'update', id, { name: nameOf(now), ...changes?.(now, before) });
    }
  }

  #record(type: EventType, action: string, id: string, attributes: Record<string, string>): void {
    this.#sink.record({ Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'swarm' });
  }
}

function objectsOf(view: Store, kind: StoreKind): readonly StoreObject[] {
  if (kind === 'node') return view.nodes();
  if (kind === 'service') return view.services();
  if (kind === 'task') return view.tasks();
  return view.all(kind);
}

function nodeName(node: SwarmNode): string {
  return node.Spec.Name || node.Description.Hostname;
}

/** moby's logNodeEvent: availability, role, state, and within the managers leadership and reachability. */
function nodeChanges(now: SwarmNode, before: SwarmNode): Record<string, string> {
  const changed: Record<string, string> = {};
  const compare = (key: string, old: string, current: string): void => {
    if (old === current) return;
    changed[`${key}.old`] = old;
    changed[`${key}.new`] = current;
  };
  compare('availability', before.Spec.Availability, now.Spec.Availability);
  compare('role', before.Spec.Role, now.Spec.Role);
  compare('state', before.Status.State, now.Status.State);
  if (now.ManagerStatus && before.ManagerStatus) {
    compare('leader', String(before.ManagerStatus.Leader === true), String(now.ManagerStatus.Leader === true));
    compare('reachability', before.ManagerStatus.Reachability, now.ManagerStatus.Reachability);
  }
  return changed;
}

/** moby's logServiceEvent: the image, the replicas, and the update's state. */
function serviceChanges(now: Service, before: Service): Record<string, string> {
  const changed: Record<string, string> = {};
  const image = now.Spec.TaskTemplate.ContainerSpec.Image;
  const oldImage = before.Spec.TaskTemplate.ContainerSpec.Image;
  if (image !== oldImage) Object.assign(changed, { 'image.old': oldImage, 'image.new': image });
  const replicas = replicasOf(now.Spec);
  const oldReplicas = replicasOf(before.Spec);
  if (replicas !== undefined && oldReplicas !== undefined && replicas !== oldReplicas) {
    Object.assign(changed, { 'replicas.old': String(oldReplicas), 'replicas.new': String(replicas) });
  }
  const update = now.UpdateStatus?.State;
  const oldUpdate = before.UpdateStatus?.State;
  if (update !== undefined && update !== oldUpdate) {
    if (oldUpdate !== undefined) changed['updatestate.old'] = oldUpdate;
    changed['updatestate.new'] = update;
  }
  return changed;
}
