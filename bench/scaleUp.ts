// The scale child: brings up a large cluster in a fresh process, so its memory is the cluster's alone -
// `nodes` nodes, then `services` published services of one traefik/whoami task each (nodes × services
// listeners), then one service of `replicas` tasks - timing each step, and prints one line of
// ScaleUpResult JSON; usage: node --import tsx bench/scaleUp.ts '<ScaleUpJob as JSON>'
import { performance } from 'node:perf_hooks';
import { startCluster, type Cluster } from '../src/engine/index.js';
import type { ScaleUpJob, ScaleUpResult } from './protocol.js';

const FIRST_PORT = 9000;
const MIB = 1024 * 1024;

async function post(apiUrl: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${apiUrl}/v1.50${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
}

/** Checks `done` every 10 ms until it holds; throws naming `what` after `limitMs`. */
async function until(what: string, done: () => boolean | Promise<boolean>, limitMs = 120_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
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
  const cluster = await startCluster({
    nodes: job.nodes,
    subnet: `127.${job.block}.0.0/24`,
    taskSubnet: `127.${job.block + 1}.0.0/16`,
    vipSubnet: `127.${job.block + 2}.0.0/16`,
    dns: `127.${job.block}.0.250`,
    dnsUpstreams: [],
  });
  try {
    const startMs = performance.now() - started;
    const manager = cluster.nodes[0]!.apiUrl;

    started = performance.now();
    for (let i = 0; i < job.services; i++) {
      await post(manager, '/services/create', {
        Name: `scale${i}`,
        TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } },
        Mode: { Replicated: { Replicas: 1 } },
        EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: FIRST_PORT + i }] },
      });
    }
    const listeners = job.nodes * job.services;
    await until(`${listeners} listeners`, () => openListeners(cluster, job.services) === listeners);
    const listenersMs = performance.now() - started;
    const after = process.memoryUsage();

    started = performance.now();
    await post(manager, '/services/create', {
      Name: 'many', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } }, Mode: { Replicated: { Replicas: job.replicas } },
    });
    const filter = encodeURIComponent(JSON.stringify({ service: { many: true }, 'desired-state': { running: true } }));
    await until(`${job.replicas} tasks running`, async () => {
      const tasks = await (await fetch(`${manager}/v1.50/tasks?filters=${filter}`)).json() as { Status: { State: string } }[];
      return tasks.filter((task) => task.Status.State === 'running').length === job.replicas;
    });
    const convergeMs = performance.now() - started;

    return {
      nodes: job.nodes, replicas: job.replicas, listeners, startMs, listenersMs, convergeMs,
      rssMiB: (after.rss - before.rss) / MIB, heapMiB: (after.heapUsed - before.heapUsed) / MIB,
    };
  } finally {
    await cluster.close();
  }
}

const json = process.argv[2];
if (!json) {
  process.stderr.write("usage: node --import tsx bench/scaleUp.ts '<job-json>'\n");
  process.exit(2);
}
try {
  process.stdout.write(`${JSON.stringify(await measure(JSON.parse(json) as ScaleUpJob))}\n`);
} catch (error) {
  process.stderr.write(`scaleUp: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
