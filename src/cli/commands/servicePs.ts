// `routemesh service ps`: find the services by ID, name or ID prefix through the list filters, list
// all their tasks (history too) and print docker's table with node and service names resolved.
import type { ApiService, ApiTask } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { filtersParam } from '../EngineClient.js';
import { failure } from '../errors.js';
import { renderTaskList, taskRows } from '../views/taskList.js';
import { IdResolver } from './IdResolver.js';

export const psCommand: Command = {
  name: 'ps',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'List the tasks of one or more services',
  details: 'PORTS also shows where a task really listens when its port moved (e.g. 80 → an unprivileged port).',
  flags: [
    { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display task IDs' },
    { name: 'no-trunc', kind: 'bool', help: 'Do not truncate output' },
  ],
  minArgs: 1,
  async run(ctx, args) {
    const { ids, notFound } = await findServices(ctx, args.positionals);
    const tasks = (await ctx.client().get<ApiTask[]>('/tasks', { filters: filtersParam({ service: ids }) })) ?? [];
    if (args.bool('quiet')) {
      // docker prints full IDs with -q.
      for (const row of taskRows(tasks, new Map())) ctx.out(row.task.ID);
    } else {
      // One lookup at a time, so the requests go out in table order.
      const names = new IdResolver(ctx.client());
      const serviceNames = new Map<string, string>();
      for (const task of tasks) {
        const id = task.ServiceID ?? '';
        if (!serviceNames.has(id)) serviceNames.set(id, await names.service(id));
      }
      const nodeNames = new Map<string, string>();
      for (const { task } of taskRows(tasks, serviceNames)) {
        const id = task.NodeID ?? '';
        if (id !== '' && !nodeNames.has(id)) nodeNames.set(id, await names.node(id));
      }
      ctx.write(renderTaskList(tasks, { serviceNames, nodeNames, now: ctx.now(), trunc: !args.bool('no-trunc') }));
    }
    if (notFound.length > 0) throw failure(notFound.join('\n'));
    return 0;
  },
};

/** Full ID, then exact name, then a unique ID prefix, as docker's createFilter. */
async function findServices(ctx: CommandContext, refs: readonly string[]): Promise<{ ids: string[]; notFound: string[] }> {
  const client = ctx.client();
  const byId = (await client.get<ApiService[]>('/services', { filters: filtersParam({ id: [...refs] }) })) ?? [];
  const byName = (await client.get<ApiService[]>('/services', { filters: filtersParam({ name: [...refs] }) })) ?? [];
  const ids: string[] = [];
  const notFound: string[] = [];
  for (const ref of refs) {
    const match = byId.find((s) => s.ID === ref) ?? byName.find((s) => s.Spec?.Name === ref);
    if (match !== undefined) {
      ids.push(match.ID);
      continue;
    }
    const prefixed = byId.filter((s) => s.ID.startsWith(ref));
    if (prefixed.length > 1) throw failure(`multiple services found with provided prefix: ${ref}`);
    if (prefixed.length === 1) ids.push(prefixed[0]!.ID);
    else notFound.push(`no such service: ${ref}`);
  }
  if (ids.length === 0) throw failure(notFound.join('\n'));
  return { ids, notFound };
}
