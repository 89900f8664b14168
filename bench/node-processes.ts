// `node --import tsx bench/node-processes.ts [--quick]`: the mesh with every node an OS process of its own
// (`routemesh up`, as users run it, from dist/, which it builds first) beside the same 3-node cluster in
// this process (startCluster, as `up --in-process`): req/s through node1 and spread over the 3 nodes'
// published ports, in interleaved rounds (medians, min–max); then, a few times, a 3-node `up --demo` as
// `npm start` runs it, timed from its spawn to the first answer through the mesh, the memory of each
// idle node process and of `up` once it has settled, and `up --demo` again on the same data directory. Figures: bench/README.md, "Nodes as processes".
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { LoadRunner } from './LoadRunner.js';
import { childrenOf, commandLine, cpuOf, cpuPerRequest, describeMachine, ownCpu } from './machine.js';
import type { LoadResult } from './protocol.js';
import { Resources } from './Resources.js';
import { median } from './summary.js';
import { deployBackend, startClusterAt, tasksRunning, waitForAnswers } from './targets.js';
import { buildDist, startUp, type Addressing, type Up } from './upCluster.js';

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
/**
 * Three /16s from 127.B: the in-process cluster's nodes on 127.B.0.0/24, the processes' on 127.B.1.0/24,
 * the demo runs' on 127.B.2.0/24, each with its quarter of 127.(B+1) for tasks and of 127.(B+2) for VIPs.
 */
const BLOCK = Number(process.env.BENCH_BLOCK ?? 150);
const ROUNDS = Number(process.env.BENCH_ROUNDS || (quick ? 1 : 3));
const DURATION_SEC = Number(process.env.BENCH_DURATION || (quick ? 0.5 : 2));
const WARMUP_SEC = Number(process.env.BENCH_WARMUP ?? (quick ? 0 : 0.5));
const START_RUNS = Number(process.env.BENCH_START_RUNS || (quick ? 1 : 5));
/** An idle node's memory, read this long after `up --demo` printed its table. */
const SETTLE_MS = quick ? 1000 : 10_000;
const SERVICE = 'bench';
const PORT = 8080;
const DEMO_PORT = 8080;

/** Where cluster `i` (0: in-process, 1: processes, 2: the demo runs) lives; nothing listens on the upstream. */
function addressing(i: number): Addressing {
  return {
    subnet: `127.${BLOCK}.${i}.0/24`,
    taskSubnet: `127.${BLOCK + 1}.${i * 64}.0/18`,
    vipSubnet: `127.${BLOCK + 2}.${i * 64}.0/18`,
    dns: `127.${BLOCK}.${i}.250`,
    upstream: `127.${BLOCK}.${i}.253`,
  };
}
const nodeAddress = (i: number, n: number): string => `127.${BLOCK}.${i}.${n}`;

/** One GET on a connection of its own; true on a 200. */
function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 500 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

interface Memory {
  /** Resident set, what `ps` shows and the 80 MB goal names: with the node binary's pages, which every process maps and the kernel shares. */
  rssMiB: number;
  /** Of it, anonymous memory (heap, stacks, malloc): the part a process has to itself. */
  anonMiB: number;
  /** Proportional set size: shared pages divided among the processes that map them. */
  pssMiB: number;
}

