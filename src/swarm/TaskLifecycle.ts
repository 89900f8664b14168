// Making, stopping and forgetting tasks, and the one rule for their addresses: a task holds its
// address from creation until it has really stopped (its node said so) or it leaves the store.
// Orchestrators decide which tasks should exist; this class is how they act on the store.
import type { NetworkAttachment, PortConfig, Service, Task } from './model.js';
import { isTerminal, nowIso } from './model.js';
import type { Store } from './Store.js';
import type { Allocator } from './Allocator.js';
import type { NetworkAllocator } from './NetworkAllocator.js';
import { IpamError } from '../vip-dns/index.js';
import { newHostname, newObjectId } from './ids.js';
import { sameSpec } from './sameSpec.js';
import type { SliceBudget } from './ReconcileQueue.js';

export const INGRESS_NETWORK_NAME = 'ingress';

export type TaskPlace = { slot: number } | { nodeId: string };

/** A task is up to date when it was made from the service's current template. */
export function isUpToDate(task: Task, service: Service): boolean {
  return sameSpec(task.Spec, service.Spec.TaskTemplate);
}

export class TaskLifecycle {
  readonly store: Store;
  readonly ingressNetworkId: string;
  #allocator: Allocator;
  #networks: NetworkAllocator;
  /** Tasks waiting in `new` for a free address, whichever service they belong to, oldest first. */
  #waiting = new Set<string>();
  /** False once a retry served none of the waiting tasks (their networks are full): true again when an address is released. */
  #retryable = true;

  constructor(store: Store, allocator: Allocator, networks: NetworkAllocator, ingressNetworkId: string) {
    this.store = store;
    this.#allocator = allocator;
    this.#networks = networks;
    this.ingressNetworkId = ingressNetworkId;
  }

  /** A new task for a slot (replicated) or a node (global). Never throws: without an address it waits in `new`. */
  create(service: Service, place: TaskPlace): Task {
    const now = nowIso();
    const id = newObjectId();
    const where = 'slot' in place ? place.slot : place.nodeId;
    const task: Task = {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Name: `${service.Spec.Name}.${where}.${id}`,
      Labels: {},
      Spec: structuredClone(service.Spec.TaskTemplate),
      ServiceID: service.ID,
      ...('slot' in place ? { Slot: place.slot } : {}),
      NodeID: 'nodeId' in place ? place.nodeId : '',
      // Host-mode ports belong to the task (service ps shows them; the scheduler keeps two apart).
      Status: { Timestamp: now, State: 'new', Message: 'created', PortStatus: hostPortsOf(service) },
      DesiredState: 'running',
      Hostname: newHostname(),
    };
    this.#address(task);
    return this.store.putTask(task);
  }

