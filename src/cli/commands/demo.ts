// The demo of `routemesh up --demo`: create my-web (traefik/whoami, 6 replicas, 8080 -> 80), unless it is there, through the
// engine API exactly as `service create` would, wait for its tasks to run, and show where each listens.
import type { ApiNode, ApiService, ApiTask } from '../apiTypes.js';
import type { CommandContext } from '../CommandContext.js';
import { truncateId } from '../dockerText.js';
import { EngineClient, EngineError, filtersParam } from '../EngineClient.js';
import { parseArgs } from '../flags.js';
import { buildServiceSpec, CREATE_FLAGS } from '../serviceSpec.js';
import { sleep } from '../sleep.js';
import { renderTable } from '../table.js';
import { printWarnings, type WarningsResponse } from './serviceRequests.js';

export const DEMO_SERVICE = 'my-web';
export const DEMO_ARGS = ['--name', DEMO_SERVICE, '--publish', 'published=8080,target=80', '--replicas', '6', 'traefik/whoami'];
const DEMO_REPLICAS = 6;

export interface DemoOptions {
  readonly pollMs: number;
  readonly deadlineMs: number;
  /** Aborted on Ctrl-C: stop waiting. */
  readonly signal: AbortSignal;
}

export interface DemoTasks {
  /** Its running tasks, by slot (fewer than `replicas` if the deadline passed). */
  tasks: ApiTask[];
  /** How many it asks for: 6, or what it was scaled to before a restart. */
  replicas: number;
}

/**
 * Creates the service, unless the swarm has it already (`up` again with the same data, maybe scaled since),
 * and waits for as many tasks as it asks for to run.
 */
export async function runDemo(ctx: CommandContext, client: EngineClient, options: DemoOptions): Promise<DemoTasks> {
  const found = await existing(client);
  const service = found ?? await create(ctx, client);
  const replicas = found?.Spec.Mode?.Replicated?.Replicas ?? DEMO_REPLICAS;
  const deadline = Date.now() + options.deadlineMs;
  let running: ApiTask[] = [];
  while (!options.signal.aborted) {
    const tasks = (await client.get<ApiTask[]>('/tasks', { filters: filtersParam({ service: [service.ID] }) })) ?? [];
    running = tasks.filter((t) => t.DesiredState === 'running' && t.Status?.State === 'running');
    if (running.length >= replicas || Date.now() >= deadline) break;
    await sleep(options.pollMs, options.signal);
  }
  return { tasks: running.sort((a, b) => (a.Slot ?? 0) - (b.Slot ?? 0)), replicas };
}

async function existing(client: EngineClient): Promise<ApiService | undefined> {
  try {
    return await client.get<ApiService>(`/services/${DEMO_SERVICE}`);
  } catch (error) {
    if (error instanceof EngineError && error.notFound) return undefined;
    throw error;
  }
}

async function create(ctx: CommandContext, client: EngineClient): Promise<{ ID: string }> {
  const spec = buildServiceSpec(parseArgs(DEMO_ARGS, CREATE_FLAGS, { command: 'routemesh service create', interspersed: false }));
  const created = await client.post<WarningsResponse & { ID: string }>('/services/create', spec);
  printWarnings(ctx, created);
  return created;
}

/** ID, TASK, NODE, ADDRESS: the address a task really listens on, with the port it stands for. */
export async function renderDemoTasks(client: EngineClient, tasks: readonly ApiTask[]): Promise<string> {
  const nodes = (await client.get<ApiNode[]>('/nodes')) ?? [];
  const hostnames = new Map(nodes.map((n) => [n.ID, n.Spec?.Name || n.Description?.Hostname || n.ID]));
  const rows = tasks.map((t) => [
    truncateId(t.ID),
    `${DEMO_SERVICE}.${t.Slot ?? 0}`,
    hostnames.get(t.NodeID ?? '') ?? t.NodeID ?? '',
    listenAddress(t),
  ]);
  return renderTable([['ID', 'TASK', 'NODE', 'ADDRESS'], ...rows]);
}

export function listenAddress(task: ApiTask): string {
  const addr = task.Endpoint?.Addr;
  if (addr === undefined || addr === '') return '-';
  const ports = task.Endpoint?.Ports ?? [];
  if (ports.length === 0) return addr;
  return ports.map((p) => {
    const listen = p.ListenPort ?? p.TargetPort;
    return listen !== p.TargetPort ? `${addr}:${listen}->${p.TargetPort}` : `${addr}:${listen}`;
  }).join(', ');
}