function memoryOf(pid: number): Memory {
  const field = (text: string, name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { rssMiB: field(status, 'VmRSS'), anonMiB: field(status, 'RssAnon'), pssMiB: field(rollup, 'Pss') };
}

type Route = 'in-process, node1' | 'in-process, 3 nodes' | 'processes, node1' | 'processes, 3 nodes';
type Mode = 'keep-alive' | 'new per request';
/** `cpuUs`: CPU time of the nodes (this process, or the node processes) per request, warm-up included. */
interface Run { route: Route; mode: Mode; round: number; result: LoadResult; cpuUs: number }

const resources = new Resources();
resources.closeOnSignals((signal) => process.stderr.write(`node-processes: ${signal}, stopping the clusters\n`));
const runner = resources.add(new LoadRunner());
const say = (line: string): void => { process.stderr.write(`node-processes: ${line}\n`); };

async function throughput(): Promise<Run[]> {
  // The same cluster both ways: 3 nodes, a global service of bench/backend.ts (a task, a process, on each node).
  const a = addressing(0);
  const inProcess = resources.add(await startClusterAt(BLOCK, { subnet: a.subnet, taskSubnet: a.taskSubnet, vipSubnet: a.vipSubnet, dns: a.dns }));
  await deployBackend(inProcess.nodes[0]!.apiUrl, SERVICE, PORT, {}, undefined, true);
  await tasksRunning(inProcess.nodes[0]!.apiUrl, SERVICE, 3);
  await Promise.all(inProcess.engines.map((e) => e.mesh?.settled()));
  const up = resources.add(startUp(addressing(1), 3, []));
  await up.ready;
  const manager = `http://${nodeAddress(1, 1)}:2375`;
  await deployBackend(manager, SERVICE, PORT, {}, undefined, true);
  await tasksRunning(manager, SERVICE, 3);
  const urls = (i: number): string[] => [1, 2, 3].map((n) => `http://${nodeAddress(i, n)}:${PORT}/`);
  await waitForAnswers([...urls(0), ...urls(1)]);
  const targets: Record<Route, string | string[]> = {
    'in-process, node1': urls(0)[0]!, 'in-process, 3 nodes': urls(0),
    'processes, node1': urls(1)[0]!, 'processes, 3 nodes': urls(1),
  };
  // The nodes' CPU time, what req/s follows on a machine whose few cores the load and the tasks share too:
  // this process's (the load runs in a child), or the node processes' (their tasks are their children).
  const nodesCpu = (): number => childrenOf(up.child.pid!).reduce((sum, pid) => sum + cpuOf(pid), 0);
  const routes = Object.keys(targets) as Route[];
  const runs: Run[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of ['keep-alive', 'new per request'] as const) {
      // Each round the routes move up one place, as bench/schedule.ts turns the main bench's.
      for (const [i] of routes.entries()) {
        const route = routes[(i + round - 1) % routes.length]!;
        say(`round ${round}/${ROUNDS}: ${route}, ${mode}`);
        const cpu = route.startsWith('in-process') ? ownCpu : nodesCpu;
        const before = cpu();
        const result = await runner.run(targets[route], { connections: 10, pipelining: 1, durationSec: DURATION_SEC, warmupSec: WARMUP_SEC, newConnectionPerRequest: mode === 'new per request' });
        runs.push({ route, mode, round, result, cpuUs: cpuPerRequest(cpu() - before, result) });
      }
    }
  }
  await Promise.all([resources.release(inProcess), resources.release(up)]);
  return runs;
}

/** `restart`: the restart's first answer, or why there was none (a failed restart is a finding, not the end of the run). */
interface StartRun { firstAnswerMs: number; tableMs: number; restart: number | string; nodes: (Memory & { name: string })[]; up: Memory }

