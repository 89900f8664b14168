// Which networks each task address belongs to, kept from the cluster view task by task: how routemesh
// tells, by a connection's or a DNS query's source address, which task speaks and which networks it is on.
// A standalone container's address belongs to its networks. A source that is neither (the host, a program of
// the machine) belongs to no network.
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
  /** Standalone containers' addresses, each with the networks of its container: made again at each network change. */
  #containers = new Map<string, ReadonlySet<string>>();

  /** Reads every task and network again (a new view). */
  reset(view: ClusterView): void {
    this.#byAddress.clear();
    this.#byTask.clear();
    for (const task of view.tasks()) this.taskChanged(task.ID, task);
    this.networksChanged(view);
  }

  /** A network was written or removed: its containers' places may have changed. */
  networksChanged(view: ClusterView): void {
    const byContainer = new Map<string, { addresses: string[]; networks: Set<string> }>();
    for (const network of view.all('network')) {
      for (const [id, endpoint] of Object.entries(network.Containers ?? {})) {
        let held = byContainer.get(id);
        if (!held) byContainer.set(id, (held = { addresses: [], networks: new Set() }));
        held.addresses.push(endpoint.LoopbackAddress.split('/')[0]!);
        held.networks.add(network.ID);
      }
    }
    this.#containers = new Map([...byContainer.values()].flatMap(({ addresses, networks }) => addresses.map((a) => [a, networks] as const)));
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
    // Its networks, not ingress (whose attachment has no loopback addresses of its own): ingress has no names, and no VIP admits by it.
    this.#byTask.set(id, { addresses, networks: new Set((task.NetworksAttachments ?? []).filter((a) => a.LoopbackAddresses).map((a) => a.Network.ID)) });
    for (const address of addresses) this.#byAddress.set(address, id);
  }

  /** The networks (ingress aside) of the task or container that holds `source`, or undefined when none does. */
  networksOf(source: string): ReadonlySet<string> | undefined {
    const address = source.startsWith('::ffff:') ? source.slice(7) : source;
    const id = this.#byAddress.get(address);
    return id === undefined ? this.#containers.get(address) : this.#byTask.get(id)!.networks;
  }

  /** Whether a connection from `source` may reach an address on `network`: any source but a task that is not on it. */
  admits(network: string, source: string | undefined): boolean {
    if (source === undefined) return true;
    const networks = this.networksOf(source);
    return !networks || networks.has(network);
  }
}
