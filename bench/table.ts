// Turns measurements into the bench report: one markdown table (padded, so it reads the same in a
// terminal and in bench/results/*.md), with the machine, the settings and how to read it around it.
import type { Machine } from './machine.js';
import type { LoadResult } from './protocol.js';

export type Route = 'direct' | 'same node' | 'other node';
export type ConnectionMode = 'keep-alive' | 'new per request';

export interface Measurement {
  route: Route;
  mode: ConnectionMode;
  result: LoadResult;
}

export const ROUTE_LABEL: Record<Route, string> = {
  direct: 'direct to task',
  'same node': 'mesh, same node',
  'other node': 'mesh, other node',
};

export interface ReportContext {
  date: string;
  machine: Machine;
  /** One line each on how the load was made and what the addresses were. */
  setup: string[];
}

const HEADER = ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs direct', 'added p50 ms', 'errors'];
/** Columns right-aligned because they hold numbers. */
const NUMERIC = new Set([2, 3, 4, 5, 6, 7]);

function ms(value: number): string {
  return value.toFixed(value < 10 ? 3 : 1);
}

/** Each row is compared with the direct run that used the same connection mode. */
function cells(m: Measurement, all: Measurement[]): string[] {
  const direct = all.find((d) => d.route === 'direct' && d.mode === m.mode)?.result;
  const r = m.result;
  const ratio = direct && direct.reqPerSec > 0 ? `${(r.reqPerSec / direct.reqPerSec).toFixed(2)}×` : '–';
  const added = direct ? `${r.p50Ms - direct.p50Ms >= 0 ? '+' : ''}${ms(r.p50Ms - direct.p50Ms)}` : '–';
  return [
    ROUTE_LABEL[m.route], m.mode, r.reqPerSec.toFixed(0), ms(r.p50Ms), ms(r.p99Ms),
    m.route === 'direct' ? '1.00×' : ratio, m.route === 'direct' ? '–' : added,
    String(r.errors + r.non2xx),
  ];
}

export function formatTable(measurements: Measurement[]): string {
  const rows = [HEADER, ...measurements.map((m) => cells(m, measurements))];
  const widths = HEADER.map((_, col) => Math.max(...rows.map((row) => [...row[col]!].length)));
  const line = (row: string[]) =>
    `| ${row.map((cell, col) => (NUMERIC.has(col) ? cell.padStart(widths[col]!) : cell.padEnd(widths[col]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, col) => (NUMERIC.has(col) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(HEADER), rule, ...rows.slice(1).map(line)].join('\n');
}

export function formatReport(measurements: Measurement[], context: ReportContext): string {
  const { machine } = context;
  return [
    `# routemesh bench, ${context.date}`,
    '',
    `Node ${machine.node} · ${machine.cpu} · ${machine.cores} cores · ${machine.platform} · ` +
      `1-min load average before the run: ${machine.loadBefore.toFixed(2)}`,
    '',
    ...context.setup.map((s) => `- ${s}`),
    '',
    formatTable(measurements),
    '',
    '- "req/s vs direct" divides by the direct run with the same connection mode; "added p50" subtracts its p50.',
    '- errors = connection errors (timeouts included) + non-2xx answers.',
    '- All nodes of this simulated cluster live in one process: "same node" and "other node" differ only in',
    '  which node\'s listener takes the connection. There is no network hop between nodes, so the two rows',
    '  should match; Swarm\'s real cross-node cost (the ingress overlay, VXLAN) is not simulated.',
    '- The whoami task runs in that same process too, so through the mesh one event loop forwards the bytes',
    '  and serves the request; "direct" pays only for the latter.',
    '',
  ].join('\n');
}
