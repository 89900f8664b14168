// `routemesh up --prometheus-sd FILE`: a Prometheus file_sd target file naming each node's /metrics while
// the node is in the swarm. It follows nodes joining, leaving, failing and coming back: it is rewritten
// (whole, by rename, so Prometheus never reads half a file) whenever the set of targets changes.
import { rename, writeFile } from 'node:fs/promises';
import type { ClusterNodeInfo } from '../engine/index.js';

export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** One group per node in the swarm that serves metrics, labelled with its hostname and role. */
export function targetGroups(nodes: readonly ClusterNodeInfo[]): TargetGroup[] {
  return nodes
    .filter((n) => n.role !== 'none' && n.metricsUrl)
    .map((n) => ({ targets: [new URL(n.metricsUrl!).host], labels: { routemesh_node: n.hostname, routemesh_role: n.role } }));
}

export class PrometheusTargetsFile {
  readonly #file: string;
  readonly #nodes: () => readonly ClusterNodeInfo[];
  readonly #everyMs: number;
  readonly #log: (line: string) => void;
  #written: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #failed = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(file: string, nodes: () => readonly ClusterNodeInfo[], options: { everyMs?: number; log?: (line: string) => void } = {}) {
    this.#file = file;
    this.#nodes = nodes;
    this.#everyMs = options.everyMs ?? 1000;
    this.#log = options.log ?? (() => {});
  }

  /** Writes the file now (rejecting if it cannot: a wrong path is said at start), then keeps it current. */
  async start(): Promise<void> {
    await this.#update(true);
    this.#timer = setInterval(() => { this.#writing = this.#writing.then(() => this.#update(false)); }, this.#everyMs);
  }

  async #update(first: boolean, groups?: TargetGroup[]): Promise<void> {
    try {
      const text = `${JSON.stringify(groups ?? targetGroups(this.#nodes()), null, 2)}\n`;
      if (text === this.#written) return;
      await writeFile(`${this.#file}.tmp`, text);
      await rename(`${this.#file}.tmp`, this.#file);
      this.#written = text;
      this.#failed = false;
    } catch (error) {
      if (first) throw new Error(`--prometheus-sd ${this.#file}: cannot write it (${(error as Error).message})`);
      // Said once per run of failures: the cluster is fine without the file.
      if (!this.#failed) this.#log(`cannot update ${this.#file}: ${(error as Error).message}; trying again every ${this.#everyMs / 1000}s`);
      this.#failed = true;
    }
  }

  /** Stops following, and leaves the file naming no target: the cluster is gone, Prometheus should stop too. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writing;
    if (this.#written !== undefined) await this.#update(false, []);
  }
}
