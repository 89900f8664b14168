// routemesh's own routes, beside the Docker ones: fault injection. Any engine takes them (a failed node's
// own API is down), so `routemesh node recover node3` works through node1.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';

export function faultRoutes(router: Router, engine: EngineContext): void {
  router.add('POST', /^\/routemesh\/nodes\/([^/]+)\/(fail|recover)$/, async (r) => {
    await engine.injectFault(r.params[0]!, r.params[1] as 'fail' | 'recover');
    return { status: 200 };
  });
}
