// routemesh's own routes, beside the Docker ones: fault injection. Any engine takes a node's failure and
// recovery (a failed node's own API is down), so `routemesh node recover node3` works through node1. The
// faults on links (`routemesh fault add/ls/rm`) are the swarm's objects: a manager lists them, and adds
// and removes them through the leader.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';

export function faultRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/routemesh\/faults$/, async () => ({ status: 200, body: (await engine.reader()).faults.list() }));

  router.add('GET', /^\/routemesh\/faults\/([^/]+)$/, async (r) => ({ status: 200, body: (await engine.reader()).faults.resolve(r.params[0]!) }));

  router.add('POST', /^\/routemesh\/faults$/, async (r) => {
    const faults = engine.requireManager().faults;
    const fault = faults.add(await r.body());
    return { status: 201, body: { ID: fault.ID } };
  });

  router.add('DELETE', /^\/routemesh\/faults\/([^/]+)$/, (r) => {
    engine.requireManager().faults.remove(r.params[0]!);
    return { status: 204 };
  });

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
