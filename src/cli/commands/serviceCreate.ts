// `routemesh service create`: flags → ServiceSpec (serviceSpec.ts), POST /services/create, print the
// ID, then follow convergence unless --detach, as `docker service create` does.
import type { Command } from '../Command.js';
import { buildServiceSpec, CREATE_FLAGS } from '../serviceSpec.js';
import { printWarnings, type WarningsResponse } from './serviceRequests.js';
import { waitOnService } from './waitOnService.js';

export const createCommand: Command = {
  name: 'create',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  summary: 'Create a new service',
  // The runtime's catalogue, which the cli cannot import (test/readme.test.ts keeps the two the same).
  details: 'Images: nginx, traefik/whoami, madvirus/simplenode:0.1|0.2, redis, routemesh/echo, and routemesh/exec,\n' +
    'which runs COMMAND ARG... with HOST, PORT, HOSTNAME, TASK_NAME and TASK_SLOT set (${VAR} expanded in ARGs).\n\n' +
    'Example:\n  routemesh service create --name web --publish published=9090,target=80 --replicas 2 nginx',
  flags: CREATE_FLAGS,
  interspersed: false,
  minArgs: 1,
  async run(ctx, args) {
    const spec = buildServiceSpec(args, ctx.io.env);
    const response = await ctx.client().post<WarningsResponse & { ID: string }>('/services/create', spec);
    printWarnings(ctx, response);
    ctx.out(response.ID);
    if (!args.bool('detach')) await waitOnService(ctx, response.ID, args.bool('quiet'));
    return 0;
  },
};
