// `routemesh service inspect`: the service as the engine describes it (defaults filled in), as a JSON
// array indented like docker's, or docker's --pretty text.
import type { ApiService } from '../apiTypes.js';
import type { Command } from '../Command.js';
import { EngineError } from '../EngineClient.js';
import { failure } from '../errors.js';
import { inspectJson } from '../views/inspectJson.js';
import { renderServicePretty } from '../views/servicePretty.js';

export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  flags: [{ name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' }],
  minArgs: 1,
  async run(ctx, args) {
    const found: ApiService[] = [];
    const errors: string[] = [];
    for (const ref of args.positionals) {
      try {
        found.push(await ctx.client().get<ApiService>(`/services/${encodeURIComponent(ref)}`, { insertDefaults: true }));
      } catch (e) {
        if (e instanceof EngineError && e.notFound) errors.push(`Error: no such service: ${ref}`);
        else throw e;
      }
    }
    if (args.bool('pretty')) ctx.write(found.map((s) => renderServicePretty(s, ctx.now())).join(''));
    else ctx.write(inspectJson(found));
    if (errors.length > 0) throw failure(errors.join('\n'));
    return 0;
  },
};
