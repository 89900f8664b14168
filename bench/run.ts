// `npm run bench`: starts a 3-node cluster with one whoami task, loads it directly, through the mesh on
// its own node and through the mesh on another node, with and without keep-alive, in interleaved rounds
// (bench/schedule.ts), then prints the medians and every run, and writes them to bench/results/<date>.md.
// Settings: bench/settings.ts; the load itself: bench/load.ts; the medians: bench/summary.ts.
//
// The cluster stays in this process and autocannon runs in a child per scenario, not the reverse: the
// cluster (its mesh and its in-process whoami task) is the system under test, and a load generator in
// the same event loop would take turns with it, slowing both and skewing the latencies it records.
// Keeping the cluster here also keeps one owner for closing it, and the children, on every exit path.
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from '../src/engine/index.js';
import { LoadRunner } from './LoadRunner.js';
import { cpuTimes, describeMachine, stealPercent } from './machine.js';
import { readSettings, type BenchSettings } from './settings.js';
import { roundOrders, SCENARIOS } from './schedule.js';
import { summarize } from './summary.js';
import { formatReport, ROUTE_LABEL, type Measurement, type Route } from './table.js';
import { deployWhoami, HTTP_PUBLISHED_PORT, PUBLISHED_PORT } from './targets.js';
import { startNaiveProxy, type NaiveProxy } from './naiveProxy.js';

const settings = ((): BenchSettings => {
  try {
    return readSettings(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(2);
  }
})();
const runner = new LoadRunner();
let cluster: Cluster | undefined;
/** The same cluster with metrics off (--metrics-port off), for what counting costs. */
let quiet: Cluster | undefined;
let naive: NaiveProxy | undefined;

async function shutDown(): Promise<void> {
  runner.killAll();
  await naive?.close();
  naive = undefined;
  const closing = [cluster, quiet];
  cluster = quiet = undefined;
  await Promise.all(closing.map((c) => c?.close()));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, stopping the load and the cluster\n`);
    void shutDown().finally(() => process.exit(130));
  });
}

async function bench(): Promise<void> {
  const { block } = settings;
  const machine = describeMachine();
  cluster = await startCluster({
    subnet: `127.${block}.0.0/24`,
    taskSubnet: `127.${block + 1}.0.0/16`,
    vipSubnet: `127.${block + 2}.0.0/16`,
    dns: `127.${block}.0.250`,
    dnsUpstreams: [],
  });
  const targets = await deployWhoami(cluster);
  quiet = await startCluster({
    subnet: `127.${block + 3}.0.0/24`,
    taskSubnet: `127.${block + 4}.0.0/16`,
    vipSubnet: `127.${block + 5}.0.0/16`,
    dns: `127.${block + 3}.0.250`,
    dnsUpstreams: [],
    metricsPort: undefined,
  });
  const quietTargets = await deployWhoami(quiet);
  // In this process too, like the mesh it is compared with.
  naive = await startNaiveProxy(targets.direct, `127.${block}.0.200`);
  const urls: Record<Route, string> = {
    direct: targets.direct, 'same node': targets.sameNode, 'other node': targets.otherNode,
    'http same node': targets.httpSameNode, 'http other node': targets.httpOtherNode, 'node-http-proxy': naive.url,
    'same node, no metrics': quietTargets.sameNode, 'http same node, no metrics': quietTargets.httpSameNode,
  };

  const measurements: Measurement[] = [];
  const orders = roundOrders(settings.rounds);
  const firstCpu = cpuTimes();
  for (const [r, order] of orders.entries()) {
    for (const [i, { route, mode }] of order.entries()) {
      process.stderr.write(`bench: round ${r + 1}/${orders.length}, run ${i + 1}/${order.length}: ${ROUTE_LABEL[route]}, ${mode}: ` +
        `${urls[route]} for ${settings.durationSec} s\n`);
      const cpuBefore = cpuTimes();
      const result = await runner.run(urls[route], {
        connections: settings.connections,
        pipelining: settings.pipelining,
        durationSec: settings.durationSec,
        warmupSec: settings.warmupSec,
        newConnectionPerRequest: mode === 'new per request',
      });
      measurements.push({ route, mode, round: r + 1, position: i + 1, result, stealPercent: stealPercent(cpuBefore, cpuTimes()) });
    }
  }
  const steal = stealPercent(firstCpu, cpuTimes());

  const date = new Date().toISOString().slice(0, 10);
  const warmup = settings.warmupSec > 0 ? ` after a ${settings.warmupSec} s warm-up` : ', no warm-up';
  const rounds = settings.rounds === 1 ? '1 round' : `${settings.rounds} rounds, each running every scenario once, keep-alive first, the routes of each mode turned by one place a round`;
  const report = formatReport(summarize(measurements, SCENARIOS), measurements, {
    date,
    machine,
    rounds: settings.rounds,
    stealPercent: steal,
    setup: [
      `load: autocannon in a child process, ${settings.connections} connections, pipelining ${settings.pipelining}, ` +
        `${settings.durationSec} s per scenario${warmup}; ${rounds}${settings.quick ? ' (quick mode: figures not worth quoting)' : ''}`,
      `target: one traefik/whoami task at ${new URL(targets.direct).host} on ${targets.taskNode}, published on ${PUBLISHED_PORT} ` +
        `(ingress); same node = ${targets.taskNode} ${new URL(targets.sameNode).host}, other node = ${targets.otherNodeName} ${new URL(targets.otherNode).host}`,
      `http mode: a second whoami task on ${targets.taskNode}, published on ${HTTP_PUBLISHED_PORT} with routemesh.lb.mode=http; ` +
        `node-http-proxy at ${new URL(naive.url).host} in front of the first task`,
      `metrics off: the same two services on a second cluster started with --metrics-port off (${new URL(quietTargets.sameNode).host}, ` +
        `${new URL(quietTargets.httpSameNode).host}), so the mesh counts nothing`,
      'new per request: every request sends `Connection: close`, so it pays for a new TCP connection and, through the mesh in tcp mode, ' +
        'a new upstream connection and a new balancer pick',
    ],
  });
  process.stdout.write(report);

  if (!settings.noWrite) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    await mkdir(dir, { recursive: true });
    const file = `${dir}${date}.md`;
    await writeFile(file, report);
    process.stderr.write(`bench: written to ${file}\n`);
  }
}

try {
  await bench();
} catch (error) {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await shutDown();
  // A handle left open after close() would hang `npm run bench`; say so rather than wait forever.
  setTimeout(() => {
    process.stderr.write('bench: something still held the event loop 5 s after closing the cluster; exiting anyway\n');
    process.exit(process.exitCode ?? 1);
  }, 5000).unref();
}
