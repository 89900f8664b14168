// `npm run bench`: builds dist/ (bench/upCluster.ts), starts two 3-node clusters as `routemesh up` runs
// them, every node an OS process, with two backend tasks (tcp and http mode, bench/targets.ts), the second
// cluster with metrics off, and the peers in front of the same task (HAProxy, nginx, node-http-proxy)
// (bench/mainRuns.ts); loads every route with keep-alive, with a new connection per request and with one
// connection, in interleaved rounds (bench/schedule.ts), reading around each run the CPU time of the
// process that takes its load; then the scale section (bench/scale.ts). It prints the medians, the CPU
// per request, the targets, the scale figures and every run, and writes them to bench/results/<date>.md.
// Settings: bench/settings.ts; the load itself: bench/load.ts; the medians: bench/summary.ts; the
// targets: bench/goals.ts.
//
// The mesh runs in the node processes, as users run it; node-http-proxy in this process, and autocannon
// in a child of its own (bench/load.ts): a load generator in the proxy's event loop would take turns with
// it, slowing both and skewing the latencies it records. This process owns closing the clusters, the
// peers and the children on every exit path (bench/Resources.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { LoadRunner } from './LoadRunner.js';
import { Resources } from './Resources.js';
import { cpuTimes, describeMachine, stealPercent } from './machine.js';
import { readSettings, type BenchSettings } from './settings.js';
import { roundOrders, SCENARIOS } from './schedule.js';
import { summarize } from './summary.js';
import { formatReport } from './table.js';
import { HTTP_PUBLISHED_PORT, PUBLISHED_PORT, SERVICE } from './targets.js';
import { addressing, runRounds, startSubjects, warmPass } from './mainRuns.js';
import { buildDist } from './upCluster.js';
import { formatGoals, goals } from './goals.js';
import { converge, dnsLoad, formatScale, meshAtSize, scaleUp, type ScaleFigures } from './scale.js';

const settings = ((): BenchSettings => {
  try {
    return readSettings(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    process.exit(2);
  }
})();
const runner = new LoadRunner();
const resources = new Resources();
resources.add(runner);

resources.closeOnSignals((signal) => process.stderr.write(`bench: ${signal}, stopping the load, the clusters and the peers\n`));

async function bench(): Promise<void> {
  const { block } = settings;
  const machine = describeMachine();
  process.stderr.write('bench: building dist/ (the node processes run it)\n');
  await buildDist();
  const subjects = await startSubjects(block, resources);
  const { urls, targets, quietTargets, peerNotes } = subjects;
  for (const note of peerNotes.filter((n) => n.includes('not installed') || n.includes('no stream module'))) process.stderr.write(`bench: ${note}\n`);

  const orders = roundOrders(settings.rounds, (route) => urls[route] !== undefined);
  const say = (line: string): void => { process.stderr.write(`bench: ${line}\n`); };
  await warmPass(subjects, runner, settings, say);
  const firstCpu = cpuTimes();
  const measurements = await runRounds(orders, subjects, runner, settings, say);
  const steal = stealPercent(firstCpu, cpuTimes());

  process.stderr.write('bench: scale: DNS load\n');
  const { address: dnsAddress, port: dnsPort } = subjects.dns;
  const dnsInFlight = 32;
  const dns = [];
  for (const name of [SERVICE, `tasks.${SERVICE}`]) {
    dns.push(await dnsLoad({ address: dnsAddress, port: dnsPort, name, durationSec: settings.scale.dnsSec, inFlight: dnsInFlight }, resources));
  }
  // The scale section reuses the main clusters' addresses.
  await Promise.all(subjects.started.map((thing) => resources.release(thing)));
  const { scale } = settings;
  process.stderr.write(`bench: scale: ${scale.nodes} nodes, ${scale.services} published services, ${scale.replicas} replicas\n`);
  const up = await scaleUp({ block, nodes: scale.nodes, services: scale.services, replicas: scale.replicas }, resources);
  process.stderr.write(`bench: scale: ${scale.convergeReplicas} replicas created and removed\n`);
  const converged = await converge({ block, replicas: scale.convergeReplicas }, resources);
  const sizes = [];
  for (const nodes of scale.clusterSizes) {
    process.stderr.write(`bench: scale: the mesh of a ${nodes}-node cluster\n`);
    sizes.push(await meshAtSize(nodes, block, runner, resources, { connections: settings.connections, durationSec: settings.durationSec, warmupSec: settings.warmupSec }));
  }
  const figures: ScaleFigures = { up, converge: converged, dns, dnsInFlight, sizes };

  const date = new Date().toISOString().slice(0, 10);
  const warmup = settings.warmupSec > 0
    ? ` after a ${settings.warmupSec} s warm-up, and before the rounds ${settings.warmPassSec} s on each route through a Node process (the meshes, node-http-proxy) in each of keep-alive and new per request, unrecorded`
    : ', no warm-up';
  const rounds = settings.rounds === 1 ? '1 round' : `${settings.rounds} rounds, each running every scenario once, keep-alive first, the routes of each mode turned by one place a round`;
  const ran = SCENARIOS.filter((s) => urls[s.route] !== undefined);
  const summaries = summarize(measurements, ran);
  const report = formatReport(summaries, measurements, {
    date,
    machine,
    rounds: settings.rounds,
    stealPercent: steal,
    setup: [
      `load: autocannon in a child process, ${settings.connections} connections, pipelining ${settings.pipelining}, ` +
        `${settings.durationSec} s per scenario${warmup}; ${rounds}${settings.quick ? ' (quick mode: figures not worth quoting)' : ''}`,
      `mesh: \`routemesh up --nodes 3\` from dist/, every node an OS process of its own (\`routemesh node start\`), nodes on ${addressing(block).subnet}, the metrics-off cluster's on ${addressing(block + 3).subnet}`,
      `target: one task of bench/backend.ts (routemesh/exec, a process of its own) at ${targets.task} on ${targets.taskNode}, published on ${PUBLISHED_PORT} ` +
        `(ingress); same node = ${targets.taskNode} ${new URL(targets.sameNode).host}, other node = ${targets.otherNodeName} ${new URL(targets.otherNode).host}, ` +
        `VIP = ${new URL(targets.vip).host}`,
      `http mode: a second such task on ${targets.taskNode}, published on ${HTTP_PUBLISHED_PORT} with routemesh.lb.mode=http; ` +
        `node-http-proxy at ${new URL(urls['node-http-proxy']!).host} in front of the first task, and so are:`,
      ...peerNotes.map((note) => `  ${note}`),
      `one connection: keep-alive with a single connection, so each request waits for the one before it: the latency a proxy adds`,
      `metrics off: the same two services on a second cluster started with --metrics-port off (${new URL(quietTargets.sameNode).host}, ` +
        `${new URL(quietTargets.httpSameNode).host}), so the mesh counts nothing`,
      'new per request: every request sends `Connection: close`, so it pays for a new TCP connection and, through the mesh in tcp mode, ' +
        'a new upstream connection and a new balancer pick',
    ],
    sections: [...formatGoals(goals(summaries)), ...formatScale(figures)],
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
  await resources.closeAll();
  // A handle left open after close() would hang `npm run bench`; say so rather than wait forever.
  setTimeout(() => {
    process.stderr.write('bench: something still held the event loop 5 s after closing the cluster; exiting anyway\n');
    process.exit(process.exitCode ?? 1);
  }, 5000).unref();
}
