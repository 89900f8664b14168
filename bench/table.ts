// Turns the bench's figures into its report: the median table (padded, so it reads the same in a
// terminal and in bench/results/*.md), every round's own figures in the order they ran, and the
// machine, the settings and how to read it around them. The medians themselves come from summary.ts.
import type { Machine } from './machine.js';
import type { LoadResult } from './protocol.js';
import type { ScenarioSummary } from './summary.js';

/** Where the load goes: the task itself, the mesh (tcp or http mode, on the task's node or another), or node-http-proxy. */
export const ROUTES = ['direct', 'same node', 'other node', 'http same node', 'http other node', 'node-http-proxy',
  'same node, no metrics', 'http same node, no metrics'] as const;
export type Route = (typeof ROUTES)[number];
export type ConnectionMode = 'keep-alive' | 'new per request';

/** One scenario's run in one round. */
export interface Measurement {
  route: Route;
  mode: ConnectionMode;
  /** 1-based: which round, and where in that round's order this run came. */
  round: number;
  position: number;
  result: LoadResult;
  /** Share of the machine's CPU time stolen by the hypervisor during the run (bench/machine.ts), if known. */
  stealPercent?: number | undefined;
}

export const ROUTE_LABEL: Record<Route, string> = {
  direct: 'direct to task',
  'same node': 'mesh tcp, same node',
  'other node': 'mesh tcp, other node',
  'http same node': 'mesh http, same node',
  'http other node': 'mesh http, other node',
  'node-http-proxy': 'node-http-proxy, defaults',
  'same node, no metrics': 'mesh tcp, same node, metrics off',
  'http same node, no metrics': 'mesh http, same node, metrics off',
};

export interface ReportContext {
  date: string;
  machine: Machine;
  rounds: number;
  /** CPU steal over all the runs, if known. */
  stealPercent?: number | undefined;
  /** One line each on how the load was made and what the addresses were. */
  setup: string[];
}

function ms(value: number): string {
  return value.toFixed(value < 10 ? 3 : 1);
}

function percent(value: number | undefined): string {
  return value === undefined ? '–' : `${value.toFixed(1)}%`;
}