  /**
   * After a restore: the addresses the store's tasks held are taken again (every task's, until it has
   * really stopped), and tasks still waiting for one wait again, oldest first.
   */
  restore(): void {
    const tasks = this.store.tasks().sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt));
    for (const task of tasks) {
      const cidr = task.NetworksAttachments?.[0]?.Addresses[0];
      const released = isTerminal(task.Status.State) && task.Status.State !== 'orphaned';
      if (cidr && !released) {
        this.#allocator.restoreTask(task.ID, cidr);
        for (const attachment of task.NetworksAttachments!.slice(1)) {
          const loopback = attachment.LoopbackAddresses?.[0];
          if (loopback) this.#networks.restore(attachment.Network.ID, task.ID, loopback);
        }
      } else if (!cidr && task.DesiredState === 'running' && task.Status.State === 'new') this.#waiting.add(task.ID);
    }
  }

  /** Whether `retryAddresses` has work: tasks wait for an address and one is free. */
  get canServeWaiting(): boolean {
    return this.#retryable && this.#waiting.size > 0 && this.#allocator.freeTaskAddresses > 0;
  }

  /** Whether every network the task asks for has an address free (a full network keeps its tasks waiting, unwritten). */
  #networksHaveRoom(task: Task): boolean {
    return (task.Spec.Networks ?? []).every((n) => this.#networks.hasFree(n.Target));
  }

  /**
   * Gives the addresses free now (tasks of any service free theirs as they end) to the tasks that waited
   * longest, as far as the budget goes. A task is written only when it gets one: its "exhausted" message
   * was written once, when it was made. Returns the services that now have tasks to schedule.
   */
  retryAddresses(budget: SliceBudget): Set<string> {
    const progressed = new Set<string>();
    let cut = false;
    for (const id of this.#waiting) {
      if (budget.left <= 0 || this.#allocator.freeTaskAddresses === 0) {
        cut = true;
        break;
      }
      const task = this.store.task(id);
      if (!task || task.DesiredState !== 'running' || task.Status.State !== 'new') {
        this.#waiting.delete(id);
        continue;
      }
      if (!this.#networksHaveRoom(task)) continue;
      this.store.updateTask(id, (t) => this.#address(t));
      budget.left--;
      progressed.add(task.ServiceID);
    }
    // Every waiting task looked at, none served: they wait for their networks, until an address is released.
    if (!cut && !progressed.size) this.#retryable = false;
    return progressed;
  }

  /**
   * The task's addresses: one on ingress (where the meshes reach it), and one on each network of its spec,
   * in Docker's form with the loopback address it binds beside it. All or nothing: a full block keeps it
   * waiting in `new`, holding none.
   */
  #address(task: Task): void {
    try {
      const { addr, cidr } = this.#allocator.taskAddress(task.ID);
      const attachments: NetworkAttachment[] = [{ Network: { ID: this.ingressNetworkId, Spec: { Name: INGRESS_NETWORK_NAME } }, Addresses: [cidr] }];
      for (const wanted of task.Spec.Networks ?? []) {
        const network = this.store.get('network', wanted.Target);
        if (!network) continue;
        const { shown, loopback } = this.#networks.address(network.ID, task.ID);
        attachments.push({
          Network: { ID: network.ID, Spec: { Name: network.Spec.Name } }, Addresses: [shown], LoopbackAddresses: [loopback],
          ...(wanted.Aliases?.length ? { Aliases: [...wanted.Aliases] } : {}),
        });
      }
      this.#waiting.delete(task.ID);
      task.NetworksAttachments = attachments;
      task.Endpoint = { Addr: addr, Ports: [] };
      task.Status = { ...task.Status, State: task.NodeID ? 'assigned' : 'pending', Message: task.NodeID ? 'assigned' : 'pending task scheduling', Timestamp: nowIso() };
      delete task.Status.Err;
    } catch (error) {
      if (!(error instanceof IpamError)) throw error;
      this.#release(task);
      this.#waiting.add(task.ID);
      task.Status = { ...task.Status, Err: error.message };
    }
  }

  /** Every address the task holds, on ingress and on its networks. */
  #release(task: Task): void {
    this.#retryable = true;
    this.#allocator.releaseTask(task.ID);
    for (const wanted of task.Spec.Networks ?? []) this.#networks.release(wanted.Target, task.ID);
  }

  /**
   * Planned stop. A task no node has taken yet has nothing to stop, and a removed task that already ended
   * has nothing left to report: both are forgotten at once.
   */
  stop(task: Task, desired: 'shutdown' | 'remove'): void {
    if (task.NodeID === '' || (desired === 'remove' && isTerminal(task.Status.State))) this.forget(task);
    else this.store.updateTask(task.ID, (t) => { t.DesiredState = desired; });
  }

  /** The task's node reported it stopped: its address is free again. */
  stopped(task: Task): void {
    if (isTerminal(task.Status.State) && task.Status.State !== 'orphaned') this.#release(task);
  }

  forget(task: Task): void {
    this.#waiting.delete(task.ID);
    this.#release(task);
    this.store.deleteTask(task.ID);
  }
}

function hostPortsOf(service: Service): { Ports?: PortConfig[] } {
  const ports = (service.Endpoint.Ports ?? []).filter((port) => port.PublishMode === 'host');
  return ports.length ? { Ports: ports.map((port) => ({ ...port })) } : {};
}
