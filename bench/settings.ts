// What one bench run does, from its command line and environment: how many rounds, how long each
// scenario runs, and which 127/8 address block the cluster takes (so a test can run it beside a real
// bench or other tests).

export interface BenchSettings {
  /**
   * Cluster nodes on 127.B.0.0/24, task addresses on 127.(B+1)/16, VIPs on 127.(B+2)/16; the cluster
   * without metrics takes B+3 to B+5.
   */
  block: number;
  /** Each round runs every scenario once (bench/schedule.ts); the report gives the medians. */
  rounds: number;
  durationSec: number;
  warmupSec: number;
  /**
   * Before the rounds, seconds of unrecorded load on each route through a Node process, in each connection
   * mode: the node processes start cold, and the JIT would otherwise still be at work in round 1 (and 2).
   */
  warmPassSec: number;
  connections: number;
  pipelining: number;
  quick: boolean;
  /** Leave bench/results alone (the test sets it). */
  noWrite: boolean;
  scale: ScaleSettings;
}

/** The scale section's sizes (bench/scale.ts). */
export interface ScaleSettings {
  nodes: number;
  services: number;
  replicas: number;
  /** Seconds of DNS load per name. */
  dnsSec: number;
  /** The cluster sizes the mesh is loaded through. */
  /** The service created and removed while the engine API's latency is timed (bench/converge.ts). */
  convergeReplicas: number;
  clusterSizes: number[];
}

function seconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of seconds, got "${text}"`);
  return value;
}

export function readSettings(argv: string[], env: NodeJS.ProcessEnv): BenchSettings {
  const unknown = argv.filter((a) => a !== '--quick');
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]}: the only option is --quick (or BENCH_QUICK=1)`);
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const block = Number(env.BENCH_BLOCK ?? 150);
  if (!Number.isInteger(block) || block < 1 || block > 250) {
    throw new Error(`BENCH_BLOCK must be a whole number from 1 to 250 (it takes 127.B to 127.B+5), got "${env.BENCH_BLOCK}"`);
  }
  const rounds = Number(env.BENCH_ROUNDS || (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) {
    throw new Error(`BENCH_ROUNDS must be a whole number from 1 to 9, got "${env.BENCH_ROUNDS}"`);
  }
  // 3 rounds × 28 scenarios × (2 s + 0.5 s warm-up), plus the scale section, keep a run under 5 minutes.
  const durationSec = seconds('BENCH_DURATION', env.BENCH_DURATION, quick ? 0.5 : 2);
  if (durationSec === 0) throw new Error('BENCH_DURATION must be more than 0 seconds');
  return {
    block,
    rounds,
    durationSec,
    // A quick run only checks the harness works; warming the JIT is for figures worth reading.
    warmupSec: seconds('BENCH_WARMUP', env.BENCH_WARMUP, quick ? 0 : 0.5),
    warmPassSec: 4 * seconds('BENCH_WARMUP', env.BENCH_WARMUP, quick ? 0 : 0.5),
    connections: 10,
    pipelining: 1,
    quick,
    noWrite: env.BENCH_NO_WRITE === '1',
    // Quick mode checks each step works at a size that keeps the whole run under a minute.
    scale: quick
      ? { nodes: 10, services: 5, replicas: 20, convergeReplicas: 300, dnsSec: Math.min(durationSec, 1), clusterSizes: [1, 3] }
      : { nodes: 50, services: 20, replicas: 100, convergeReplicas: 5000, dnsSec: durationSec, clusterSizes: [1, 3, 10] },
  };
}
