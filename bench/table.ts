// Turns the bench's figures into its report: the median table (padded, so it reads the same in a
// terminal and in bench/results/*.md), every round's own figures in the order they ran, and the
// machine, the settings and how to read it around them. The medians themselves come from summary.ts.
import type { Machine } from './machine.js';
import type { LoadResult } from './protocol.js';
import type { ScenarioSummary } from './summary.js';

/**
 * Where the load goes: the task itself; the mesh in tcp mode (on the task's node, on another node, through
 * the VIP) and in http mode; the peers in front of the same task (HAProxy, nginx, node-http-proxy); and
 * the mesh of a twin cluster that counts no metrics.
 */
export const ROUTES = ['direct', 'same node', 'other node', 'vip', 'http same node', 'haproxy tcp', 'haproxy http',
  'nginx stream', 'nginx http', 'node-http-proxy', 'same node, no metrics', 'http same node, no metrics'] as const;
export type Route = (typeof ROUTES)[number];
/** keep-alive and new per request run with the bench's connections; one connection is keep-alive with one. */
export type ConnectionMode = 'keep-alive' | 'new per request' | 'one connection';

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
  /** What the process that took the load spent, for the routes whose CPU is read (bench/mainRuns.ts). */
  cpu?: RunCpu | undefined;
}

export interface RunCpu {
  /** Its CPU µs over the run (warm-up included) per request answered in it. */
  usPerRequest: number;
  /** Its CPU time over the run's wall time: 1 is one core busy throughout. */
  coreShare: number;
}

export const ROUTE_LABEL: Record<Route, string> = {
  direct: 'direct to task',
  'same node': 'mesh tcp, same node',
  'other node': 'mesh tcp, other node',
  vip: 'mesh tcp, VIP',
  'http same node': 'mesh http, same node',
  'haproxy tcp': 'HAProxy, mode tcp',
  'haproxy http': 'HAProxy, mode http',
  'nginx stream': 'nginx, stream',
  'nginx http': 'nginx, http',
  'node-http-proxy': 'node-http-proxy, defaults',
  'same node, no metrics': 'mesh tcp, same node, metrics off',
  'http same node, no metrics': 'mesh http, same node, metrics off',
};

/** The HAProxy row a route is held against: the same layer's (tcp or http); none for direct. */
const HAPROXY_PEER: Record<Route, Route | undefined> = {
  direct: undefined,
  'same node': 'haproxy tcp', 'other node': 'haproxy tcp', vip: 'haproxy tcp', 'haproxy tcp': 'haproxy tcp',
  'nginx stream': 'haproxy tcp', 'same node, no metrics': 'haproxy tcp',
  'http same node': 'haproxy http', 'haproxy http': 'haproxy http', 'nginx http': 'haproxy http',
  'node-http-proxy': 'haproxy http', 'http same node, no metrics': 'haproxy http',
};

export interface ReportContext {
  date: string;
  machine: Machine;
  rounds: number;
  /** CPU steal over all the runs, if known. */
  stealPercent?: number | undefined;
  /** One line each on how the load was made, what the addresses were, and the peers' versions. */
  setup: string[];
  /** Sections that follow the table and its notes (the targets, the scale figures), as lines. */
  sections: string[];
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

const SUMMARY_HEADER = ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'req/s min–max', 'req/s vs direct', 'req/s vs HAProxy', 'req/s vs node-http-proxy', 'added p50 ms', 'errors'];

/**
 * Each row is compared with the direct row, the HAProxy row of its layer and the node-http-proxy row, of
 * the same connection mode (median against median).
 */
function summaryCells(s: ScenarioSummary, all: readonly ScenarioSummary[]): string[] {
  const ratio = (route: Route | undefined): string => {
    const base = all.find((d) => d.route === route && d.mode === s.mode);
    return base && base.reqPerSec > 0 ? `${(s.reqPerSec / base.reqPerSec).toFixed(2)}×` : '–';
  };
  const direct = all.find((d) => d.route === 'direct' && d.mode === s.mode);
  const added = direct && s.route !== 'direct' ? `${s.p50Ms - direct.p50Ms >= 0 ? '+' : ''}${ms(s.p50Ms - direct.p50Ms)}` : '–';
  return [
    ROUTE_LABEL[s.route], s.mode, s.reqPerSec.toFixed(0), ms(s.p50Ms), ms(s.p99Ms),
    s.rounds > 1 ? `${s.minReqPerSec.toFixed(0)}–${s.maxReqPerSec.toFixed(0)}` : '–',
    ratio('direct'), ratio(HAPROXY_PEER[s.route]), ratio('node-http-proxy'), added,
    String(s.errors),
  ];
}

