// `routemesh service rm`: one DELETE per argument, each printed on success, failures collected.
import type { Command } from '../Command.js';
import { eachRef, failOnErrors } from './eachRef.js';
import { servicePath } from './serviceRequests.js';

export const rmCommand: Command = {
  name: 'rm',
  aliases: ['remove'],
  usage: 'SERVICE [SERVICE...]',
  summary: 'Remove one or more services',
  flags: [],
  minArgs: 1,
  async run(ctx, args) {
    const { errors } = await eachRef(args.positionals, async (ref) => {
      await ctx.client().delete(servicePath(ref));
      ctx.out(ref);
    });
    failOnErrors(errors);
    return 0;
  },
};
