// Puts the thing under test on a running cluster - one traefik/whoami task published on 8080 in ingress
// mode - and finds the three ways to reach it: the task itself, the mesh on its node, the mesh elsewhere.
import http from 'node:http';
import type { Cluster } from '../src/engine/index.js';

export const SERVICE = 'bench';
export const PUBLISHED_PORT = 8080;

export interface Targets {
  direct: string;
  sameNode: string;
  otherNode: string;
  /** Hostnames, for the notes under the table. */
  taskNode: string;
  otherNodeName: string;
}

async function engineApi<T>(apiUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${apiUrl}/v1.50${path}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls until `check` gives a value; throws naming `what` at the deadline. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** One GET on a connection of its own (fetch would keep one alive and hide a mesh that balances per connection). */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

interface TaskView {
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
  Endpoint?: { Addr: string; Ports: { TargetPort: number; ListenPort: number }[] };
}

export async function deployWhoami(cluster: Cluster): Promise<Targets> {
  const manager = cluster.nodes[0]!.apiUrl;
  const created = await engineApi<{ message?: string }>(manager, 'POST', '/services/create', {
    Name: SERVICE,
    TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' } },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: PUBLISHED_PORT, PublishMode: 'ingress' }] },
  });
  if (created.status !== 201) throw new Error(`creating the ${SERVICE} service failed (${created.status}): ${created.body?.message ?? ''}`);

  const filter = encodeURIComponent(JSON.stringify({ service: { [SERVICE]: true } }));
  const task = await waitFor('the whoami task to run', async () => {
    const { body: tasks } = await engineApi<TaskView[]>(manager, 'GET', `/tasks?filters=${filter}`);
    return tasks.find((t) => t.Status.State === 'running' && t.DesiredState === 'running' && t.Endpoint?.Ports[0]);
  });
  const nodes = cluster.nodes;
  const home = nodes.find((n) => n.nodeId === task.NodeID);
  const other = nodes.find((n) => n.nodeId !== task.NodeID);
  if (!home || !other) throw new Error(`the task runs on node ${task.NodeID}, which is not one of this cluster's ${nodes.length} nodes`);

  const targets: Targets = {
    direct: `http://${task.Endpoint!.Addr}:${task.Endpoint!.Ports[0]!.ListenPort}/`,
    sameNode: `http://${home.address}:${PUBLISHED_PORT}/`,
    otherNode: `http://${other.address}:${PUBLISHED_PORT}/`,
    taskNode: home.hostname,
    otherNodeName: other.hostname,
  };
  // settled() covers listeners opening; the pools fill from the cluster view, so wait for real answers.
  await Promise.all(cluster.engines.map((e) => e.mesh?.settled()));
  for (const url of [targets.direct, targets.sameNode, targets.otherNode]) {
    await waitFor(`${url} to answer`, async () => {
      return (await statusOf(url)) === 200 ? true : undefined;
    });
  }
  return targets;
}
