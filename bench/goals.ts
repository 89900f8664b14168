// The data plane's targets, measured against the medians and reported, never asserted: tcp mode at least
// HAProxy's mode tcp req/s and at most 60 µs over direct at one connection; http mode at least 0.6× HAProxy
// mode http and 2× node-http-proxy's defaults; metrics costing under 5%. bench/README.md records what was
// tried where one is missed.
import type { ConnectionMode, Route } from './table.js';
import { ROUTE_LABEL } from './table.js';
import type { ScenarioSummary } from './summary.js';

export interface Goal {
  what: string;
  /** The figure, as the table under it prints it; undefined when a row it needs did not run. */
  measured: string | undefined;
  met: boolean | undefined;
}

type Find = (route: Route, mode: ConnectionMode) => ScenarioSummary | undefined;

function ratioGoal(find: Find, route: Route, peer: Route, mode: ConnectionMode, atLeast: number): Goal {
  const a = find(route, mode);
  const b = find(peer, mode);
  const ratio = a && b && b.reqPerSec > 0 ? a.reqPerSec / b.reqPerSec : undefined;
  return {
    what: `${ROUTE_LABEL[route]} ≥ ${atLeast}× ${ROUTE_LABEL[peer]} req/s, ${mode}`,
    measured: ratio === undefined ? undefined : `${ratio.toFixed(2)}×`,
    met: ratio === undefined ? undefined : ratio >= atLeast,
  };
}

function metricsGoal(find: Find, on: Route, off: Route, mode: ConnectionMode): Goal {
  const a = find(on, mode);
  const b = find(off, mode);
  const cost = a && b && b.reqPerSec > 0 ? (1 - a.reqPerSec / b.reqPerSec) * 100 : undefined;
  return {
    what: `${ROUTE_LABEL[on]}: metrics on within 5% of off, ${mode}`,
    measured: cost === undefined ? undefined : `${Math.abs(cost).toFixed(1)}% ${cost >= 0 ? 'fewer' : 'more'} req/s with them`,
    // Coming out faster with metrics on is noise, not a cost.
    met: cost === undefined ? undefined : cost <= 5,
  };
}

export function goals(summaries: readonly ScenarioSummary[]): Goal[] {
  const find: Find = (route, mode) => summaries.find((s) => s.route === route && s.mode === mode);
  const direct = find('direct', 'one connection');
  const mesh = find('same node', 'one connection');
  const addedUs = direct && mesh ? (mesh.p50Ms - direct.p50Ms) * 1000 : undefined;
  return [
    ratioGoal(find, 'same node', 'haproxy tcp', 'keep-alive', 1),
    ratioGoal(find, 'same node', 'haproxy tcp', 'new per request', 1),
    {
      what: `${ROUTE_LABEL['same node']}: ≤ 60 µs added p50 over direct, one connection`,
      measured: addedUs === undefined ? undefined : `${addedUs >= 0 ? '+' : '−'}${Math.abs(addedUs).toFixed(0)} µs`,
      met: addedUs === undefined ? undefined : addedUs <= 60,
    },
    ratioGoal(find, 'http same node', 'haproxy http', 'keep-alive', 0.6),
    ratioGoal(find, 'http same node', 'node-http-proxy', 'keep-alive', 2),
    metricsGoal(find, 'same node', 'same node, no metrics', 'keep-alive'),
    metricsGoal(find, 'http same node', 'http same node, no metrics', 'keep-alive'),
  ];
}

export function formatGoals(list: readonly Goal[]): string[] {
  return [
    '## Targets (reported, not asserted)',
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...list.map((g) => `| ${g.what} | ${g.measured ?? '–'} | ${g.met === undefined ? 'not run' : g.met ? 'yes' : '**no**'} |`),
    '',
  ];
}
