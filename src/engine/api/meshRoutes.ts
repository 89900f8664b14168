// GET /routemesh/mesh: this node's pools as it balances them now (each member's state on this node, what
// it was handed in the last minute, what is open to it). Every node answers for itself: ejections and
// fencing are per node. The managers' dashboards read it from every node; curl can too.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';

export function meshRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/routemesh\/mesh$/, () => {
    const report = engine.meshReport();
    if (!report) throw new ApiError(503, 'This node is not part of a swarm, so it balances nothing: "docker swarm init" or "docker swarm join" it first');
    return { status: 200, body: report };
  });
}