export function formatSummaryTable(summaries: readonly ScenarioSummary[]): string {
  return renderTable(SUMMARY_HEADER, summaries.map((s) => summaryCells(s, summaries)), new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]));
}

const CPU_HEADER = ['scenario', 'connections', 'CPU µs per request', 'CPU µs min–max', 'CPU vs HAProxy', 'share of a core', 'req/s'];

/** The routes whose CPU was read, each against its layer's HAProxy row of the same connection mode (median against median). */
export function formatCpuTable(summaries: readonly ScenarioSummary[]): string {
  const body = summaries.flatMap((s) => {
    if (!s.cpu) return [];
    const peer = summaries.find((d) => d.route === HAPROXY_PEER[s.route] && d.mode === s.mode)?.cpu;
    return [[
      ROUTE_LABEL[s.route], s.mode, s.cpu.usPerRequest.toFixed(1),
      s.rounds > 1 ? `${s.cpu.minUsPerRequest.toFixed(1)}–${s.cpu.maxUsPerRequest.toFixed(1)}` : '–',
      peer && peer.usPerRequest > 0 ? `${(s.cpu.usPerRequest / peer.usPerRequest).toFixed(2)}×` : '–',
      `${(s.cpu.coreShare * 100).toFixed(0)}%`, s.reqPerSec.toFixed(0),
    ]];
  });
  return renderTable(CPU_HEADER, body, new Set([2, 3, 4, 5, 6]));
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

export function formatReport(summaries: readonly ScenarioSummary[], measurements: readonly Measurement[], context: ReportContext): string {
  const { machine, rounds } = context;
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
    '- "req/s vs direct", "vs HAProxy" (mode tcp for the tcp rows, mode http for the http ones) and "vs node-http-proxy"',
    '  divide by that row with the same connection mode; "added p50" subtracts the direct p50.',
    '- tcp mode balances per connection (as Swarm); http mode per request, over connections to the task kept open.',
    '  node-http-proxy with its defaults (no agent) opens a new connection to the task for every request: the naive baseline.',
    '- errors = connection errors (timeouts included) + non-2xx answers, over all rounds.',
    '- Every node is a process of its own (`routemesh up --nodes 3`): "same node" and "other node" differ in',
    '  which node\'s process takes the connection (node1, which runs the task, or node2); both connect to the',
    '  task over loopback, with no network hop between nodes, so the two rows should match; Swarm\'s real',
    '  cross-node cost (the ingress overlay, VXLAN) is not simulated.',
    '- The task (bench/backend.ts) runs in a process of its own, as a container\'s program does, and so do',
    '  HAProxy, nginx and the load; node-http-proxy runs in the bench\'s process.',
    '- CPU steal: the share of CPU time the hypervisor gave to other virtual machines, which a run loses.',
    '',
    '## CPU per request',
    '',
    'What the process that took the load spent (user + system time, /proc/<pid>/stat, read before and after',
    'each run above, so over the same runs, warm-up included) per request answered in the run: node1\'s',
    'process for the mesh (its tasks are processes of their own, not in it), HAProxy\'s, nginx\'s master and',
    'worker, and the bench\'s own process for node-http-proxy. On a machine whose few cores the load, the task',
    'and the proxy share, req/s follows this figure, and it moves far less than req/s with the neighbours\' load.',
    `${rounds > 1 ? 'Medians of the rounds; "CPU µs min–max" is their spread.' : 'One round: one run each.'} "CPU vs HAProxy" divides by`,
    'HAProxy\'s figure of the same layer and connection mode; "share of a core" is CPU time over the run\'s wall time.',
    '',
    formatCpuTable(summaries),
    '',
    ...context.sections,
    // With one round the runs are the table above, in another order.
    ...(rounds > 1 ? ['## Every run, in the order it ran', '', formatRoundsTable(measurements), ''] : []),
  ].join('\n');
}
