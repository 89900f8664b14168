// Which engine a command talks to: ROUTEMESH_HOST, else DOCKER_HOST, else the first node of the
// default cluster; and how a docker-style host string becomes an http:// base URL.
import { usageError } from './errors.js';

export const DEFAULT_ENGINE_HOST = 'tcp://127.1.0.1:2375';

export interface EngineTarget {
  /** As the user wrote it (or the default): what error messages name. */
  readonly host: string;
  /** Where requests go, e.g. http://127.1.0.1:2375 */
  readonly baseUrl: string;
}

export function engineTarget(env: Record<string, string | undefined>): EngineTarget {
  // A DOCKER_HOST on a unix socket is the machine's real docker, never a routemesh engine: pass it by.
  const docker = nonEmpty(env['DOCKER_HOST']);
  const dockerTcp = docker !== undefined && /^(tcp|http):\/\//i.test(docker) ? docker : undefined;
  const host = nonEmpty(env['ROUTEMESH_HOST']) ?? dockerTcp ?? DEFAULT_ENGINE_HOST;
  return { host, baseUrl: toBaseUrl(host) };
}

/** Accepts tcp://host:port, http://host:port and bare host:port; the docker port default 2375 applies. */
export function toBaseUrl(host: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(host) ? host : `tcp://${host}`;
  const scheme = withScheme.slice(0, withScheme.indexOf(':')).toLowerCase();
  if (scheme !== 'tcp' && scheme !== 'http') {
    throw usageError(`unsupported engine address ${host}: only tcp://host:port and http://host:port are supported`);
  }
  let url: URL;
  try {
    url = new URL(`http://${withScheme.slice(withScheme.indexOf('://') + 3)}`);
  } catch {
    throw usageError(`invalid engine address ${host}: expected tcp://host:port`);
  }
  if (url.hostname === '') throw usageError(`invalid engine address ${host}: expected tcp://host:port`);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `http://${url.hostname}:${url.port === '' ? '2375' : url.port}${path}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
