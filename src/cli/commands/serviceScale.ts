// `routemesh service scale web=6 api=2`: each service's replicas changed through a full-spec update,
// then one convergence wait per service, by the name as typed; failures collected per argument.
import type { ApiService } from '../apiTypes.js';
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { failure, usageError } from '../errors.js';
import { waitOnService } from './waitOnService.js';

export const scaleCommand: Command = {
  name: 'scale',
  usage: 'SERVICE=REPLICAS [SERVICE=REPLICAS...]',
  summary: 'Scale one or multiple replicated services',
  flags: [{ name: 'detach', short: 'd', kind: 'bool', help: 'Exit immediately instead of waiting for the service to converge' }],
  minArgs: 1,
  async run(ctx, args, path) {
    for (const arg of args.positionals) {
      const eq = arg.indexOf('=');
      if (eq <= 0 || eq === arg.length - 1) {
        throw usageError(`Invalid scale specifier '${arg}'.\nSee '${path} --help'.\n\nUsage:  ${path} ${scaleCommand.usage}\n\n${scaleCommand.summary}`);
      }
    }
    const errors: string[] = [];
    const scaled: string[] = [];
    for (const arg of args.positionals) {
      const ref = arg.slice(0, arg.indexOf('='));
      const text = arg.slice(arg.indexOf('=') + 1);
      if (!/^\d+$/.test(text)) {
        errors.push(`${ref}: invalid replicas value ${text}: strconv.ParseUint: parsing "${text}": invalid syntax`);
        continue;
      }
      try {
        await scaleOne(ctx, ref, Number(text));
        ctx.out(`${ref} scaled to ${Number(text)}`);
        scaled.push(ref);
      } catch (e) {
        errors.push(`${ref}: ${(e as Error).message}`);
      }
    }
    if (!args.bool('detach')) {
      for (const ref of scaled) {
        try {
          await waitOnService(ctx, ref, false);
        } catch (e) {
          errors.push(`${ref}: ${(e as Error).message}`);
        }
      }
    }
    if (errors.length > 0) throw failure(errors.join('\n'));
    return 0;
  },
};

async function scaleOne(ctx: CommandContext, ref: string, replicas: number): Promise<void> {
  const client = ctx.client();
  const service = await client.get<ApiService>(`/services/${encodeURIComponent(ref)}`, { insertDefaults: false });
  const spec = service.Spec;
  if (!spec?.Mode?.Replicated) throw failure('scale can only be used with replicated or replicated-job mode');
  spec.Mode.Replicated.Replicas = replicas;
  const response = await client.post<{ Warnings?: string[] | null }>(
    `/services/${encodeURIComponent(service.ID)}/update`, spec, { version: service.Version?.Index ?? 0 });
  for (const warning of response?.Warnings ?? []) ctx.err(warning);
}
