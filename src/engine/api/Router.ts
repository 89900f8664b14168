// Matches engine API requests to handlers. Paths may carry a `/v1.NN` prefix (every versioned
// request of the docker CLI does), which must name a version this engine serves; handlers see the path without it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { API_VERSION, ApiError, MIN_API_VERSION, readJson } from './http.js';
import { notServedMessage } from './notServed.js';

export interface ApiRequest {
  method: string;
  path: string;
  /** Captured groups of the route's pattern, URL-decoded. */
  params: string[];
  query: URLSearchParams;
  /** The JSON body; at most 1 MiB unless the route allows more (a config's 1000 KiB, in base64). */
  body(maxBytes?: number): Promise<unknown>;
  req: IncomingMessage;
  res: ServerResponse;
}

/** A reply to send as JSON, or `undefined` when the handler wrote the response itself. */
export type ApiReply = { status: number; body?: unknown } | undefined;
export type Handler = (request: ApiRequest) => ApiReply | Promise<ApiReply>;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

/** Docker's router takes `/v{version:[0-9.]+}` before any route. */
const VERSION_PREFIX = /^\/v([0-9.]+)(?=\/)/;

export class Router {
  #routes: Route[] = [];

  add(method: string, pattern: RegExp, handler: Handler): void {
    this.#routes.push({ method, pattern, handler });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<ApiReply> {
    const { path, query } = requestTarget(req);
    const method = req.method === 'HEAD' ? 'HEAD' : (req.method ?? 'GET');
    const otherMethods: string[] = [];
    for (const route of this.#routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      if (route.method !== method) {
        otherMethods.push(route.method);
        continue;
      }
      let params: string[];
      try {
        params = match.slice(1).map((p) => decodeURIComponent(p ?? ''));
      } catch {
        throw new ApiError(400, `malformed path: ${path}`);
      }
      return route.handler({ method, path, params, query, body: (maxBytes?: number) => readJson(req, maxBytes), req, res });
    }
    // Docker's status (404 for a route it lacks, 405 for a method) with words that say what is missing.
    throw new ApiError(otherMethods.length ? 405 : 404, notServedMessage(method, path, otherMethods));
  }
}

/** A request's path (without its version prefix, which must name a version this engine serves) and query. */
export function requestTarget(req: IncomingMessage): { path: string; query: URLSearchParams } {
  const target = req.url ?? '/';
  // A path from the root only: a URL parser takes `//v1.50/x` (and `/\x`) for a host named v1.50.
  if (!/^\/(?![/\\])/.test(target)) {
    throw new ApiError(400, `malformed request target ${JSON.stringify(target.slice(0, 200))}: a path starts with a single /, like /v${API_VERSION}/services`);
  }
  const queryAt = target.indexOf('?');
  const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
  const version = VERSION_PREFIX.exec(pathname);
  if (version) checkVersion(version[1]!);
  return { path: version ? pathname.slice(version[0].length) : pathname, query };
}

/** The daemon's answers to a version it does not serve (moby's VersionMiddleware), both 400. */
function checkVersion(version: string): void {
  if (compareVersions(version, MIN_API_VERSION) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  if (compareVersions(version, API_VERSION) > 0) {
    throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
  }
}

/** Compares dot-separated numbers of any length (an empty part is 0), as moby's versions.compare. */
function compareVersions(a: string, b: string): number {
  const as = a.split('.');
  const bs = b.split('.');
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    // Digits only, so compare without leading zeros by length, then digit by digit: no overflow.
    const x = (as[i] ?? '').replace(/^0+/, '');
    const y = (bs[i] ?? '').replace(/^0+/, '');
    if (x.length !== y.length) return x.length - y.length;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
