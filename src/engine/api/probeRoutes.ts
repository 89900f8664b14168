// routemesh's own route beside the Docker ones: a manager asks each node whether it can open a port a
// service wants to publish, since the node that will bind a port is the one to say (and only it knows
// which ports it uses itself).
import type { PortConfig } from '../../swarm/index.js';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';

export function probeRoutes(router: Router, engine: EngineContext): void {
  router.add('POST', /^\/routemesh\/ports\/probe$/, async (r) => {
    const port = asPort(await r.body());
    try {
      await engine.probePort(port);
    } catch (error) {
      throw new ApiError(400, (error as Error).message);
    }
    return { status: 200, body: {} };
  });
}

function asPort(body: unknown): PortConfig {
  const { Protocol, PublishedPort, PublishMode } = (body ?? {}) as Record<string, unknown>;
  if (Protocol !== 'tcp' && Protocol !== 'udp') throw new ApiError(400, 'Protocol must be tcp or udp');
  if (!Number.isInteger(PublishedPort) || (PublishedPort as number) < 1 || (PublishedPort as number) > 65535) {
    throw new ApiError(400, 'PublishedPort must be a port number from 1 to 65535');
  }
  if (PublishMode !== undefined && PublishMode !== 'ingress' && PublishMode !== 'host') throw new ApiError(400, 'PublishMode must be ingress or host');
  return { Protocol, PublishedPort: PublishedPort as number, TargetPort: 0, ...(PublishMode ? { PublishMode } : {}) } as PortConfig;
}
