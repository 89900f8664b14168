// Nodes on hosts of their own (each its own network stack: separate machines, or network namespaces) put
// their tasks' addresses on their own loopback, out of the other hosts' reach. With `node start
// --route-tasks`, a node follows the view and routes every address of another node's task (its task
// address, and its addresses on networks) to that node's address: one /32 each, in the `local` table,
// where the longest prefix wins over `local 127.0.0.0/8` whatever policy rules say (in `main` it would lose
// once any `ip rule` splits the tables). A task is routed from the moment it is assigned, long before any
// mesh puts it in a pool (it must be running for that). Routes are changed in batches through one
// `ip -batch`, and removed when the node leaves. It needs CAP_NET_ADMIN in the host's network namespace.
import { spawn } from 'node:child_process';
import { isTerminal } from '../swarm/index.js';
import type { ClusterView, Task } from '../swarm/index.js';

export interface TaskRoutesOptions {
  view: ClusterView;
  nodeId: string;
  /** This node's address: the routes' source, so the kernel has one for 127/8 (it gives none by itself). */
  address: string;
  log: (line: string) => void;
  /** Runs `ip` batch commands (tests give their own); resolves with what ip said on errors, if anything. */
  runIp?: (commands: string[]) => Promise<string>;
}

export class TaskRoutes {
  readonly #options: TaskRoutesOptions;
  readonly #runIp: (commands: string[]) => Promise<string>;
  /** Each routed address and the node address it goes through, as installed. */
  #routed = new Map<string, string>();
  #scheduled = false;
  #applying: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #onChange = (change: { kind: string }): void => {
    if (change.kind === 'task' || change.kind === 'node') this.#schedule();
  };

  constructor(options: TaskRoutesOptions) {
    this.#options = options;
    this.#runIp = options.runIp ?? runIpBatch;
  }

  start(): void {
    this.#options.view.on('change', this.#onChange);
    this.#schedule();
  }

  /** Stops following, and removes every route it made. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#options.view.off('change', this.#onChange);
    await this.#applying;
    const removals = [...this.#routed.keys()].map((address) => `route del ${address}/32 table local`);
    this.#routed.clear();
    if (removals.length) await this.#run(removals);
  }

  /** One batch per turn of changes: a scale of a hundred tasks is one `ip` run. */
  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#applying = this.#applying.then(() => this.#apply());
    });
  }

  async #apply(): Promise<void> {
    if (this.#closed) return;
    const wanted = this.#wanted();
    const commands: string[] = [];
    for (const [address, via] of wanted) {
      if (this.#routed.get(address) !== via) commands.push(`route replace ${address}/32 via ${via} src ${this.#options.address} table local`);
    }
    for (const address of this.#routed.keys()) if (!wanted.has(address)) commands.push(`route del ${address}/32 table local`);
    this.#routed = wanted;
    if (commands.length) await this.#run(commands);
  }

  /** Every address of every task of another node that is not over, to that node's address. */
  #wanted(): Map<string, string> {
    const { view, nodeId } = this.#options;
    const nodeAddress = new Map(view.nodes().map((node) => [node.ID, node.Status.Addr]));
    const wanted = new Map<string, string>();
    for (const task of view.tasks()) {
      const via = nodeAddress.get(task.NodeID ?? '');
      if (!via || task.NodeID === nodeId || isTerminal(task.Status.State)) continue;
      for (const address of addressesOf(task)) wanted.set(address, via);
    }
    return wanted;
  }

  async #run(commands: string[]): Promise<void> {
    const said = await this.#runIp(commands).catch((error: Error) => error.message);
    if (said) this.#options.log(`routes to other hosts' tasks: ${said.trim()} (is this node on a host of its own, as root? --route-tasks needs that)`);
  }
}

/**
 * Where a task really listens, without prefix lengths: its task address, and on each network its loopback
 * address (a network's `Addresses` are in the subnet it shows, mapped onto that block). Loopback only.
 */
function addressesOf(task: Task): string[] {
  const addresses = (task.NetworksAttachments ?? []).flatMap((a) => a.LoopbackAddresses ?? a.Addresses);
  if (task.Endpoint?.Addr) addresses.push(task.Endpoint.Addr);
  return [...new Set(addresses.map((cidr) => cidr.split('/')[0]!))].filter((address) => address.startsWith('127.'));
}

/** `ip -force -batch -`: every command is tried, and what failed is said, rather than the rest given up. */
function runIpBatch(commands: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const ip = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    ip.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    ip.on('error', reject);
    ip.on('close', (code) => resolve(code === 0 ? '' : stderr || `ip exited with ${code}`));
    ip.stdin!.end(`${commands.join('\n')}\n`);
  });
}
