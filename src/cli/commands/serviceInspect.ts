// `routemesh service inspect`: the service as the engine describes it (defaults filled in), as a JSON
// array indented like docker's, or docker's --pretty text.
import type { ApiService } from '../apiTypes.js';
import type { Command } from '../Command.js';
import { EngineError } from '../EngineClient.js';
import { inspectJson } from '../views/inspectJson.js';
import { renderServicePretty } from '../views/servicePretty.js';
import { eachRef, failOnErrors } from './eachRef.js';
import { servicePath } from './serviceRequests.js';

export const inspectCommand: Command = {
  name: 'inspect',
  usage: '[OPTIONS] SERVICE [SERVICE...]',
  summary: 'Display detailed information on one or more services',
  flags: [{ name: 'pretty', kind: 'bool', help: 'Print the information in a human friendly format' }],
  minArgs: 1,
  async run(ctx, args) {
    const { done: found, errors } = await eachRef(args.positionals,
      (ref) => ctx.client().get<ApiService>(servicePath(ref), { insertDefaults: true }),
      (e, ref) => {
        // Only "not found" is reported per service; anything else (the engine is down) stops the command.
        if (e instanceof EngineError && e.notFound) return `Error: no such service: ${ref}`;
        throw e;
      });
    if (args.bool('pretty')) ctx.write(found.map((s) => renderServicePretty(s, ctx.now())).join(''));
    else ctx.write(inspectJson(found));
    failOnErrors(errors);
    return 0;
  },
};
