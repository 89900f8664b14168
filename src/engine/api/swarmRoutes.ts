// /swarm: init, join, leave, the swarm object with its join tokens, and its update (settings and token rotation).
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue, requireVersion } from './http.js';
import type { SwarmReader } from '../../swarm/index.js';

function swarmObject(reader: SwarmReader): unknown {
  return { ...reader.clusterInfo(), JoinTokens: reader.joinTokens() };
}

function stringField(body: unknown, field: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)[field];
  if (value !== undefined && value !== null && typeof value !== 'string') {
    throw new ApiError(400, `${field} must be a string`);
  }
  return (value as string | undefined) || undefined;
}

export function swarmRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/swarm$/, async () => ({ status: 200, body: swarmObject(await engine.reader()) }));

  router.add('POST', /^\/swarm\/init$/, async (r) => {
    // The node's own address is its advertise address: a simulated node has no other.
    const body = await r.body();
    return { status: 200, body: await engine.init((body as { ForceNewCluster?: unknown } | undefined)?.ForceNewCluster === true) };
  });

  router.add('POST', /^\/swarm\/join$/, async (r) => {
    const body = await r.body();
    const remote = (body as { RemoteAddrs?: unknown } | undefined)?.RemoteAddrs;
    if (!Array.isArray(remote) || typeof remote[0] !== 'string') {
      throw new ApiError(400, 'RemoteAddrs must list the address of a manager, like ["127.1.0.1:2377"]');
    }
    const token = stringField(body, 'JoinToken');
    if (!token) throw new ApiError(400, 'a join token is needed: copy it from `docker swarm join-token worker` on a manager');
    await engine.join({ remoteAddr: remote[0], token });
    return { status: 200 };
  });

  router.add('POST', /^\/swarm\/leave$/, async (r) => {
    await engine.leave(isTrue(r.query.get('force')));
    return { status: 200 };
  });

  router.add('POST', /^\/swarm\/update$/, async (r) => {
    const manager = engine.requireManager();
    const version = requireVersion(r.query);
    manager.updateSwarm(version, await r.body(), {
      worker: isTrue(r.query.get('rotateWorkerToken')),
      manager: isTrue(r.query.get('rotateManagerToken')),
    });
    return { status: 200 };
  });
}
