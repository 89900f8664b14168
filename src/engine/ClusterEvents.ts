// The swarm's events as a daemon logs them: services created, updated, scaled, rolled back, removed; nodes
// joining, removed, down and back, drained, promoted; tasks failed or rejected (a burst in a line a second).
// Watches one swarm's store (its managers share it, so each event is said once).
import type { NodeAvailability, NodeRole, NodeState, Service, ServiceSpec, SetTimer, Store, StoreChange, SwarmNode, Task, TaskState, Timer, UpdateStatus } from '../swarm/index.js';
import { realTimer, replicasOf } from '../swarm/index.js';

/**
 * A service's task failures after its first are counted for this long, then said in one line: 5,000
 * replicas whose command fails would otherwise write 5,000 lines (synchronous writes to a terminal or
 * pipe) each restart cycle.
 */
const FAILURES_WINDOW_MS = 1000;

/** A service's failures (or rejections) since its last line: counted, with the first one's error. */
interface FailureWindow {
  /** The service's name, as it was when the first failure came. */
  service: string;
  state: TaskState;
  timer: Timer;
  count: number;
  first: string | undefined;
}

/** What a later change is compared with: a few fields per object, so each change costs O(1). */
interface ServiceSeen {
  name: string;
  replicas: number | undefined;
  /** The spec less its replica count, as JSON: what a `service update` changes. */
  spec: string;
  update: UpdateStatus['State'] | undefined;
}

interface NodeSeen {
  hostname: string;
  state: NodeState;
  availability: NodeAvailability;
  role: NodeRole;
  leader: boolean;
}

const AVAILABILITY: Record<NodeAvailability, string> = { active: 'active', pause: 'paused', drain: 'drained' };

export class ClusterEvents {
  readonly #store: Store;
  readonly #log: (line: string) => void;
  readonly #services = new Map<string, ServiceSeen>();
  readonly #nodes = new Map<string, NodeSeen>();
  readonly #tasks = new Map<string, TaskState>();
  /** By service ID and state (failed or rejected): open while failures keep coming. */
  readonly #failures = new Map<string, FailureWindow>();
  readonly #setTimer: SetTimer;
  readonly #onChange = (change: StoreChange): void => this.#changed(change);

  constructor(store: Store, log: (line: string) => void, setTimer: SetTimer = realTimer) {
    this.#store = store;
    this.#log = log;
    this.#setTimer = setTimer;
    for (const node of store.nodes()) this.#nodes.set(node.ID, nodeSeen(node));
    for (const service of store.services()) this.#services.set(service.ID, serviceSeen(service));
    for (const task of store.tasks()) this.#tasks.set(task.ID, task.Status.State);
    store.on('change', this.#onChange);
  }

  /** Says what failures are still counted, then nothing more: a cluster shutting down stops its tasks and nodes, which are no events. */
  close(): void {
    this.#store.off('change', this.#onChange);
    for (const key of [...this.#failures.keys()]) this.#sayFailures(key, false);
  }

  #changed({ kind, op, id }: StoreChange): void {
    if (kind === 'task') this.#task(id, op);
    else if (kind === 'service') this.#service(id, op);
    else if (kind === 'node') this.#node(id, op);
  }

  #task(id: string, op: StoreChange['op']): void {
    const task = op === 'put' ? this.#store.task(id) : undefined;
    if (!task) {
      this.#tasks.delete(id);
      return;
    }
    const before = this.#tasks.get(id);
    const state = task.Status.State;
    this.#tasks.set(id, state);
    if (state === before || (state !== 'failed' && state !== 'rejected')) return;
    const why = task.Status.Err || task.Status.Message;
    const key = `${task.ServiceID} ${state}`;
    const window = this.#failures.get(key);
    if (window) {
      window.count++;
      window.first ??= why;
      return;
    }
    const node = this.#nodes.get(task.NodeID)?.hostname;
    const service = this.#services.get(task.ServiceID)?.name;
    this.#log(`task ${taskName(task, service)} ${state}${node ? ` on ${node}` : ''}: ${why}`);
    this.#openFailures(key, service ?? task.ServiceID, state);
  }

  #openFailures(key: string, service: string, state: TaskState): void {
    const timer = this.#setTimer(() => this.#sayFailures(key, true), FAILURES_WINDOW_MS);
    this.#failures.set(key, { service, state, timer, count: 0, first: undefined });
  }

