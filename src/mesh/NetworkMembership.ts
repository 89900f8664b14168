// Which networks each task address belongs to, kept from the cluster view task by task: how routemesh
// tells, by a connection's or a DNS query's source address, which task speaks and which networks it is on.
// A source that is no task's address (the host, a program of the machine) belongs to no network.
import { isTerminal } from '../swarm/index.js';
import type { ClusterView, Task } from '../swarm/index.js';

interface Held {
  addresses: readonly string[];
  networks: ReadonlySet<string>;
}

/** Every loopback address a task binds: its ingress address, and its address on each of its networks. */
export function taskAddresses(task: Task): string[] {
  const addresses = task.Endpoint ? [task.Endpoint.Addr] : [];
  for (const attachment of task.NetworksAttachments ?? []) {
    for (const cidr of attachment.LoopbackAddresses ?? (attachment === task.NetworksAttachments![0] ? attachment.Addresses : [])) {
      const address = cidr.split('/')[0]!;
      if (!addresses.includes(address)) addresses.push(address);
    }
  }
  return addresses;
}

export class NetworkMembership {
  readonly #byAddress = new Map<string, string>();
  readonly #byTask = new Map<string, Held>();

  /** Reads every task again (a new view). */
  reset(view: ClusterView): void {
    this.#byAddress.clear();
    this.#byTask.clear();
    for (const task of view.tasks()) this.taskChanged(task.ID, task);
  }

  /** A task was written or deleted (`task` undefined): an ended task's addresses are free, so no longer its. */
  taskChanged(id: string, task: Task | undefined): void {
    const before = this.#byTask.get(id);
    if (before) {
      for (const address of before.addresses) if (this.#byAddress.get(address) === id) this.#byAddress.delete(address);
      this.#byTask.delete(id);
    }
    if (!task || (isTerminal(task.Status.State) && task.Status.State !== 'orphaned')) return;
    const addresses = taskAddresses(task);
    if (!addresses.length) return;
    this.#byTask.set(id, { addresses, networks: new Set((task.NetworksAttachments ?? []).map((a) => a.Network.ID)) });
    for (const address of addresses) this.#byAddress.set(address, id);
  }

  /** The networks of the task that holds `source`, or undefined when no task does. */
  networksOf(source: string): ReadonlySet<string> | undefined {
    const id = this.#byAddress.get(source.startsWith('::ffff:') ? source.slice(7) : source);
    return id === undefined ? undefined : this.#byTask.get(id)!.networks;
  }

  /** Whether a connection from `source` may reach an address on `network`: any source but a task that is not on it. */
  admits(network: string, source: string | undefined): boolean {
    if (source === undefined) return true;
    const networks = this.networksOf(source);
    return !networks || networks.has(network);
  }
}
