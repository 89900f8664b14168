// The dashboard's view of the mesh: every node's pools as that node balances them, read from the node's own
// engine API (GET /routemesh/mesh; every node serves it on the same port) every pollMs, while a page
// watches. Ejections and fencing are per node, so only the nodes themselves can say. A node that is down is
// not asked; one that does not answer in time, or answers wrong, is told as such, with why.
import http from 'node:http';
import type { ClusterView } from '../swarm/index.js';
import type { MeshReport } from '../mesh/index.js';
import { checkedMeshReport } from './checkedMeshReport.js';

/** One node's pools as last read, or why they could not be. */
export interface NodeMesh {
  nodeId: string;
  hostname: string;
  report?: MeshReport;
  /** Why there is no report: down, not answering, or answering wrong. */
  error?: string;
}

export interface MeshWatchOptions {
  view: ClusterView;
  /** The engine API port, the same on every node. */
  apiPort: number;
  /** This node's address: where its requests come from. */
  localAddress: string;
  /** How often every node is asked; the dashboard's promise is a change on the page within 1 s. */
  pollMs?: number;
  /** A node that has not answered whole by then is told as not answering (and asked again later). */
  timeoutMs?: number;
}

/**
 * A node's report larger than this is refused: some 8,000 pool members fit, and reading, checking and
 * comparing it costs the manager's event loop a few tens of milliseconds.
 */
const MAX_REPORT_BYTES = 2 << 20;

export class MeshWatch {
  readonly #view: ClusterView;
  readonly #apiPort: number;
  readonly #localAddress: string;
  readonly #pollMs: number;
  readonly #timeoutMs: number;
  /** Keeps one connection to each node between polls, while watching. */
  #agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  /** Nodes asked and not yet answered: a slow node is not asked again on top. */
  readonly #asking = new Map<string, http.ClientRequest>();
  #timer: NodeJS.Timeout | undefined;
  #report: (mesh: NodeMesh) => void = () => {};

  constructor(options: MeshWatchOptions) {
    this.#view = options.view;
    this.#apiPort = options.apiPort;
    this.#localAddress = options.localAddress;
    this.#pollMs = options.pollMs ?? 500;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  /** Asks every node now and every pollMs, telling `report` each answer, until the returned stop. */
  start(report: (mesh: NodeMesh) => void): () => void {
    this.#report = report;
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    this.#poll();
    this.#timer = setInterval(() => this.#poll(), this.#pollMs).unref();
    return () => this.#stop();
  }

  #stop(): void {
    clearInterval(this.#timer);
    const cut = [...this.#asking.values()];
    this.#asking.clear();
    for (const request of cut) request.destroy();
    this.#agent.destroy();
  }

  #poll(): void {
    for (const node of this.#view.nodes()) {
      const tell = (mesh: Omit<NodeMesh, 'nodeId' | 'hostname'>) => this.#report({ nodeId: node.ID, hostname: node.Description.Hostname, ...mesh });
      if (node.Status.State === 'down') tell({ error: 'the node is down' });
      else if (!this.#asking.has(node.ID)) this.#ask(node.ID, `http://${node.Status.Addr}:${this.#apiPort}/routemesh/mesh`, tell);
    }
  }

  #ask(nodeId: string, url: string, tell: (mesh: Omit<NodeMesh, 'nodeId' | 'hostname'>) => void): void {
    let told = false;
    const answer = (mesh: Omit<NodeMesh, 'nodeId' | 'hostname'>): void => {
      clearTimeout(deadline);
      // Once per request; one cut off by stop() tells no one.
      if (told || this.#asking.get(nodeId) !== request) return;
      told = true;
      this.#asking.delete(nodeId);
      tell(mesh);
    };
    const request = http.get(url, { agent: this.#agent, localAddress: this.#localAddress }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_REPORT_BYTES) request.destroy(new Error(`its answer is larger than ${MAX_REPORT_BYTES >> 20} MiB`));
        else chunks.push(chunk);
      });
      res.on('end', () => answer(readOf(url, res.statusCode, Buffer.concat(chunks).toString())));
      res.on('error', (error) => answer({ error: `${url}: ${error.message}` }));
    });
    // One deadline for the whole answer: a node that sends a byte now and then is as good as silent.
    const deadline = setTimeout(() => request.destroy(new Error(`no whole answer within ${this.#timeoutMs / 1000}s`)), this.#timeoutMs).unref();
    request.once('close', () => clearTimeout(deadline));
    request.on('error', (error) => answer({ error: `${url}: ${error.message}` }));
    this.#asking.set(nodeId, request);
  }
}

/** A node's answer as a read: its pools, checked, or what is wrong with it. */
function readOf(url: string, status: number | undefined, text: string): Omit<NodeMesh, 'nodeId' | 'hostname'> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { error: `${url} answered ${status} with something not JSON` };
  }
  if (status !== 200) {
    const message = (body as { message?: unknown } | null)?.message;
    return { error: `${url} answered ${status}${typeof message === 'string' ? `: ${message}` : ''}` };
  }
  try {
    return { report: checkedMeshReport(body) };
  } catch (error) {
    return { error: `${url} answered no pools: ${(error as Error).message}` };
  }
}
