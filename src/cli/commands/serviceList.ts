// `routemesh service ls`: GET /services?status=true and docker's table. When an engine leaves out
// ServiceStatus, the counts are made from the tasks and nodes as the docker CLI does.
import type { ApiNode, ApiService, ApiTask } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { truncateId } from '../dockerText.js';
import { filtersParam } from '../EngineClient.js';
import { renderServiceList, sortServices } from '../views/serviceList.js';

export const listCommand: Command = {
  name: 'ls',
  aliases: ['list'],
  usage: '[OPTIONS]',
  summary: 'List services',
  flags: [{ name: 'quiet', short: 'q', kind: 'bool', help: 'Only display IDs' }],
  maxArgs: 0,
  async run(ctx, args) {
    const quiet = args.bool('quiet');
    const services = (await ctx.client().get<ApiService[]>('/services', quiet ? undefined : { status: true })) ?? [];
    if (quiet) {
      for (const s of sortServices(services)) ctx.out(truncateId(s.ID));
      return 0;
    }
    ctx.write(renderServiceList(await withStatus(ctx, services)));
    return 0;
  },
};

/** docker's AppendServiceStatus: fills ServiceStatus from the tasks for services that lack it. */
async function withStatus(ctx: CommandContext, services: ApiService[]): Promise<ApiService[]> {
  const missing = services.filter((s) => s.ServiceStatus === undefined || s.ServiceStatus === null);
  if (missing.length === 0) return services;
  const counts = new Map(missing.map((s) => [s.ID, { running: 0, desired: 0 }]));
  const tasks = (await ctx.client().get<ApiTask[]>('/tasks', {
    filters: filtersParam({ service: missing.map((s) => s.ID) }),
  })) ?? [];
  if (tasks.length > 0) {
    const nodes = (await ctx.client().get<ApiNode[]>('/nodes')) ?? [];
    const active = new Set(nodes.filter((n) => n.Status?.State !== 'down').map((n) => n.ID));
    for (const task of tasks) {
      const c = counts.get(task.ServiceID ?? '');
      if (c === undefined) continue;
      if (task.DesiredState !== 'shutdown') c.desired++;
      if (active.has(task.NodeID ?? '') && task.Status?.State === 'running') c.running++;
    }
  }
  return services.map((s) => {
    const c = counts.get(s.ID);
    if (c === undefined) return s;
    const replicas = s.Spec?.Mode?.Replicated?.Replicas ?? 0;
    return { ...s, ServiceStatus: { RunningTasks: c.running, DesiredTasks: replicas > 0 ? replicas : c.desired } };
  });
}
