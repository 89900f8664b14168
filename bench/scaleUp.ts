// The scale child: brings up a large cluster in a fresh process, so its memory is the cluster's alone -
// `nodes` nodes, then `services` published services of one traefik/whoami task each (nodes × services
// listeners), then one service of `replicas` tasks - timing each step, and prints one line of
// ScaleUpResult JSON; usage: node --import tsx bench/scaleUp.ts '<ScaleUpJob as JSON>'
import { performance } from 'node:perf_hooks';
import type { Cluster } from '../src/engine/index.js';
import { runChild } from './childMain.js';
import type { ScaleUpJob, ScaleUpResult } from './protocol.js';
import { engineApi, startClusterAt, tasksRunning, waitFor } from './targets.js';

const FIRST_PORT = 9000;
const MIB = 1024 * 1024;

async function create(manager: string, spec: unknown): Promise<void> {
  const { status, body } = await engineApi<{ message?: string }>(manager, 'POST', '/services/create', spec);
  if (status !== 201) throw new Error(`creating a service answered ${status}: ${body?.message ?? ''}`);
}

function openListeners(cluster: Cluster, services: number): number {
  let open = 0;
  for (const engine of cluster.engines) {
    for (const listener of engine.mesh?.listenerStates().values() ?? []) {
      if (listener.state === 'open' && listener.port >= FIRST_PORT && listener.port < FIRST_PORT + services) open++;
    }
  }
  return open;
}

async function measure(job: ScaleUpJob): Promise<ScaleUpResult> {
  const before = process.memoryUsage();
  let started = performance.now();
  const cluster = await startClusterAt(job.block, { nodes: job.nodes });
  try {
    const startMs = performance.now() - started;
    const manager = cluster.nodes[0]!.apiUrl;

    started = performance.now();
    for (let i = 0; i < job.services; i++) {
      await create(manager, {
        Name: `scale${i}`,
        TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } },
        Mode: { Replicated: { Replicas: 1 } },
        EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: FIRST_PORT + i }] },
      });
    }
    const listeners = job.nodes * job.services;
    await waitFor(`${listeners} listeners`, async () => (openListeners(cluster, job.services) === listeners ? true : undefined), 120_000);
    const listenersMs = performance.now() - started;
    const after = process.memoryUsage();

    started = performance.now();
    await create(manager, {
      Name: 'many', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } }, Mode: { Replicated: { Replicas: job.replicas } },
    });
    await tasksRunning(manager, 'many', job.replicas);
    const convergeMs = performance.now() - started;

    return {
      nodes: job.nodes, replicas: job.replicas, listeners, startMs, listenersMs, convergeMs,
      rssMiB: (after.rss - before.rss) / MIB, heapMiB: (after.heapUsed - before.heapUsed) / MIB,
    };
  } finally {
    await cluster.close();
  }
}

await runChild('scaleUp.ts', measure);
