// `routemesh service scale web=6 api=2`: each service's replicas changed through a full-spec update,
// then one convergence wait per service, by the name as typed; failures collected per argument.
import type { Command } from '../Command.js';
import type { CommandContext } from '../CommandContext.js';
import { failure, usageError } from '../errors.js';
import { eachRef, failOnErrors } from './eachRef.js';
import { readService, updateService } from './serviceRequests.js';
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
    const serviceOf = (arg: string): string => arg.slice(0, arg.indexOf('='));
    const failed = (ref: string, e: unknown): string => `${ref}: ${(e as Error).message}`;
    const scaled = await eachRef(args.positionals, async (arg) => {
      const ref = serviceOf(arg);
      const text = arg.slice(arg.indexOf('=') + 1);
      if (!/^\d+$/.test(text)) throw failure(`invalid replicas value ${text}: strconv.ParseUint: parsing "${text}": invalid syntax`);
      // Past a uint64, as docker's ParseUint: the spec would carry a number (1e+23) no Go field holds.
      if (Number(text) >= 2 ** 64) throw failure(`invalid replicas value ${text}: strconv.ParseUint: parsing "${text}": value out of range`);
      await scaleOne(ctx, ref, Number(text));
      ctx.out(`${ref} scaled to ${Number(text)}`);
      return ref;
    }, (e, arg) => failed(serviceOf(arg), e));
    const waited = args.bool('detach')
      ? { errors: [] }
      : await eachRef(scaled.done, (ref) => waitOnService(ctx, ref, false), (e, ref) => failed(ref, e));
    failOnErrors([...scaled.errors, ...waited.errors]);
    return 0;
  },
};

async function scaleOne(ctx: CommandContext, ref: string, replicas: number): Promise<void> {
  const service = await readService(ctx.client(), ref);
  const spec = service.Spec;
  if (!spec?.Mode?.Replicated) throw failure('scale can only be used with replicated or replicated-job mode');
  spec.Mode.Replicated.Replicas = replicas;
  await updateService(ctx, service, spec);
}
