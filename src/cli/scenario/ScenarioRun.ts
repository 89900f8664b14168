// One run of a scenario: a cluster of its own in this process (seeded, so its random draws replay), the
// services made and running in every node's pools, each node's trace followed, then the loads and the
// timeline's actions at their times, all through the engine API as a user would drive it. What happened
// is gathered for the expectations: the loads' results, every node's balancing records, and when each
// node was seen Down and Ready again.
import http from 'node:http';
import type { ApiNode, ApiService, ApiTask, ApiTraceRecord } from '../apiTypes.js';
import { EngineClient } from '../EngineClient.js';
import { runLoad } from './LoadGenerator.js';
import type { LoadResult } from './LoadGenerator.js';
import type { Action, Scenario, ServiceDecl } from './scenarioFile.js';

export interface ScenarioAddresses {
  /** Node addresses, like `up --subnet`. */
  subnet: string;
  taskSubnet: string;
  vipSubnet: string;
}

/** A trace record with its time from the scenario's start. */
export interface TimedRecord extends ApiTraceRecord {
  atMs: number;
}

export interface ScenarioHappenings {
  loads: Map<string, LoadResult>;
  records: TimedRecord[];
  /** When each node was first seen Down, and Ready after that, from the scenario's start. */
  nodes: Map<string, { downMs?: number; readyMs?: number }>;
  /** Whatever an action could not do, said as it happened. */
  errors: string[];
}

const NODE_POLL_MS = 50;
const SETTLE_TIMEOUT_MS = 30_000;

export async function runScenario(scenario: Scenario, addresses: ScenarioAddresses, say: (atMs: number, line: string) => void): Promise<ScenarioHappenings> {
  const engine = await import('../../engine/index.js');
  const base = addresses.subnet.split('/')[0]!.split('.').slice(0, 3).join('.');
  const cluster = await engine.startCluster({
    nodes: scenario.cluster.nodes, managers: 1, subnet: addresses.subnet, apiPort: 2375, taskSubnet: addresses.taskSubnet,
    vipSubnet: addresses.vipSubnet, bare: false, dns: `${base}.250`, dnsUpstreams: [], dnsVipTtl: 600, dnsTaskTtl: 5,
    heartbeatPeriodMs: scenario.cluster.heartbeatMs, seed: scenario.seed,
    ...(scenario.cluster.fencePeriodMs !== undefined ? { fencePeriodMs: scenario.cluster.fencePeriodMs } : {}),
    log: () => {},
  });
  const closers: (() => void)[] = [];
  try {
    const manager = new EngineClient(cluster.nodes[0]!.apiUrl, { apiVersion: '1.50' });
    closers.push(() => manager.close());
    const addressOf = new Map(cluster.nodes.map((n) => [n.hostname, n.address]));
    for (const [name, decl] of Object.entries(scenario.services)) await manager.post('/services/create', serviceSpec(name, decl));
    const nodeClients = cluster.nodes.map((n) => new EngineClient(n.apiUrl, { apiVersion: '1.50' }));
    closers.push(() => { for (const client of nodeClients) client.close(); });
    await settled(manager, scenario, nodeClients);
    const happenings: ScenarioHappenings = { loads: new Map(), records: [], nodes: new Map(), errors: [] };
    const start = Date.now();
    const elapsed = (): number => Date.now() - start;
    for (const node of cluster.nodes) closers.push(followTrace(node.apiUrl, (record) => happenings.records.push({ ...record, atMs: Date.parse(record.at) - start })));
    closers.push(watchNodes(manager, happenings, elapsed));
    const faults = new Map<string, string>();
    const loads = Object.entries(scenario.loads).map(async ([name, load]) => {
      await delay(load.atMs - elapsed());
      const address = addressOf.get(load.through) ?? '';
      const port = scenario.services[load.service]!.publish[0]!;
      say(elapsed(), `load ${name}: ${load.rate}/s through ${load.through}:${port.published}/${port.protocol} (${load.connection === 'flow' ? 'one UDP flow' : load.connection === 'new' ? 'a new connection each' : 'one kept-alive connection'}) for ${load.durationMs / 1000}s`);
      happenings.loads.set(name, await runLoad(load, address, port.published));
      say(elapsed(), `load ${name} done`);
    });
    const timeline = (async () => {
      for (const step of scenario.timeline) {
        await delay(step.atMs - elapsed());
        say(elapsed(), describe(step.action));
        await act(manager, step.action, faults).catch((error: Error) => {
          happenings.errors.push(`${describe(step.action)}: ${error.message}`);
          say(elapsed(), `  could not: ${error.message}`);
        });
      }
    })();
    await Promise.all([...loads, timeline]);
    return happenings;
  } finally {
    for (const close of closers) close();
    await cluster.close();
  }
}

function serviceSpec(name: string, decl: ServiceDecl): Record<string, unknown> {
  return {
    Name: name,
    Labels: decl.labels,
    TaskTemplate: { ContainerSpec: { Image: decl.image, ...(decl.env.length ? { Env: decl.env } : {}) } },
    Mode: decl.global ? { Global: {} } : { Replicated: { Replicas: decl.replicas ?? 1 } },
    EndpointSpec: { Ports: decl.publish.map((p) => ({ Protocol: p.protocol, TargetPort: p.target, PublishedPort: p.published, PublishMode: 'ingress' })) },
    ...(decl.update ? { UpdateConfig: { Parallelism: decl.update.parallelism ?? 1, Delay: (decl.update.delayMs ?? 0) * 1e6, Order: 'stop-first' } } : {}),
  };
}

