// The Docker Engine API subset one routemesh node serves (../shared/docker-api/SPEC.md §6), on TCP
// (where any local program and any web page can reach it: web pages are refused) or on a Unix socket
// (reached only by who its file permissions let in, as Docker's /var/run/docker.sock).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router } from './Router.js';
import type { ApiReply } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { commonHeaders, sendError, sendJson } from './http.js';
import { systemRoutes } from './systemRoutes.js';
import { swarmRoutes } from './swarmRoutes.js';
import { nodeRoutes } from './nodeRoutes.js';
import { serviceRoutes } from './serviceRoutes.js';
import { taskRoutes } from './taskRoutes.js';
import { faultRoutes } from './faultRoutes.js';
import { probeRoutes } from './probeRoutes.js';
import { logRoutes } from './logRoutes.js';
import { taskOutputRoute } from './taskOutputRoute.js';
import { networkRoutes } from './networkRoutes.js';
import { eventRoutes } from './eventRoutes.js';
import { containerRoutes } from './containerRoutes.js';
import { containerStreamRoutes } from './containerStreamRoutes.js';
import { imageRoutes } from './imageRoutes.js';
import { secretRoutes } from './secretRoutes.js';
import { volumeRoutes } from './volumeRoutes.js';
import { refuseWebPage } from './webPageGuard.js';
import { meshRoutes } from './meshRoutes.js';
import { traceRoutes } from './traceRoutes.js';
import { dashboardRoutes } from './dashboardRoutes.js';
import { NotTheLeader, forwardToLeader } from './leaderForward.js';

export type { EngineContext, LocalNodeState, TaskOutputFeed, TaskOutputOptions } from './EngineContext.js';
export { ApiError, API_VERSION, ENGINE_VERSION } from './http.js';
export { NotTheLeader } from './leaderForward.js';
export { taskOutputPath } from './taskOutputRoute.js';
export { engineUpgrade } from './attachUpgrade.js';

export type ApiTransport = 'tcp' | 'unix';

export function engineApi(engine: EngineContext, transport: ApiTransport): (req: IncomingMessage, res: ServerResponse) => void {
  const router = new Router();
  systemRoutes(router, engine);
  swarmRoutes(router, engine);
  nodeRoutes(router, engine);
  serviceRoutes(router, engine);
  taskRoutes(router, engine);
  logRoutes(router, engine);
  taskOutputRoute(router, engine);
  networkRoutes(router, engine);
  eventRoutes(router, engine);
  containerRoutes(router, engine);
  containerStreamRoutes(router, engine);
  imageRoutes(router, engine);
  secretRoutes(router, engine, 'secret');
  secretRoutes(router, engine, 'config');
  volumeRoutes(router, engine);
  faultRoutes(router, engine);
  probeRoutes(router, engine);
  meshRoutes(router, engine);
  traceRoutes(router, engine);
  dashboardRoutes(router, engine);
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<ApiReply> => {
    if (transport === 'tcp') refuseWebPage(req);
    return router.handle(req, res);
  };
  return (req, res) => {
    commonHeaders(res, engine.swarmState());
    serve(req, res)
      .then(async (reply) => {
        if (!reply) return;
        // A change is answered once it is kept: a crash right after the answer must not lose it.
        if (req.method !== 'GET' && req.method !== 'HEAD') await engine.durable();
        sendJson(res, reply.status, reply.body);
      })
      .catch((error: unknown) => {
        // A body read that failed half-way may have already answered; never answer twice.
        if (error instanceof NotTheLeader && !res.headersSent) forwardToLeader(req, res, error);
        else if (!res.headersSent) sendError(res, error);
        else res.destroy();
      });
  };
}
