// Test support: a whole cluster in the test process on an address block of the test's own
// (127.B.0.x nodes, 127.B+1/16 tasks, 127.B+2/16 VIPs, DNS on 127.B.0.250 with no upstream unless the
// test names one), closed when the test ends.
import http from 'node:http';
import type { Test } from 'tap';
import { startCluster } from '../../src/engine/index.js';
import type { Cluster, ClusterOptions } from '../../src/engine/index.js';

/**
 * A test file's own address block. The unprivileged re-run of the end-to-end suite shifts every block
 * (ROUTEMESH_TEST_BLOCK_OFFSET) so it never collides with the same files running beside it.
 */
export function testBlock(base: number): number {
  return base + Number(process.env.ROUTEMESH_TEST_BLOCK_OFFSET ?? 0);
}

/**
 * The waits a test cluster shortens, keeping what each protects. A planned stop's fence (Swarm's 2 s;
 * test/fence-period.test.ts keeps it) stays far longer than a connection a mesh accepted just before it
 * takes to reach its task on loopback, even on a loaded machine. simplenode's slow /health (the app's
 * 5 s) stays well past every test's health timeout, and ?stop=true still answers before its task exits.
 */
const TEST_TIMINGS = { fencePeriodMs: 500, simplenode: { slowHealthMs: 1000, stopDelayMs: 100 } } as const satisfies Partial<ClusterOptions>;

export async function testCluster(t: Test, block: number, options: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = await startCluster({
    subnet: `127.${block}.0.0/24`,
    taskSubnet: `127.${block + 1}.0.0/16`,
    vipSubnet: `127.${block + 2}.0.0/16`,
    dns: `127.${block}.0.250`,
    dnsUpstreams: [],
    ...TEST_TIMINGS,
    ...options,
  });
  t.teardown(() => cluster.close());
  return cluster;
}

export interface ApiResponse<T = any> {
  status: number;
  contentType: string | null;
  body: T;
}

/**
 * One engine API call: JSON in, JSON (or text) out, the status kept for assertions. Each call has a
 * connection of its own: fetch would keep one alive, and a test starting a new cluster on the same
 * addresses could then send its first call down a connection the old cluster's closing has cut.
 */
export function api<T = any>(base: string, method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return rawApi<T>(base, method, `/v1.50${path}`, payload === undefined ? {} : { 'content-type': 'application/json' }, payload);
}

/** An engine API call as sent: the request target and headers exactly as given (a string body gets its length). */
export function rawApi<T = any>(base: string, method: string, target: string, headers: Record<string, string>, payload?: string): Promise<ApiResponse<T>> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: url.hostname, port: url.port, path: target, method, agent: false,
      headers: { ...headers, ...(payload !== undefined ? { 'content-length': Buffer.byteLength(payload) } : {}) },
    }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.on('end', () => {
        let parsed: unknown = text;
        try { parsed = text ? JSON.parse(text) : undefined; } catch { /* plain text */ }
        const contentType = response.headers['content-type'] ?? null;
        resolve({ status: response.statusCode ?? 0, contentType, body: parsed as T });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  // Quick at first, then less often: a long wait (many run a CLI or an API call a check) would otherwise
  // keep a core busy asking, on a machine that runs six test files at once.
  for (let pause = 20; ; pause = Math.min(pause * 1.5, 250)) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

export function serviceSpec(name: string, image: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Name: name, Labels: {}, TaskTemplate: { ContainerSpec: { Image: image } }, Mode: { Replicated: { Replicas: 1 } }, ...extra };
}

export function published(target: number, publishedPort: number, protocol = 'tcp'): Record<string, unknown> {
  return { EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: protocol, TargetPort: target, PublishedPort: publishedPort, PublishMode: 'ingress' }] } };
}

/** Waits until the service has exactly `count` running tasks (and no other task desired running). */
export async function waitForRunning(base: string, service: string, count: number): Promise<any[]> {
  let seen: any[] = [];
  try {
    return await waitFor(`${count} running tasks of ${service}`, async () => {
      const { body: tasks } = await api<any[]>(base, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`);
      seen = tasks;
      const running = tasks.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
      const desired = tasks.filter((t) => t.DesiredState === 'running');
      return running.length === count && desired.length === count ? running : undefined;
    });
  } catch (error) {
    // What the tasks were doing is what a timeout here needs explained.
    const states = seen.map((t) => `${t.Slot ?? t.NodeID}: ${t.Status.State}/${t.DesiredState} ${t.Status.Err ?? t.Status.Message ?? ''}`.trim());
    throw new Error(`${(error as Error).message}; its tasks: ${states.join('; ') || 'none'}`);
  }
}
