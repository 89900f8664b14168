// Puts the thing under test on a running cluster - one task of bench/backend.ts published on 8080 in
// ingress mode, and a second one in http mode on 8081, both on node1 - and finds the ways to reach
// them: the task itself, the mesh (tcp and http mode) on its node and elsewhere, and the service's VIP.
// The tasks run under routemesh/exec, each in a process of its own as a container's program would: an
// in-process task (traefik/whoami) would share a node's event loop with the mesh, and the mesh would
// be charged for the task's work where HAProxy and nginx, in processes of their own, are not.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster, type ClusterOptions } from '../src/engine/index.js';

const BACKEND = fileURLToPath(new URL('./backend.ts', import.meta.url));
/** The task's command line: tsx by its own path, so it loads whatever the cwd. */
const BACKEND_COMMAND = [process.execPath, '--import', import.meta.resolve('tsx'), BACKEND];

export const SERVICE = 'bench';
export const PUBLISHED_PORT = 8080;
const HTTP_SERVICE = 'bench-http';
export const HTTP_PUBLISHED_PORT = 8081;

export interface Targets {
  direct: string;
  sameNode: string;
  otherNode: string;
  httpSameNode: string;
  vip: string;
  /** The task as HAProxy and nginx name it: address:port. */
  task: string;
  /** Hostnames, for the report's setup lines. */
  taskNode: string;
  otherNodeName: string;
}

/** A cluster on address block B: nodes on 127.B.0.0/24, tasks on 127.(B+1)/16, VIPs on 127.(B+2)/16. */
export function startClusterAt(block: number, options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  return startCluster({
    subnet: `127.${block}.0.0/24`,
    taskSubnet: `127.${block + 1}.0.0/16`,
    vipSubnet: `127.${block + 2}.0.0/16`,
    dns: `127.${block}.0.250`,
    dnsUpstreams: [],
    ...options,
  });
}

/**
 * One engine API call on a connection of its own: fetch would keep one alive, and the scale section
 * starts clusters one after another on the same addresses, where a kept connection belongs to one closed.
 */
export function engineApi<T>(apiUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(`${apiUrl}/v1.50${path}`, {
      method, agent: false,
      ...(payload !== undefined ? { headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } } : {}),
    }, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T });
        } catch (error) {
          reject(error);
        }
      });
    }).on('error', reject);
    request.end(payload);
  });
}

/** Polls until `check` gives a value; throws naming `what` at the deadline. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once `count` tasks of service `name` run (and are meant to). */
export function tasksRunning(manager: string, name: string, count: number, timeoutMs = 120_000): Promise<true> {
  const filter = encodeURIComponent(JSON.stringify({ service: { [name]: true }, 'desired-state': { running: true } }));
  return waitFor(`${count} tasks of ${name} running`, async () => {
    const { body: tasks } = await engineApi<TaskView[]>(manager, 'GET', `/tasks?filters=${filter}`);
    return tasks.filter((task) => task.Status.State === 'running').length === count ? true : undefined;
  }, timeoutMs);
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

interface ServiceView {
  Endpoint?: { VirtualIPs?: { Addr: string }[] };
}

interface TaskView {
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
  Endpoint?: { Addr: string; Ports: { TargetPort: number; ListenPort: number }[] };
}

/**
 * A service of bench/backend.ts published on `port`, with `labels`, its tasks on `node` if given (one
 * task, or with `global` one per node); resolves with a task running.
 */
export async function deployBackend(manager: string, name: string, port: number, labels: Record<string, string>, node?: string, global = false): Promise<TaskView> {
  const [command, ...args] = BACKEND_COMMAND;
  const created = await engineApi<{ message?: string }>(manager, 'POST', '/services/create', {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: { Image: 'routemesh/exec', Command: [command], Args: args },
      ...(node ? { Placement: { Constraints: [`node.hostname==${node}`] } } : {}),
    },
    Mode: global ? { Global: {} } : { Replicated: { Replicas: 1 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: port, PublishMode: 'ingress' }] },
  });
  if (created.status !== 201) throw new Error(`creating the ${name} service failed (${created.status}): ${created.body?.message ?? ''}`);
  const filter = encodeURIComponent(JSON.stringify({ service: { [name]: true } }));
  return waitFor(`the ${name} task to run`, async () => {
    const { body: tasks } = await engineApi<TaskView[]>(manager, 'GET', `/tasks?filters=${filter}`);
    return tasks.find((t) => t.Status.State === 'running' && t.DesiredState === 'running' && t.Endpoint?.Ports[0]);
  });
}

interface NodeView {
  Description: { Hostname: string };
  Status: { Addr: string };
}

/** The node that runs both tasks and takes the same-node load, and the one the other-node load goes to. */
export const HOME_NODE = 'node1';
const OTHER_NODE = 'node2';

/**
 * Both services on the cluster whose manager's engine API is `manager`, their tasks on node1 (so the
 * process that takes the same-node load is node1's), and the URLs of every way to them, once each answers.
 */
export async function deployTargets(manager: string): Promise<Targets> {
  const { body: nodes } = await engineApi<NodeView[]>(manager, 'GET', '/nodes');
  const addressOf = (hostname: string): string => {
    const node = nodes.find((n) => n.Description.Hostname === hostname);
    if (!node) throw new Error(`the cluster at ${manager} has no ${hostname}`);
    return node.Status.Addr;
  };
  const home = addressOf(HOME_NODE);
  const other = addressOf(OTHER_NODE);
  const task = await deployBackend(manager, SERVICE, PUBLISHED_PORT, {}, HOME_NODE);
  // Its twin in http mode, on the same node, so tcp and http mode reach the same kind of task the same way.
  await deployBackend(manager, HTTP_SERVICE, HTTP_PUBLISHED_PORT, { 'routemesh.lb.mode': 'http' }, HOME_NODE);
  const { body: service } = await engineApi<ServiceView>(manager, 'GET', `/services/${SERVICE}`);
  const vip = service.Endpoint?.VirtualIPs?.[0]?.Addr.split('/')[0];
  if (!vip) throw new Error(`the ${SERVICE} service has no VIP`);
  const taskPort = task.Endpoint!.Ports[0]!.ListenPort;

  const targets: Targets = {
    direct: `http://${task.Endpoint!.Addr}:${taskPort}/`,
    sameNode: `http://${home}:${PUBLISHED_PORT}/`,
    otherNode: `http://${other}:${PUBLISHED_PORT}/`,
    httpSameNode: `http://${home}:${HTTP_PUBLISHED_PORT}/`,
    vip: `http://${vip}:${task.Endpoint!.Ports[0]!.TargetPort}/`,
    task: `${task.Endpoint!.Addr}:${taskPort}`,
    taskNode: HOME_NODE,
    otherNodeName: OTHER_NODE,
  };
  await waitForAnswers([targets.direct, targets.sameNode, targets.otherNode, targets.httpSameNode, targets.vip]);
  return targets;
}

/** A listener open is not enough: each mesh's pools fill from its view of the cluster, so wait for real answers. */
export async function waitForAnswers(urls: string[]): Promise<void> {
  for (const url of urls) {
    await waitFor(`${url} to answer`, async () => {
      return (await statusOf(url)) === 200 ? true : undefined;
    });
  }
}
