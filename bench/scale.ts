// The bench's scale section: a large cluster brought up in a child of its own (bench/scaleUp.ts), DNS
// queries per second from a load child (bench/dnsLoad.ts) against the main cluster's server, and mesh
// req/s through node1 of clusters of 1, 3 and 10 nodes, each with one backend task per node. One run
// each, not interleaved rounds: these figures show how the mesh grows, not small differences.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoadRunner } from './LoadRunner.js';
import type { ConvergeJob, ConvergeResult, DnsLoadJob, DnsLoadResult, LoadResult, PingFigures, ScaleUpJob, ScaleUpResult } from './protocol.js';
import type { Resources } from './Resources.js';
import { deployBackend, startClusterAt, tasksRunning, waitForAnswers } from './targets.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD_LIMIT_MS = 180_000;

/** Runs `node --import tsx bench/<script> '<job>'` and parses the one JSON line it prints. */
function spawnChild<T>(script: string, job: unknown, resources: Resources): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(`./${script}`, import.meta.url)), JSON.stringify(job)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'],
    });
    // A child still running when the bench stops is stopped with it (its tasks run in its own process).
    const handle = resources.add({ close: () => { child.kill('SIGTERM'); } });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      void resources.release(handle);
      if (code !== 0) {
        const overLimit = signal === 'SIGKILL' ? ` (over its ${CHILD_LIMIT_MS / 1000} s limit?)` : '';
        return reject(new Error(`bench/${script} ended with ${signal ?? `exit code ${code}`}${overLimit}`));
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as T);
      } catch {
        reject(new Error(`bench/${script} printed no JSON result: ${out.slice(0, 200)}`));
      }
    });
  });
}

export const scaleUp = (job: ScaleUpJob, resources: Resources): Promise<ScaleUpResult> => spawnChild('scaleUp.ts', job, resources);
export const converge = (job: ConvergeJob, resources: Resources): Promise<ConvergeResult> => spawnChild('converge.ts', job, resources);
export const dnsLoad = (job: DnsLoadJob, resources: Resources): Promise<DnsLoadResult> => spawnChild('dnsLoad.ts', job, resources);

export interface ClusterSizeRun {
  nodes: number;
  keepAlive: LoadResult;
  newPerRequest: LoadResult;
}

/** Mesh req/s through node1 of a cluster of `nodes` nodes with a global backend service (one task per node). */
export async function meshAtSize(nodes: number, block: number, runner: LoadRunner, resources: Resources,
  load: { connections: number; durationSec: number; warmupSec: number }): Promise<ClusterSizeRun> {
  const cluster = resources.add(await startClusterAt(block, { nodes }));
  try {
    const manager = cluster.nodes[0]!.apiUrl;
    await deployBackend(manager, 'sized', 8080, {}, undefined, true);
    // Every node's task running, and node1's pool holding them all: round robin then reaches each.
    await tasksRunning(manager, 'sized', nodes);
    await Promise.all(cluster.engines.map((e) => e.mesh?.settled()));
    const url = `http://${cluster.nodes[0]!.address}:8080/`;
    await waitForAnswers([url]);
    const options = { ...load, pipelining: 1 };
    return {
      nodes,
      keepAlive: await runner.run(url, { ...options, newConnectionPerRequest: false }),
      newPerRequest: await runner.run(url, { ...options, newConnectionPerRequest: true }),
    };
  } finally {
    await resources.release(cluster);
  }
}

const fixed = (value: number, digits = 0): string => value.toFixed(digits);

export interface ScaleFigures {
  up: ScaleUpResult;
  converge: ConvergeResult;
  dns: DnsLoadResult[];
  dnsInFlight: number;
  sizes: ClusterSizeRun[];
}

function pingText({ pings, p50Ms, p99Ms, maxMs }: PingFigures): string {
  return `p50 ${p50Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms, max ${fixed(maxMs)} ms (${pings} pings)`;
}

export function formatScale({ up, converge, dns, dnsInFlight, sizes }: ScaleFigures): string[] {
  return [
    '## Scale',
    '',
    'One run of each, not interleaved: how the mesh grows, not small differences.',
    '',
    `- **${up.nodes} nodes, ${up.listeners / up.nodes} published services, ${up.listeners} listeners** (a fresh process, bench/scaleUp.ts): ` +
      `nodes up in ${fixed(up.startMs)} ms; every listener open ${fixed(up.listenersMs)} ms after the first create; ` +
      `${fixed(up.rssMiB)} MiB more resident memory (heap ${fixed(up.heapMiB)} MiB) than before the cluster.`,
    `- **A service of ${up.replicas} replicas** on those nodes: all running ${fixed(up.convergeMs)} ms after its create.`,
    `- **${converge.replicas} replicas on 3 nodes** (a fresh process, bench/converge.ts): all running ${fixed(converge.convergeMs)} ms ` +
      `after the create, all replaced ${fixed(converge.updateMs)} ms after a Parallelism 0 update, node3's replaced elsewhere ` +
      `${fixed(converge.drainMs)} ms after its drain, all gone ${fixed(converge.removeMs)} ms after a scale to 0; meanwhile the engine ` +
      `API's GET /_ping from another process: ${pingText(converge.createPings)} while creating, ${pingText(converge.updatePings)} while ` +
      `updating, ${pingText(converge.drainPings)} while draining, ${pingText(converge.removePings)} while removing.`,
    `- **DNS** (bench/dnsLoad.ts, ${dnsInFlight} queries in flight over UDP): ` +
      dns.map((d) => `\`${d.name}\` ${fixed(d.qps)} answers/s, p50 ${d.p50Ms.toFixed(3)} ms, p99 ${d.p99Ms.toFixed(3)} ms` +
        `${d.failed || d.lost ? ` (${d.failed} failed, ${d.lost} unanswered)` : ''}`).join('; ') + '.',
    '',
    'Mesh through node1, a global backend service (one task per node, round robin over all of them):',
    '',
    '| nodes | keep-alive req/s | keep-alive p99 ms | new per request req/s | new per request p99 ms |',
    '|------:|-----------------:|------------------:|----------------------:|-----------------------:|',
    ...sizes.map((s) => `| ${s.nodes} | ${fixed(s.keepAlive.reqPerSec)} | ${s.keepAlive.p99Ms.toFixed(3)} | ` +
      `${fixed(s.newPerRequest.reqPerSec)} | ${s.newPerRequest.p99Ms.toFixed(3)} |`),
    '',
  ];
}

