// Folds the rounds into one row per scenario: each figure the median of its rounds, with the lowest and
// highest req/s kept beside it so the noise stays visible. Formatting is table.ts's job.
import type { ConnectionMode, Measurement, Route } from './table.js';

export interface ScenarioSummary {
  route: Route;
  mode: ConnectionMode;
  rounds: number;
  /** Medians of the rounds, each taken on its own (the p99 need not come from the same round as the req/s). */
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  minReqPerSec: number;
  maxReqPerSec: number;
  /** Connection errors, timeouts included, plus non-2xx answers, over all rounds. */
  errors: number;
  /** For the routes whose CPU is read: medians of the rounds, and the spread of the CPU per request. */
  cpu?: CpuSummary | undefined;
}

export interface CpuSummary {
  usPerRequest: number;
  minUsPerRequest: number;
  maxUsPerRequest: number;
  coreShare: number;
}

/** The middle value; with an even count, the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (`p` from 0 to 1) of ascending values; 0 for none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** One summary for each scenario of `order`, in that order. */
export function summarize(measurements: readonly Measurement[], order: readonly { route: Route; mode: ConnectionMode }[]): ScenarioSummary[] {
  return order.map(({ route, mode }) => {
    const measured = measurements.filter((m) => m.route === route && m.mode === mode);
    const runs = measured.map((m) => m.result);
    const reqPerSec = runs.map((r) => r.reqPerSec);
    const cpu = measured.flatMap((m) => (m.cpu ? [m.cpu] : []));
    const perRequest = cpu.map((c) => c.usPerRequest);
    return {
      route,
      mode,
      rounds: runs.length,
      reqPerSec: median(reqPerSec),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      minReqPerSec: Math.min(...reqPerSec),
      maxReqPerSec: Math.max(...reqPerSec),
      errors: runs.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
      ...(cpu.length ? {
        cpu: {
          usPerRequest: median(perRequest), minUsPerRequest: Math.min(...perRequest), maxUsPerRequest: Math.max(...perRequest),
          coreShare: median(cpu.map((c) => c.coreShare)),
        },
      } : {}),
    };
  });
}