/** A markdown table with its columns padded; `numeric` columns are right-aligned. */
function renderTable(header: string[], body: string[][], numeric: ReadonlySet<number>): string {
  const rows = [header, ...body];
  const widths = header.map((_, col) => Math.max(...rows.map((row) => [...row[col]!].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, col) => (numeric.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, col) => (numeric.has(col) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}

const SUMMARY_HEADER = ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'req/s min–max', 'req/s vs direct', 'req/s vs node-http-proxy', 'added p50 ms', 'errors'];

/** Each row is compared with the direct row, and the node-http-proxy row, of the same connection mode (median against median). */
function summaryCells(s: ScenarioSummary, all: readonly ScenarioSummary[]): string[] {
  const ratio = (route: Route): string => {
    const base = all.find((d) => d.route === route && d.mode === s.mode);
    return base && base.reqPerSec > 0 ? `${(s.reqPerSec / base.reqPerSec).toFixed(2)}×` : '–';
  };
  const direct = all.find((d) => d.route === 'direct' && d.mode === s.mode);
  const added = direct && s.route !== 'direct' ? `${s.p50Ms - direct.p50Ms >= 0 ? '+' : ''}${ms(s.p50Ms - direct.p50Ms)}` : '–';
  return [
    ROUTE_LABEL[s.route], s.mode, s.reqPerSec.toFixed(0), ms(s.p50Ms), ms(s.p99Ms),
    s.rounds > 1 ? `${s.minReqPerSec.toFixed(0)}–${s.maxReqPerSec.toFixed(0)}` : '–',
    ratio('direct'), ratio('node-http-proxy'), added,
    String(s.errors),
  ];
}

export function formatSummaryTable(summaries: readonly ScenarioSummary[]): string {
  return renderTable(SUMMARY_HEADER, summaries.map((s) => summaryCells(s, summaries)), new Set([2, 3, 4, 5, 6, 7, 8, 9]));
}

/** Every run in the order it ran: where a scenario sat in its round is what order effects would follow. */
export function formatRoundsTable(measurements: readonly Measurement[]): string {
  const header = ['round', 'position', 'scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'CPU steal'];
  const body = [...measurements]
    .sort((a, b) => a.round - b.round || a.position - b.position)
    .map((m) => [
      String(m.round), String(m.position), ROUTE_LABEL[m.route], m.mode, m.result.reqPerSec.toFixed(0),
      ms(m.result.p50Ms), ms(m.result.p99Ms), String(m.result.errors + m.result.non2xx), percent(m.stealPercent),
    ]);
  return renderTable(header, body, new Set([0, 1, 4, 5, 6, 7, 8]));
}

/** What counting costs: each metrics-on row against its metrics-off twin, as a share of the latter's req/s. */
function metricsCost(summaries: readonly ScenarioSummary[]): string[] {
  const pairs: [Route, Route][] = [['same node', 'same node, no metrics'], ['http same node', 'http same node, no metrics']];
  const lines: string[] = [];
  for (const [on, off] of pairs) {
    for (const mode of ['keep-alive', 'new per request'] as const) {
      const a = summaries.find((s) => s.route === on && s.mode === mode);
      const b = summaries.find((s) => s.route === off && s.mode === mode);
      if (!a || !b || !(b.reqPerSec > 0)) continue;
      const gap = (1 - a.reqPerSec / b.reqPerSec) * 100;
      lines.push(`${ROUTE_LABEL[on]}, ${mode}: ${a.reqPerSec.toFixed(0)} req/s with metrics, ${b.reqPerSec.toFixed(0)} without ` +
        `(${Math.abs(gap).toFixed(1)}% ${gap >= 0 ? 'fewer' : 'more'} with them)`);
    }
  }
  return lines;
}

export function formatReport(summaries: readonly ScenarioSummary[], measurements: readonly Measurement[], context: ReportContext): string {
  const { machine, rounds } = context;
  const cost = metricsCost(summaries);
  const figures = rounds > 1
    ? `Each figure is the median of ${rounds} rounds (req/s, p50 and p99 each on its own); "req/s min–max" is the spread over the rounds.`
    : 'One round: each figure comes from a single run, so there is no spread to show.';
  return [
    `# routemesh bench, ${context.date}`,
    '',
    `Node ${machine.node} · ${machine.cpu} · ${machine.cores} cores · ${machine.platform} · ` +
      `1-min load average before the run: ${machine.loadBefore.toFixed(2)}` +
      (context.stealPercent !== undefined ? ` · CPU steal during the runs: ${percent(context.stealPercent)}` : ''),
    '',
    ...context.setup.map((s) => `- ${s}`),
    '',
    figures,
    '',
    formatSummaryTable(summaries),
    '',
    ...(cost.length ? ['What metrics cost (the target: under 5%):', '', ...cost.map((l) => `- ${l}`), ''] : []),
    '- "req/s vs direct" (and "vs node-http-proxy") divides by that row with the same connection mode; "added p50" subtracts the direct p50.',
    '- tcp mode balances per connection (as Swarm); http mode per request, over connections to the task kept open.',
    '  node-http-proxy with its defaults (no agent) opens a new connection to the task for every request: the naive baseline.',
    '- errors = connection errors (timeouts included) + non-2xx answers, over all rounds.',
    '- All nodes of this simulated cluster live in one process: "same node" and "other node" differ only in',
    '  which node\'s listener takes the connection. There is no network hop between nodes, so the two rows',
    '  should match; Swarm\'s real cross-node cost (the ingress overlay, VXLAN) is not simulated.',
    '- The whoami task runs in that same process too, so through the mesh one event loop forwards the bytes',
    '  and serves the request; "direct" pays only for the latter.',
    '- CPU steal: the share of CPU time the hypervisor gave to other virtual machines, which a run loses.',
    '',
    // With one round the runs are the table above, in another order.
    ...(rounds > 1 ? ['## Every run, in the order it ran', '', formatRoundsTable(measurements), ''] : []),
  ].join('\n');
}
