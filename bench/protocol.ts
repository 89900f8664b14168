// The JSON contract between the bench orchestrator (bench/run.ts) and one load child (bench/load.ts):
// what a child is asked to do on its command line, and the one line of JSON it prints back.

export interface LoadOptions {
  connections: number;
  pipelining: number;
  /** Measured seconds; the warm-up comes before and is not counted. */
  durationSec: number;
  warmupSec: number;
  /** Send `Connection: close`, so every request pays for a new TCP connection (and a new mesh pick). */
  newConnectionPerRequest: boolean;
}

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
}
