// `node --import tsx bench/cpu-per-request.ts [--quick]`: `npm run bench`'s CPU-per-request table alone,
// from the same subjects and runs (bench/mainRuns.ts): only the routes whose CPU it reads (the mesh's tcp
// and http mode on node1's process, with metrics and without, HAProxy, nginx, node-http-proxy), with
// keep-alive and a new connection per request, in interleaved rounds; no other route, no one-connection
// runs, no scale section, so it takes a third of the time. The same settings as the bench (BENCH_BLOCK,
// BENCH_ROUNDS, BENCH_DURATION, BENCH_WARMUP); it prints and writes nothing else.
import { LoadRunner } from './LoadRunner.js';
import { runRounds, startSubjects, warmPass } from './mainRuns.js';
import { describeMachine } from './machine.js';
import { Resources } from './Resources.js';
import { roundOrders, SCENARIOS, type Scenario } from './schedule.js';
import { readSettings } from './settings.js';
import { summarize } from './summary.js';
import { formatCpuTable } from './table.js';
import { buildDist } from './upCluster.js';

const say = (line: string): void => { process.stderr.write(`cpu-per-request: ${line}\n`); };
const resources = new Resources();
resources.closeOnSignals((signal) => say(`${signal}, stopping the clusters and the peers`));
const runner = resources.add(new LoadRunner());
try {
  const settings = readSettings(process.argv.slice(2), process.env);
  const machine = describeMachine();
  await buildDist();
  const subjects = await startSubjects(settings.block, resources);
  const measured = (s: Scenario): boolean =>
    subjects.cpu[s.route] !== undefined && subjects.urls[s.route] !== undefined && s.mode !== 'one connection';
  const orders = roundOrders(settings.rounds, (route) => subjects.urls[route] !== undefined).map((order) => order.filter(measured));
  await warmPass(subjects, runner, settings, say);
  const measurements = await runRounds(orders, subjects, runner, settings, say);
  process.stdout.write([
    `${machine.node}, ${machine.cpu}, ${machine.cores} cores; 1-min load average ${machine.loadBefore.toFixed(2)} before the run; ` +
      `${settings.rounds} round(s), ${settings.connections} connections, ${settings.durationSec} s per run after ${settings.warmupSec} s of warm-up` +
      `${settings.quick ? ' (quick mode: figures not worth quoting)' : ''}.`,
    '',
    formatCpuTable(summarize(measurements, SCENARIOS.filter(measured))),
    '',
  ].join('\n'));
} catch (error) {
  say(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await resources.closeAll();
}
