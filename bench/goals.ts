// Issue 17's targets for the data plane, measured against the medians and reported, never asserted:
// - http mode, keep-alive: at least 0.6× HAProxy mode http's req/s and 5× node-http-proxy's defaults;
//   with a new connection per request, at least 0.8× HAProxy mode http;
// - tcp mode: at least 1.0× HAProxy mode tcp's req/s, keep-alive and new per request; at one connection,
//   an added p50 within 10 µs of HAProxy's;
// - http mode's CPU per request at most 2× HAProxy mode http's (both connection modes);
// - metrics costing at most 3%, in CPU per request (on against off), not in req/s, which moves more
//   between two runs than metrics cost.
// bench/README.md records what was tried where one is missed.
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

/** Unmeasured when a row it needs did not run. */
function goal(what: string, figure: number | undefined, text: (figure: number) => string, met: (figure: number) => boolean): Goal {
  return { what, measured: figure === undefined ? undefined : text(figure), met: figure === undefined ? undefined : met(figure) };
}

function reqPerSecGoal(find: Find, route: Route, peer: Route, mode: ConnectionMode, atLeast: number): Goal {
  const a = find(route, mode);
  const b = find(peer, mode);
  return goal(`${ROUTE_LABEL[route]} ≥ ${atLeast.toFixed(1)}× ${ROUTE_LABEL[peer]} req/s, ${mode}`,
    a && b && b.reqPerSec > 0 ? a.reqPerSec / b.reqPerSec : undefined,
    (ratio) => `${ratio.toFixed(2)}×`, (ratio) => ratio >= atLeast);
}

function cpuGoal(find: Find, route: Route, peer: Route, mode: ConnectionMode, atMost: number): Goal {
  const a = find(route, mode)?.cpu;
  const b = find(peer, mode)?.cpu;
  return goal(`${ROUTE_LABEL[route]}: CPU per request ≤ ${atMost}× ${ROUTE_LABEL[peer]}'s, ${mode}`,
    a && b && b.usPerRequest > 0 ? a.usPerRequest / b.usPerRequest : undefined,
    (ratio) => `${ratio.toFixed(2)}× (${a!.usPerRequest.toFixed(1)} µs against ${b!.usPerRequest.toFixed(1)})`, (ratio) => ratio <= atMost);
}

function metricsGoal(find: Find, on: Route, off: Route, mode: ConnectionMode): Goal {
  const a = find(on, mode)?.cpu;
  const b = find(off, mode)?.cpu;
  return goal(`${ROUTE_LABEL[on]}: metrics on ≤ 3% more CPU per request than off, ${mode}`,
    a && b && b.usPerRequest > 0 ? (a.usPerRequest / b.usPerRequest - 1) * 100 : undefined,
    (cost) => `${Math.abs(cost).toFixed(1)}% ${cost >= 0 ? 'more' : 'less'} with them`,
    // Coming out cheaper with metrics on is noise, not a cost.
    (cost) => cost <= 3);
}

/** One connection: the mesh's p50 less HAProxy's, both over the same direct p50, so the difference of what each adds. */
function addedLatencyGoal(find: Find): Goal {
  const direct = find('direct', 'one connection');
  const mesh = find('same node', 'one connection');
  const haproxy = find('haproxy tcp', 'one connection');
  const us = (s: ScenarioSummary): number => (s.p50Ms - direct!.p50Ms) * 1000;
  const signed = (value: number): string => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(0)} µs`;
  return goal(`${ROUTE_LABEL['same node']}: added p50 within 10 µs of ${ROUTE_LABEL['haproxy tcp']}'s, one connection`,
    direct && mesh && haproxy ? us(mesh) - us(haproxy) : undefined,
    (gap) => `${signed(us(mesh!))} against ${signed(us(haproxy!))}`, (gap) => gap <= 10);
}

export function goals(summaries: readonly ScenarioSummary[]): Goal[] {
  const find: Find = (route, mode) => summaries.find((s) => s.route === route && s.mode === mode);
  return [
    reqPerSecGoal(find, 'same node', 'haproxy tcp', 'keep-alive', 1),
    reqPerSecGoal(find, 'same node', 'haproxy tcp', 'new per request', 1),
    addedLatencyGoal(find),
    reqPerSecGoal(find, 'http same node', 'haproxy http', 'keep-alive', 0.6),
    reqPerSecGoal(find, 'http same node', 'node-http-proxy', 'keep-alive', 5),
    reqPerSecGoal(find, 'http same node', 'haproxy http', 'new per request', 0.8),
    cpuGoal(find, 'http same node', 'haproxy http', 'keep-alive', 2),
    cpuGoal(find, 'http same node', 'haproxy http', 'new per request', 2),
    metricsGoal(find, 'same node', 'same node, no metrics', 'keep-alive'),
    metricsGoal(find, 'same node', 'same node, no metrics', 'new per request'),
    metricsGoal(find, 'http same node', 'http same node, no metrics', 'keep-alive'),
    metricsGoal(find, 'http same node', 'http same node, no metrics', 'new per request'),
  ];
}

export function formatGoals(list: readonly Goal[]): string[] {
  return [
    '## Targets (issue 17; reported, not asserted)',
    '',
    '| target | measured | met |',
    '|---|---:|---|',
    ...list.map((g) => `| ${g.what} | ${g.measured ?? '–'} | ${g.met === undefined ? 'not run' : g.met ? 'yes' : '**no**'} |`),
    '',
  ];
}
