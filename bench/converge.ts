// The convergence child: a 3-node cluster in a fresh process creates one service of `replicas`
// traefik/whoami tasks, updates all of them at once (Parallelism 0), drains node3, then scales the service
// to 0, while bench/pinger.ts (a process of its own, so the cluster's event loop cannot hide its stalls)
// times GET /_ping in each phase; prints one line of ConvergeResult JSON.
// Usage: node --import tsx bench/converge.ts '<ConvergeJob as JSON>'
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../src/engine/index.js';
import { isTerminal } from '../src/swarm/index.js';
import { runChild } from './childMain.js';
import type { ConvergeJob, ConvergeResult, PingFigures } from './protocol.js';
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

function figures(latencies: number[] = []): PingFigures {
  const sorted = latencies.sort((a, b) => a - b);
  return { pings: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? 0 };
}

async function measure(job: ConvergeJob): Promise<ConvergeResult> {
  const cluster: Cluster = await startClusterAt(job.block, { nodes: 3 });
  const pinger = spawn(process.execPath, ['--import', 'tsx', pingerScript, cluster.nodes[0]!.apiUrl], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  pinger.stdout!.on('data', (chunk) => { out += chunk; });
  const pingerDone = new Promise<void>((resolve) => pinger.once('exit', () => resolve()));
  try {
    // The pinger's own start (loading TypeScript) must not eat into the phase it times.
    await until(() => out.startsWith('ready\n') || pinger.exitCode !== null, 'the pinger to start', 60_000);
    if (pinger.exitCode !== null) throw new Error('the pinger exited before its first ping');
    const store = cluster.engines[0]!.requireManager().store;
    const manager = cluster.nodes[0]!.apiUrl;
    pinger.stdin!.write('create\n');
    let started = performance.now();
    const created = await engineApi<{ ID: string; message?: string }>(manager, 'POST', '/services/create', {
      Name: 'many', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } }, Mode: { Replicated: { Replicas: job.replicas } },
      UpdateConfig: { Parallelism: 0, Monitor: 0 },
      EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080 }] },
    });
    if (created.status !== 201) throw new Error(`creating the service answered ${created.status}: ${created.body.message ?? ''}`);
    const runningCount = (): number => store.tasksOfService(created.body.ID).filter((t) => t.Status.State === 'running').length;
    await until(() => runningCount() === job.replicas, `${job.replicas} tasks running`);
    const convergeMs = performance.now() - started;

    let service = store.service(created.body.ID)!;
    pinger.stdin!.write('update\n');
    started = performance.now();
    const template = { ...service.Spec.TaskTemplate, ContainerSpec: { ...service.Spec.TaskTemplate.ContainerSpec, Env: ['ROUND=2'] } };
    const updated = await engineApi(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, { ...service.Spec, TaskTemplate: template });
    if (updated.status !== 200) throw new Error(`updating the service answered ${updated.status}`);
    await until(() => store.service(service.ID)!.UpdateStatus?.State === 'completed', 'the update to complete');
    const updateMs = performance.now() - started;

    const node3 = cluster.engines[0]!.requireManager().resolveNode('node3');
    pinger.stdin!.write('drain\n');
    started = performance.now();
    const drained = await engineApi(manager, 'POST', `/nodes/${node3.ID}/update?version=${node3.Version.Index}`, { ...node3.Spec, Availability: 'drain' });
    if (drained.status !== 200) throw new Error(`draining node3 answered ${drained.status}`);
    await until(() => store.tasksOfNode(node3.ID).every((t) => t.Status.State === 'shutdown') && runningCount() === job.replicas, 'node3 drained');
    const drainMs = performance.now() - started;

    service = store.service(service.ID)!;
    pinger.stdin!.write('remove\n');
    started = performance.now();
    const scaled = await engineApi(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`,
      { ...service.Spec, Mode: { Replicated: { Replicas: 0 } } });
    if (scaled.status !== 200) throw new Error(`scaling the service to 0 answered ${scaled.status}`);
    // The update's and the drain's replaced tasks stay as history; every task that ran is gone.
    await until(() => store.tasksOfService(service.ID).every((t) => isTerminal(t.Status.State)), 'every task removed');
    const removeMs = performance.now() - started;

    pinger.stdin!.end();
    await pingerDone;
    const phases = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number[]>;
    return {
      replicas: job.replicas, convergeMs, updateMs, drainMs, removeMs, createPings: figures(phases['create']),
      updatePings: figures(phases['update']), drainPings: figures(phases['drain']), removePings: figures(phases['remove']),
    };
  } finally {
    pinger.kill();
    await cluster.close();
  }
}

await runChild('converge.ts', measure);
