// What the bench's children are asked and what they answer: the load child (bench/load.ts, one job a line
// on its stdin and one answer line for each, through bench/LoadRunner.ts), and the one-shot children
// bench/dnsLoad.ts and bench/scaleUp.ts (the job as JSON on the command line, one result line).

export interface LoadOptions {
  connections: number;
  pipelining: number;
  /** Measured seconds; the warm-up comes before and is not counted. */
  durationSec: number;
  warmupSec: number;
  /** Send `Connection: close`, so every request pays for a new TCP connection (and a new mesh pick). */
  newConnectionPerRequest: boolean;
}

/** One line of the child's stdin. */
export interface LoadJob {
  /** Several: the connections take them in turn (load spread over nodes). */
  url: string | string[];
  options: LoadOptions;
}

/** One line of its stdout: the result, or why the run failed. */
export type LoadAnswer = LoadResult | { error: string };

export interface LoadResult {
  /** 2xx responses during the measured window. */
  responses: number;
  reqPerSec: number;
  /** Latency percentiles of 2xx responses, from autocannon's float timings (its own histogram keeps whole ms). */
  p50Ms: number;
  p99Ms: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  elapsedSec: number;
  /** Responses during the warm-up before it, which a CPU reading around the whole run also pays for. */
  warmupResponses: number;
}

// bench/dnsLoad.ts: the job on its command line, the result line it prints.

export interface DnsLoadJob {
  address: string;
  port: number;
  name: string;
  durationSec: number;
  inFlight: number;
}

export interface DnsLoadResult {
  name: string;
  /**
   * Answers naming an address, those after the run's end included: what the percentiles count (qps
   * counts those within the run).
   */
  answered: number;
  /** Queries without an answer after a second (UDP drops them silently). */
  lost: number;
  /** Answers whose rcode was not NOERROR, or that named no address. */
  failed: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
}

// bench/scaleUp.ts: the sizes on its command line, the figures it prints.

export interface ScaleUpJob {
  /** Nodes on 127.B.0.0/24, tasks on 127.(B+1)/16, VIPs on 127.(B+2)/16. */
  block: number;
  nodes: number;
  /** Published services of one task each: every node listens on each one's port. */
  services: number;
  /** The replicas of the service whose convergence is timed. */
  replicas: number;
}

export interface ConvergeJob {
  /** Nodes on 127.B.0.0/24, tasks on 127.(B+1)/16, VIPs on 127.(B+2)/16. */
  block: number;
  replicas: number;
}

export interface ConvergeResult {
  replicas: number;
  /** From the create to every task running. */
  convergeMs: number;
  /** From a rolling update with Parallelism 0 (one batch of every task, stop-first) to every task of the new template running. */
  updateMs: number;
  /** From draining node3 to its tasks all stopped and replaced on the other nodes. */
  drainMs: number;
  /** From the scale to 0 to every task gone (each waits out its 2 s fence), the update's and the drain's history aside. */
  removeMs: number;
  /** GET /_ping from another process in each phase. */
  createPings: PingFigures;
  updatePings: PingFigures;
  drainPings: PingFigures;
  removePings: PingFigures;
}

/** How many pings, and their latency. */
export interface PingFigures {
  pings: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ScaleUpResult {
  nodes: number;
  replicas: number;
  listeners: number;
  /** startCluster: every node's engine, mesh and API up. */
  startMs: number;
  /** From the first service create to every node listening on every published port. */
  listenersMs: number;
  /** Memory of the process with the nodes up and every listener open, less what it used before. */
  rssMiB: number;
  heapMiB: number;
  /** From the create of the `replicas` service to all its tasks running. */
  convergeMs: number;
}
