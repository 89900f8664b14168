// The swarm's events on a manager node, as dockerd makes them from swarmkit's watch (moby's
// daemon/events.go): create, update and remove of nodes, services, networks, secrets and configs, scope
// `swarm`, the object's name among the attributes and, on an update, what changed as `.old`/`.new`.
// Read from the node's own copy of the view, which every manager keeps (the leader's node too), so each
// manager shows each event once; a worker has none, as on Docker.
import { replicasOf } from '../swarm/index.js';
import type { ClusterView, Service, StoreChange, SwarmNode } from '../swarm/index.js';
import type { EventSink, EventType } from './EventSink.js';

/** What every object of the Store has, whatever its kind. */
interface StoredObject {
  ID: string;
  Version: { Index: number };
  Spec?: { Name?: string };
}

interface SwarmKind {
  type: EventType;
  /** The `name` attribute (the spec's name when absent). */
  name?(object: StoredObject): string;
  /** What an update changed, as Docker's attributes say it. */
  changes?(now: StoredObject, before: StoredObject): Record<string, string>;
}

/**
 * The Store's kinds that have swarm events, by the Store's name of the kind. A kind the Store does not
 * hold (yet) is skipped: the Store is read by its accessors' names, `<kind>(id)` and `<kind>s()`.
 */
const KINDS: Record<string, SwarmKind> = {
  node: { type: 'node', name: (node) => nodeName(node as SwarmNode), changes: (now, before) => nodeChanges(now as SwarmNode, before as SwarmNode) },
  service: { type: 'service', changes: (now, before) => serviceChanges(now as Service, before as Service) },
  network: { type: 'network' },
  secret: { type: 'secret' },
  config: { type: 'config' },
};

interface Reader {
  one(id: string): StoredObject | undefined;
  all(): readonly StoredObject[];
}

export class SwarmEvents {
  readonly #view: ClusterView;
  readonly #sink: EventSink;
  readonly #readers = new Map<string, Reader>();
  /** Each object as last seen, by kind and ID: what an update is compared with, and a resync's puts are told from changes by. */
  readonly #seen = new Map<string, Map<string, StoredObject>>();
  readonly #onChange = (change: StoreChange): void => this.#changed(change);

  /** Events from now on: what the view holds already is seen, not announced. */
  constructor(view: ClusterView, sink: EventSink) {
    this.#view = view;
    this.#sink = sink;
    for (const kind of Object.keys(KINDS)) {
      const reader = readerOf(view, kind);
      if (!reader) continue;
      this.#readers.set(kind, reader);
      this.#seen.set(kind, new Map(reader.all().map((o) => [o.ID, o])));
    }
    view.on('change', this.#onChange);
  }

  close(): void {
    this.#view.off('change', this.#onChange);
  }

  #changed({ kind, op, id }: StoreChange): void {
    const reader = this.#readers.get(kind);
    if (!reader) return;
    const seen = this.#seen.get(kind)!;
    const before = seen.get(id);
    const now = op === 'put' ? reader.one(id) : undefined;
    const { type, name, changes } = KINDS[kind]!;
    const nameOf = (object: StoredObject): string => (name ? name(object) : object.Spec?.Name ?? '');
    if (!now) {
      if (!before) return;
      seen.delete(id);
      this.#record(type, 'remove', id, { name: nameOf(before) });
      return;
    }
    // A resync writes every object again: only a new version is a change.
    if (before?.Version.Index === now.Version.Index) return;
    seen.set(id, now);
    if (!before) this.#record(type, 'create', id, { name: nameOf(now) });
    else this.#record(type, 'update', id, { name: nameOf(now), ...changes?.(now, before) });
  }

  #record(type: EventType, action: string, id: string, attributes: Record<string, string>): void {
    this.#sink.record({ Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'swarm' });
  }
}

function readerOf(view: ClusterView, kind: string): Reader | undefined {
  const accessors = view as unknown as Record<string, unknown>;
  const one = accessors[kind];
  const all = accessors[`${kind}s`];
  if (typeof one !== 'function' || typeof all !== 'function') return undefined;
  return {
    one: (id) => one.call(view, id) as StoredObject | undefined,
    all: () => all.call(view) as readonly StoredObject[],
  };
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