  /** One line for the failures counted since the last; while they keep coming, counting goes on. */
  #sayFailures(key: string, goOn: boolean): void {
    const window = this.#failures.get(key)!;
    window.timer.cancel();
    this.#failures.delete(key);
    if (window.count === 0) return;
    const { service, state, count, first } = window;
    this.#log(`${count} more task${count === 1 ? '' : 's'} of ${service} ${state} (first: ${first})`);
    if (goOn) this.#openFailures(key, service, state);
  }

  #service(id: string, op: StoreChange['op']): void {
    const service = op === 'put' ? this.#store.service(id) : undefined;
    const before = this.#services.get(id);
    if (!service) {
      this.#services.delete(id);
      if (before) this.#log(`service ${before.name} removed`);
      return;
    }
    const now = serviceSeen(service);
    this.#services.set(id, now);
    if (!before) {
      const mode = now.replicas === undefined ? 'global' : `${now.replicas} replica${now.replicas === 1 ? '' : 's'}`;
      this.#log(`service ${now.name} created (${service.Spec.TaskTemplate.ContainerSpec.Image}, ${mode})`);
      return;
    }
    if (now.replicas !== before.replicas) this.#log(`service ${now.name} scaled from ${before.replicas} to ${now.replicas}`);
    if (now.update !== before.update && now.update === 'rollback_started') this.#log(`service ${now.name} rolling back: ${service.UpdateStatus!.Message}`);
    else if (now.spec !== before.spec) this.#log(`service ${now.name} updated`);
    if (now.update !== before.update && now.update !== undefined && now.update !== 'updating' && now.update !== 'rollback_started') {
      this.#log(`service ${now.name}: ${service.UpdateStatus!.Message}`);
    }
  }

  #node(id: string, op: StoreChange['op']): void {
    const node = op === 'put' ? this.#store.node(id) : undefined;
    const before = this.#nodes.get(id);
    if (!node) {
      this.#nodes.delete(id);
      if (before) this.#log(`node ${before.hostname} removed from the swarm`);
      return;
    }
    const now = nodeSeen(node);
    this.#nodes.set(id, now);
    if (!before) {
      this.#log(`node ${now.hostname} joined the swarm as a ${now.role} (${node.Status.Addr})`);
      return;
    }
    if (now.state !== before.state && (now.state === 'down' || before.state === 'down')) {
      this.#log(`node ${now.hostname} is ${now.state === 'down' ? 'down' : `${now.state} again`}`);
    }
    if (now.availability !== before.availability) this.#log(`node ${now.hostname} is ${AVAILABILITY[now.availability]}`);
    if (now.role !== before.role) this.#log(`node ${now.hostname} ${now.role === 'manager' ? 'promoted to manager' : 'demoted to worker'}`);
    if (now.leader && !before.leader) this.#log(`node ${now.hostname} is the leader`);
  }
}

function serviceSeen(service: Service): ServiceSeen {
  const spec: ServiceSpec = { ...service.Spec, Mode: service.Spec.Mode.Global ? { Global: {} } : { Replicated: {} } };
  return { name: service.Spec.Name, replicas: replicasOf(service.Spec), spec: JSON.stringify(spec), update: service.UpdateStatus?.State };
}

function nodeSeen(node: SwarmNode): NodeSeen {
  return {
    hostname: node.Description.Hostname,
    state: node.Status.State,
    availability: node.Spec.Availability,
    role: node.Spec.Role,
    leader: node.ManagerStatus?.Leader === true,
  };
}

/** `my-web.3.<id>`, as `service ps --no-trunc` names it. */
function taskName(task: Task, service: string | undefined): string {
  return task.Name ?? `${service ?? task.ServiceID}.${task.Slot ?? task.NodeID}.${task.ID}`;
}
