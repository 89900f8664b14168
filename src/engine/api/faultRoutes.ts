// routemesh's own routes, beside the Docker ones: fault injection. Any engine takes them (a failed node's
// own API is down), so `routemesh node recover node3` works through node1.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';

export function faultRoutes(router: Router, engine: EngineContext): void {
  router.add('POST', /^\/routemesh\/nodes\/([^/]+)\/(fail|recover)$/, async (r) => {
    const [hostname, action] = [r.params[0]!, r.params[1] as 'fail' | 'recover'];
    // 'close': the answer is out, or the client went away.
    const answered = new Promise<void>((resolve) => r.res.once('close', resolve));
    const done = engine.injectFault(hostname, action, answered);
    if (action === 'fail' && hostname === engine.hostname) {
      // This engine powers itself off once it has answered: the client must not reuse the connection.
      r.res.setHeader('Connection', 'close');
      void done;
    } else {
      await done;
    }
    return { status: 200 };
  });
}