/** Until every service's tasks run, and every node's pools hold them all as serving. */
async function settled(manager: EngineClient, scenario: Scenario, nodes: readonly EngineClient[]): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const tasks = await manager.get<ApiTask[]>('/tasks', { filters: JSON.stringify({ 'desired-state': { running: true } }) });
    const running = tasks.filter((t) => t.Status?.State === 'running').length;
    const replicas = (s: ServiceDecl): number => (s.global ? scenario.cluster.nodes : s.replicas ?? 1);
    const wanted = Object.values(scenario.services).reduce((sum, s) => sum + replicas(s), 0);
    if (running >= wanted) {
      const reports = await Promise.all(nodes.map((node) => node.get<{ pools: { service: string; members: { state: string }[] }[] }>('/routemesh/mesh')));
      const published = Object.entries(scenario.services).filter(([, s]) => s.publish.length);
      const whole = (pools: { service: string; members: { state: string }[] }[]): boolean => published.every(([name, s]) =>
        pools.some((pool) => pool.service === name && pool.members.filter((m) => m.state === 'serving').length >= replicas(s)));
      if (reports.every((r) => whole(r.pools))) return;
    }
    if (Date.now() > deadline) throw new Error(`the services were not all running within ${SETTLE_TIMEOUT_MS / 1000}s (${running} of ${wanted} tasks)`);
    await delay(100);
  }
}

/** Follows one node's trace; returns how to stop. */
function followTrace(apiUrl: string, record: (r: ApiTraceRecord) => void): () => void {
  let pending = '';
  const req = http.get(`${apiUrl}/routemesh/trace`, { agent: false }, (res) => {
    res.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) record(JSON.parse(line) as ApiTraceRecord);
    });
    res.on('error', () => {});
  });
  req.on('error', () => {}); // a node failed on purpose stops answering
  return () => req.destroy();
}

/** Polls the nodes' states, noting when each is first Down and then Ready again; returns how to stop. */
function watchNodes(manager: EngineClient, happenings: ScenarioHappenings, elapsed: () => number): () => void {
  const timer = setInterval(() => {
    manager.get<ApiNode[]>('/nodes').then((nodes) => {
      for (const node of nodes) {
        const name = node.Description?.Hostname ?? '';
        const seen = happenings.nodes.get(name) ?? {};
        if (node.Status?.State === 'down' && seen.downMs === undefined) seen.downMs = elapsed();
        if (node.Status?.State === 'ready' && seen.downMs !== undefined && seen.readyMs === undefined) seen.readyMs = elapsed();
        happenings.nodes.set(name, seen);
      }
    }, () => { /* the manager is busy: the next poll will tell */ });
  }, NODE_POLL_MS);
  return () => clearInterval(timer);
}

function describe(action: Action): string {
  if ('scale' in action) return `scale ${action.scale.service} to ${action.scale.replicas}`;
  if ('update' in action) return `update ${action.update.service}${action.update.image ? ` to ${action.update.image}` : ''}${action.update.env ? ` with ${action.update.env.join(' ')}` : ''}`;
  if ('drain' in action) return `drain ${action.drain}`;
  if ('activate' in action) return `activate ${action.activate}`;
  if ('fail' in action) return `fail ${action.fail}`;
  if ('recover' in action) return `recover ${action.recover}`;
  if ('fault' in action) return `fault ${action.fault.name}: ${Object.entries(action.fault.request).map(([k, v]) => `${k.toLowerCase()} ${Array.isArray(v) ? v.join(',') : String(v)}`).join(', ')}`;
  return `lift fault ${action.lift}`;
}

async function act(manager: EngineClient, action: Action, faults: Map<string, string>): Promise<void> {
  if ('scale' in action || 'update' in action) {
    const name = 'scale' in action ? action.scale.service : action.update.service;
    const service = await manager.get<ApiService>(`/services/${encodeURIComponent(name)}`);
    const spec = structuredClone(service.Spec) as Record<string, any>;
    if ('scale' in action) spec.Mode = { Replicated: { Replicas: action.scale.replicas } };
    else {
      const container = spec.TaskTemplate.ContainerSpec;
      if (action.update.image) container.Image = action.update.image;
      if (action.update.env) container.Env = action.update.env;
      if (!action.update.image && !action.update.env) spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
    }
    await manager.post(`/services/${service.ID}/update`, spec, { version: service.Version?.Index ?? 0 });
    return;
  }
  if ('drain' in action || 'activate' in action) {
    const name = 'drain' in action ? action.drain : action.activate;
    const node = await manager.get<ApiNode & { Spec: Record<string, unknown> }>(`/nodes/${encodeURIComponent(name)}`);
    await manager.post(`/nodes/${node.ID}/update`, { ...node.Spec, Availability: 'drain' in action ? 'drain' : 'active' }, { version: node.Version?.Index ?? 0 });
    return;
  }
  if ('fail' in action) return void await manager.post(`/routemesh/nodes/${encodeURIComponent(action.fail)}/fail`);
  if ('recover' in action) return void await manager.post(`/routemesh/nodes/${encodeURIComponent(action.recover)}/recover`);
  if ('fault' in action) {
    const { ID } = await manager.post<{ ID: string }>('/routemesh/faults', action.fault.request);
    faults.set(action.fault.name, ID);
    return;
  }
  const id = faults.get(action.lift);
  if (!id) throw new Error(`no fault named ${action.lift} was added before`);
  await manager.delete(`/routemesh/faults/${id}`);
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