/** From `up`'s spawn to the first 200 through node1's published port (a new connection every 10 ms). */
async function firstAnswer(up: Up): Promise<number> {
  const url = `http://${nodeAddress(2, 1)}:${DEMO_PORT}/`;
  const deadline = Date.now() + 30_000;
  while (!(await answers(url))) {
    if (up.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`${url} never answered; up's last line: ${up.stderr().trim().split('\n').at(-1) ?? ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - up.spawnedAt;
}

/**
 * `up --nodes 3 --demo` as `npm start` runs it, with a new data directory: its first answer, and its
 * memory once idle; then, after a clean stop, `up --demo` again on the same directory (the swarm and
 * my-web restored, its 6 tasks started again): its first answer.
 */
async function startAndMemory(): Promise<StartRun> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'routemesh-bench-'));
  try {
    const up = resources.add(startUp(addressing(2), 3, ['--demo'], dir));
    let fresh: Omit<StartRun, 'restart'>;
    try {
      const firstAnswerMs = await firstAnswer(up);
      await up.ready;
      const tableMs = performance.now() - up.spawnedAt;
      // Idle: the demo's 6 tasks running, nothing asked of it, for SETTLE_MS (heartbeats only).
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const pid = up.child.pid!;
      const nodes = childrenOf(pid).map((child) => ({ name: commandLine(child), ...memoryOf(child) }));
      fresh = { firstAnswerMs, tableMs, nodes, up: memoryOf(pid) };
    } finally {
      await resources.release(up);
    }
    const again = resources.add(startUp(addressing(2), 3, ['--demo'], dir));
    try {
      return { ...fresh, restart: await firstAnswer(again).catch((error: Error) => error.message) };
    } finally {
      await resources.release(again);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fixed = (value: number, digits = 0): string => value.toFixed(digits);
const spread = (values: number[], digits = 0): string =>
  `${fixed(median(values), digits)} (${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)})`;

try {
  const machine = describeMachine();
  await buildDist();
  const runs = await throughput();
  const starts: StartRun[] = [];
  for (let i = 0; i < START_RUNS; i++) {
    say(`up --nodes 3 --demo, run ${i + 1}/${START_RUNS}`);
    starts.push(await startAndMemory());
  }
  const lines = [
    `# Nodes as processes, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `${machine.node}, ${machine.cpu}, ${machine.cores} cores, ${machine.platform}; 1-min load average ${machine.loadBefore.toFixed(2)} before the run` +
      `${quick ? ' (quick mode: figures not worth quoting)' : ''}.`,
    '',
    `Mesh req/s, a global service of bench/backend.ts on 3 nodes (a task on each): medians of ${ROUNDS} interleaved round(s), ` +
      `10 connections, ${DURATION_SEC} s each after ${WARMUP_SEC} s of warm-up; "3 nodes" spreads the connections over the 3 nodes' published ports.`,
    '',
    '| cluster, load through | connections | req/s | req/s min–max | p50 ms | p99 ms | nodes\' CPU µs per request | errors |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const mode of ['keep-alive', 'new per request'] as const) {
    for (const route of ['in-process, node1', 'in-process, 3 nodes', 'processes, node1', 'processes, 3 nodes'] as const) {
      const ran = runs.filter((r) => r.route === route && r.mode === mode);
      const results = ran.map((r) => r.result);
      const rps = results.map((r) => r.reqPerSec);
      lines.push(`| ${route} | ${mode} | ${fixed(median(rps))} | ${fixed(Math.min(...rps))}–${fixed(Math.max(...rps))} | ` +
        `${median(results.map((r) => r.p50Ms)).toFixed(3)} | ${median(results.map((r) => r.p99Ms)).toFixed(3)} | ${spread(ran.map((r) => r.cpuUs), 1)} | ` +
        `${results.reduce((sum, r) => sum + r.errors + r.non2xx, 0)} |`);
    }
  }
  const nodes = starts.flatMap((s) => s.nodes);
  const restarted = starts.map((s) => s.restart).filter((r): r is number => typeof r === 'number');
  const failedRestarts = starts.map((s) => s.restart).filter((r): r is string => typeof r === 'string');
  lines.push('',
    `\`up --nodes 3 --demo\` (fresh data directory), ${START_RUNS} run(s): median (min–max).`, '',
    `- spawn to the first 200 through node1:${DEMO_PORT}: ${spread(starts.map((s) => s.firstAnswerMs))} ms; to its table printed: ${spread(starts.map((s) => s.tableMs))} ms`,
    `- again on the same data directory after a clean stop (the swarm restored, my-web's 6 tasks started again), spawn to the first 200: ` +
      `${restarted.length ? `${spread(restarted)} ms` : 'none'}${failedRestarts.length ? ` (failed in ${failedRestarts.length} of ${starts.length}: ${failedRestarts.join('; ')})` : ''}`,
    `- each idle node process (${nodes.length} over the runs, ${SETTLE_MS / 1000} s after the table): RSS ${spread(nodes.map((n) => n.rssMiB), 1)} MiB, ` +
      `of it anonymous ${spread(nodes.map((n) => n.anonMiB), 1)} MiB; PSS ${spread(nodes.map((n) => n.pssMiB), 1)} MiB`,
    `- up, the supervisor: RSS ${spread(starts.map((s) => s.up.rssMiB), 1)} MiB, anonymous ${spread(starts.map((s) => s.up.anonMiB), 1)} MiB; ` +
      `PSS ${spread(starts.map((s) => s.up.pssMiB), 1)} MiB`,
    '');
  process.stdout.write(`${lines.join('\n')}\n`);
} catch (error) {
  say(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await resources.closeAll();
}
