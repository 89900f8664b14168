// A scenario's expectations held against what happened: each says what it asked, what was measured, and
// whether it held. Shares are the through node's picks (connections in tcp mode, requests in http mode,
// flows in udp), by task slot (`web.2`: its slot's tasks over the run), as the dashboard's bars count them.
import { shortTaskName } from '../views/traceLine.js';
import type { Expectation, Scenario } from './scenarioFile.js';
import type { ScenarioHappenings } from './ScenarioRun.js';

export interface Verdict {
  expected: string;
  measured: string;
  held: boolean;
}


const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)}s`;

export function percentile(values: readonly number[], p: number): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Picks of `load`'s service on its through node, by task slot. */
export function sharesOf(scenario: Scenario, happenings: ScenarioHappenings, load: string): Map<string, number> {
  const { service, through } = scenario.loads[load]!;
  const shares = new Map<string, number>();
  for (const r of happenings.records) {
    if (r.type === 'pick' && r.node === through && r.service === service) shares.set(shortTaskName(r.name ?? ''), (shares.get(shortTaskName(r.name ?? '')) ?? 0) + 1);
  }
  return shares;
}

export function verdicts(scenario: Scenario, happenings: ScenarioHappenings): Verdict[] {
  return scenario.expect.map((e) => verdict(e, scenario, happenings));
}

function verdict(e: Expectation, scenario: Scenario, happenings: ScenarioHappenings): Verdict {
  if ('failed' in e) {
    const result = happenings.loads.get(e.failed.load);
    const failed = result?.failed ?? Infinity;
    const between = result?.failedBetween ? `, sent between ${seconds(result.failedBetween[0])} and ${seconds(result.failedBetween[1])}` : '';
    const why = result?.failures.size ? ` (${[...result.failures].map(([reason, n]) => `${n}× ${reason}`).join(', ')}${between})` : '';
    return { expected: `failed requests of ${e.failed.load} at most ${e.failed.atMost}`, measured: `${failed} of ${result?.sent ?? 0}${why}`, held: failed <= e.failed.atMost };
  }
  if ('p99' in e) {
    const p99 = percentile(happenings.loads.get(e.p99.load)?.latencies ?? [], 99);
    return { expected: `p99 of ${e.p99.load} under ${e.p99.underMs} ms`, measured: p99 === undefined ? 'nothing answered' : `${p99.toFixed(1)} ms`, held: p99 !== undefined && p99 < e.p99.underMs };
  }
  if ('fair' in e) {
    const shares = sharesOf(scenario, happenings, e.fair.load);
    const total = [...shares.values()].reduce((a, b) => a + b, 0);
    const fair = total / Math.max(1, shares.size);
    const worst = Math.max(0, ...[...shares.values()].map((n) => Math.abs(n - fair) / fair));
    const listed = [...shares].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([slot, n]) => `${slot} ${n}`).join(', ');
    return {
      expected: `each task's share of ${e.fair.load} within ${Math.round(e.fair.within * 100)}% of fair`,
      measured: total ? `${listed} (fair ${fair.toFixed(1)}; worst ${Math.round(worst * 100)}% off)` : 'no picks',
      held: total > 0 && worst <= e.fair.within,
    };
  }
  if ('answeredBy' in e) {
    const { load, atMost, atLeast } = e.answeredBy;
    const tasks = happenings.loads.get(load)?.answeredBy.size ?? 0;
    const bounds = [atLeast !== undefined ? `at least ${atLeast}` : '', atMost !== undefined ? `at most ${atMost}` : ''].filter(Boolean).join(' and ');
    return { expected: `${load} answered by ${bounds} task(s)`, measured: `${tasks}`, held: (atLeast === undefined || tasks >= atLeast) && (atMost === undefined || tasks <= atMost) };
  }
  if ('ejected' in e || 'returned' in e) {
    const [type, { task, byMs }] = 'ejected' in e ? ['ejected', e.ejected] as const : ['returned', e.returned] as const;
    const seen = happenings.records.find((r) => r.type === type && shortTaskName(r.name ?? '') === task);
    return {
      expected: `${task} ${type === 'ejected' ? 'ejected' : 'back in the pool'} by ${seconds(byMs)}`,
      measured: seen ? `at ${seconds(seen.atMs)} on ${seen.node}` : 'never',
      held: seen !== undefined && seen.atMs <= byMs,
    };
  }
  const [state, { node, byMs }] = 'down' in e ? ['Down', e.down] as const : ['Ready again', e.ready] as const;
  const seen = happenings.nodes.get(node);
  const at = state === 'Down' ? seen?.downMs : seen?.readyMs;
  return { expected: `${node} ${state} by ${seconds(byMs)}`, measured: at === undefined ? 'never' : `at ${seconds(at)}`, held: at !== undefined && at <= byMs };
}
