// The containers of this node (node-local, never forwarded to the leader): `docker ps`, `inspect`,
// `create`/`start` (`docker run`), `stop`, `restart`, `kill`, `rm`. The swarm's tasks show as containers, read-only.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError, isTrue } from './http.js';
import { containerInspect, containerSummary, parseCreateRequest, selectContainers } from '../containers/index.js';

/** Docker's default stop timeout, in seconds. */
const STOP_SECONDS = 10;

function stopSeconds(query: URLSearchParams): number {
  const raw = query.get('t');
  if (raw === null || raw === '') return STOP_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds)) throw new ApiError(400, `invalid value for t: ${raw}: a whole number of seconds`);
  // Docker's -1 waits for ever: a day stands for that.
  return seconds < 0 ? 86_400 : seconds;
}

export function containerRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/containers\/json$/, (r) => ({
    status: 200,
    body: selectContainers(engine.containers.list(), r.query).map((c) => containerSummary(c)),
  }));

  router.add('GET', /^\/containers\/([^/]+)\/json$/, (r) => ({ status: 200, body: containerInspect(engine.containers.find(r.params[0]!)) }));

  router.add('POST', /^\/containers\/create$/, async (r) => {
    const config = parseCreateRequest(await r.body());
    return { status: 201, body: engine.containers.create(r.query.get('name') ?? undefined, config) };
  });

  router.add('POST', /^\/containers\/([^/]+)\/start$/, async (r) => {
    const outcome = await engine.containers.standalone(r.params[0]!).start();
    return { status: outcome === 'started' ? 204 : 304 };
  });

  router.add('POST', /^\/containers\/([^/]+)\/stop$/, async (r) => {
    const container = engine.containers.standalone(r.params[0]!);
    if (r.query.get('signal') && !/^(SIG)?TERM$|^15$/i.test(r.query.get('signal')!)) {
      throw new ApiError(400, `routemesh stops containers with SIGTERM (then SIGKILL), not ${r.query.get('signal')}: docker stop without --signal`);
    }
    return { status: (await container.stop(stopSeconds(r.query) * 1000)) ? 204 : 304 };
  });

  router.add('POST', /^\/containers\/([^/]+)\/restart$/, async (r) => {
    const container = engine.containers.standalone(r.params[0]!);
    await container.stop(stopSeconds(r.query) * 1000);
    await container.start();
    return { status: 204 };
  });

  router.add('POST', /^\/containers\/([^/]+)\/kill$/, async (r) => {
    await engine.containers.standalone(r.params[0]!).kill(r.query.get('signal') || 'SIGKILL');
    return { status: 204 };
  });

  router.add('DELETE', /^\/containers\/([^/]+)$/, async (r) => {
    if (isTrue(r.query.get('link'))) throw new ApiError(400, 'routemesh has no container links to remove (docker rm --link)');
    await engine.containers.standalone(r.params[0]!).remove(isTrue(r.query.get('force')));
    return { status: 204 };
  });

  // The docker CLI always asks for a hijacked connection (Upgrade: tcp), served by attachUpgrade.ts.
  router.add('POST', /^\/containers\/([^/]+)\/attach$/, () => {
    throw new ApiError(400, 'attach needs a hijacked connection: send the request with "Connection: Upgrade" and "Upgrade: tcp", as the docker CLI does');
  });
}
