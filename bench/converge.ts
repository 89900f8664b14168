// The convergence child: a 3-node cluster in a fresh process creates one service of `replicas`
// traefik/whoami tasks, then scales it to 0, while bench/pinger.ts (a process of its own, so the
// cluster's event loop cannot hide its stalls) times GET /_ping; prints one line of ConvergeResult JSON.
// Usage: node --import tsx bench/converge.ts '<ConvergeJob as JSON>'
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../src/engine/index.js';
import { runChild } from './childMain.js';
import type { ConvergeJob, ConvergeResult } from './protocol.js';
import { engineApi, startClusterAt } from './targets.js';
import { percentile } from './summary.js';

const pingerScript = fileURLToPath(new URL('./pinger.ts', import.meta.url));

/** Polls the store in-process: asking the API for 5,000 tasks would itself be the load being measured. */
async function until(check: () => boolean, what: string, timeoutMs = 600_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function measure(job: ConvergeJob): Promise<ConvergeResult> {
  const cluster: Cluster = await startClusterAt(job.block, { nodes: 3 });
  const pinger = spawn(process.execPath, ['--import', 'tsx', pingerScript, cluster.nodes[0]!.apiUrl], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  pinger.stdout!.on('data', (chunk) => { out += chunk; });
  const pingerDone = new Promise<void>((resolve) => pinger.once('exit', () => resolve()));
  try {
    const store = cluster.engines[0]!.requireManager().store;
    const manager = cluster.nodes[0]!.apiUrl;
    let started = performance.now();
    const created = await engineApi<{ ID: string; message?: string }>(manager, 'POST', '/services/create', {
      Name: 'many', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } }, Mode: { Replicated: { Replicas: job.replicas } },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    });
    if (created.status !== 201) throw new Error(`creating the service answered ${created.status}: ${created.body.message ?? ''}`);
    const runningCount = (): number => store.tasksOfService(created.body.ID).filter((t) => t.Status.State === 'running').length;
    await until(() => runningCount() === job.replicas, `${job.replicas} tasks running`);
    const convergeMs = performance.now() - started;

    const service = store.service(created.body.ID)!;
    started = performance.now();
    const scaled = await engineApi(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`,
      { ...service.Spec, Mode: { Replicated: { Replicas: 0 } } });
    if (scaled.status !== 200) throw new Error(`scaling the service to 0 answered ${scaled.status}`);
    await until(() => store.tasksOfService(service.ID).length === 0, 'every task removed');
    const removeMs = performance.now() - started;

    pinger.stdin!.end();
    await pingerDone;
    const latencies = (JSON.parse(out.trim()) as number[]).sort((a, b) => a - b);
    return {
      replicas: job.replicas, convergeMs, removeMs, pings: latencies.length,
      pingP50Ms: percentile(latencies, 0.5), pingP99Ms: percentile(latencies, 0.99), pingMaxMs: latencies.at(-1) ?? 0,
    };
  } finally {
    pinger.kill();
    await cluster.close();
  }
}

await runChild('converge.ts', measure);
