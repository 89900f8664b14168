// Matches engine API requests to handlers. Paths may carry a `/v1.NN` prefix (every versioned
// request of the docker CLI does); handlers see the path without it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, readJson } from './http.js';

export interface ApiRequest {
  method: string;
  path: string;
  /** Captured groups of the route's pattern, URL-decoded. */
  params: string[];
  query: URLSearchParams;
  body(): Promise<unknown>;
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

const VERSION_PREFIX = /^\/v(\d+\.\d+)(?=\/)/;

export class Router {
  #routes: Route[] = [];

  add(method: string, pattern: RegExp, handler: Handler): void {
    this.#routes.push({ method, pattern, handler });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<ApiReply> {
    const url = new URL(req.url ?? '/', 'http://engine');
    const version = VERSION_PREFIX.exec(url.pathname);
    if (version && Number(version[1]) < 1.24) {
      throw new ApiError(400, `client version ${version[1]} is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version`);
    }
    const path = version ? url.pathname.slice(version[0].length) : url.pathname;
    const method = req.method === 'HEAD' ? 'HEAD' : (req.method ?? 'GET');
    let pathMatched = false;
    for (const route of this.#routes) {
      const match = route.pattern.exec(path);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      let params: string[];
      try {
        params = match.slice(1).map((p) => decodeURIComponent(p ?? ''));
      } catch {
        throw new ApiError(400, `malformed path: ${path}`);
      }
      return route.handler({ method, path, params, query: url.searchParams, body: () => readJson(req), req, res });
    }
    if (pathMatched) throw new ApiError(405, `method ${method} not allowed on ${path}`);
    throw new ApiError(404, 'page not found');
  }
}
