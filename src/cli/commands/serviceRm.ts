// `routemesh service rm`: one DELETE per argument, each printed on success, failures collected.
import type { Command } from '../Command.js';
import { failure } from '../errors.js';

export const rmCommand: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  flags: [],
  minArgs: 1,
  async run(ctx, args) {
    const errors: string[] = [];
    for (const ref of args.positionals) {
      try {
        await ctx.client().delete(`/services/${encodeURIComponent(ref)}`);
        ctx.out(ref);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length > 0) throw failure(errors.join('\n'));
    return 0;
  },
};
