// An HTTP client of one engine's Docker-compatible API: version negotiation by ping, versioned paths,
// JSON in and out, and daemon errors turned into EngineError the way the docker CLI words them.
// What the requests mean is left to the commands; this file knows only the transport.
import http from 'node:http';

export type EngineErrorCode =
  | 'ENGINE_API_ERROR'     // the engine answered with status >= 400
  | 'ENGINE_UNREACHABLE'   // nothing answered at the address
  | 'ENGINE_TIMEOUT'       // something listens there, but gave no answer in time
  | 'ENGINE_BAD_RESPONSE'; // it answered, but not with something we can read

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** HTTP status, when the engine answered. */
  readonly status: number | undefined;
  /** The daemon's own words (the `message` field), without the "Error response from daemon: " prefix. */
  readonly daemonMessage: string;

  constructor(code: EngineErrorCode, message: string, status?: number, daemonMessage = message) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
    this.status = status;
    this.daemonMessage = daemonMessage;
  }

  get notFound(): boolean {
    return this.code === 'ENGINE_API_ERROR' && this.status === 404;
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

/** The highest API version this client speaks; the engine may lower it. */
export const CLIENT_API_VERSION = '1.50';
/** What the docker client assumes when a ping carries no Api-Version header. */
const FALLBACK_API_VERSION = '1.24';

export interface EngineClientOptions {
  /** How to name the engine in messages (e.g. tcp://127.1.0.1:2375); defaults to the URL. */
  host?: string;
  /** Skip the ping and use this version (tests, or a caller that already negotiated). */
  apiVersion?: string;
  /** Per-request inactivity limit; streams (logs -f) have none. */
  timeoutMs?: number;
  /** Send every request down this Unix socket (unix:///PATH); the URL then only names the path. */
  socketPath?: string;
}

export class EngineClient {
  readonly baseUrl: string;
  readonly host: string;
  #agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  #version: Promise<string> | undefined;
  #timeoutMs: number;
  #socketPath: string | undefined;

  constructor(url: string, options: EngineClientOptions = {}) {
    this.baseUrl = url.replace(/\/+$/, '');
    this.host = options.host ?? this.baseUrl;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#socketPath = options.socketPath;
    if (options.apiVersion !== undefined) this.#version = Promise.resolve(options.apiVersion);
  }

  /** The negotiated API version; the first call pings the engine, like every docker CLI run does. */
  apiVersion(): Promise<string> {
    this.#version ??= this.#ping();
    return this.#version;
  }

  async get<T = unknown>(path: string, query?: Query): Promise<T> {
    return (await this.#json('GET', path, query)) as T;
  }

  async post<T = unknown>(path: string, body?: unknown, query?: Query): Promise<T> {
    return (await this.#json('POST', path, query, body)) as T;
  }

  async delete<T = unknown>(path: string, query?: Query): Promise<T> {
    return (await this.#json('DELETE', path, query)) as T;
  }

  /** A GET whose body the caller reads as it arrives (logs). Errors are raised before any byte is handed over. */
  async stream(path: string, query?: Query): Promise<http.IncomingMessage> {
    const url = await this.#url(path, query);
    const res = await this.#send('GET', url, undefined, 0);
    if (res.statusCode !== undefined && res.statusCode >= 400) {
      throw this.#apiError(res, await readAll(res), url);
    }
    return res;
  }

  /** Drops kept-alive connections so the process can exit. */
  close(): void {
    this.#agent.destroy();
  }

  async #json(method: string, path: string, query: Query | undefined, body?: unknown): Promise<unknown> {
    const url = await this.#url(path, query);
    const res = await this.#send(method, url, body, this.#timeoutMs);
    const data = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 400) throw this.#apiError(res, data, url);
    const text = data.toString('utf8');
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new EngineError('ENGINE_BAD_RESPONSE',
        `the engine at ${this.host} answered ${method} ${path} with something that is not JSON: ${text.slice(0, 200)}`, status);
    }
  }

  async #url(path: string, query: Query | undefined): Promise<string> {
    const version = await this.apiVersion();
    return `${this.baseUrl}/v${version}${path}${encodeQuery(query)}`;
  }

  async #ping(): Promise<string> {
    let res = await this.#send('HEAD', `${this.baseUrl}/_ping`, undefined, this.#timeoutMs);
    res.resume();
    // The docker client accepts 200 and 500 from HEAD and retries anything else with GET.
    if (res.statusCode !== 200 && res.statusCode !== 500) {
      res = await this.#send('GET', `${this.baseUrl}/_ping`, undefined, this.#timeoutMs);
      const body = await readAll(res);
      if ((res.statusCode ?? 0) >= 400) throw this.#apiError(res, body, `${this.baseUrl}/_ping`);
    }
    const header = res.headers['api-version'];
    const advertised = typeof header === 'string' && /^\d+\.\d+$/.test(header.trim()) ? header.trim() : FALLBACK_API_VERSION;
    return compareVersions(advertised, CLIENT_API_VERSION) < 0 ? advertised : CLIENT_API_VERSION;
  }

  #send(method: string, url: string, body: unknown, timeoutMs: number): Promise<http.IncomingMessage> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const headers: http.OutgoingHttpHeaders = { 'User-Agent': 'routemesh-cli/0.1 (linux)' };
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    } else if (method === 'POST') {
      headers['Content-Length'] = 0; // bodiless POSTs (swarm leave) send an explicit zero, as docker does
    }
    return new Promise((resolve, reject) => {
      const socket = this.#socketPath === undefined ? {} : { socketPath: this.#socketPath };
      const req = http.request(url, { method, headers, agent: this.#agent, ...socket }, resolve);
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      }
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.#connectError(err, timeoutMs)));
      req.end(payload);
    });
  }

  #connectError(err: NodeJS.ErrnoException, timeoutMs: number): EngineError {
    // Something listens: "is the cluster running?" would send the user the wrong way.
    if (err.code === 'ETIMEDOUT') {
      return new EngineError('ENGINE_TIMEOUT',
        `The routemesh engine at ${this.host} did not answer within ${timeoutMs / 1000} s: it is running but busy or stuck.\n` +
        'Try again in a moment, or allow it longer with ROUTEMESH_TIMEOUT_MS.');
    }
    const why = err.code === 'ECONNREFUSED' ? 'connection refused'
      : err.code === 'ECONNRESET' ? 'the connection was reset'
      : err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' ? 'address unreachable'
      : err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN' ? 'no such host (the name does not resolve)'
      : err.code === 'ENOENT' ? 'no such socket'
      : err.code === 'EACCES' ? 'permission denied (a node\'s socket lets in only the user that runs routemesh)'
      : err.message;
    return new EngineError('ENGINE_UNREACHABLE',
      `Cannot connect to the routemesh engine at ${this.host}: ${why}.\n` +
      'Is the cluster running? Start it with `npm start` or `routemesh up`, ' +
      'or set ROUTEMESH_HOST to the engine of a running node (e.g. ROUTEMESH_HOST=tcp://127.1.0.1:2375).');
  }

  /** Mirrors the docker client: JSON `message` only when Content-Type is exactly application/json. */
  #apiError(res: http.IncomingMessage, body: Buffer, url: string): EngineError {
    const status = res.statusCode ?? 0;
    const contentType = res.headers['content-type'];
    let message: string;
    if (contentType === 'application/json') {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { message?: unknown };
        message = typeof parsed?.message === 'string' ? parsed.message.trim() : '';
      } catch (e) {
        return new EngineError('ENGINE_BAD_RESPONSE', `Error reading JSON: ${(e as Error).message}`, status);
      }
    } else {
      message = body.toString('utf8').trim();
    }
    if (message === '') {
      const text = http.STATUS_CODES[status] ?? String(status);
      const route = url.replace(this.baseUrl, '');
      return new EngineError('ENGINE_API_ERROR',
        `request returned ${text} for API route and version ${route}, check if the server supports the requested API version`,
        status, '');
    }
    return new EngineError('ENGINE_API_ERROR', `Error response from daemon: ${message}`, status, message);
  }
}

/** Go's url.Values.Encode: keys sorted, values escaped with + for space. */
export function encodeQuery(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value !== undefined) params.append(key, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The `filters` parameter: {"key":{"value":true}}, keys and values sorted as Go's encoder writes maps. */
export function filtersParam(filters: Record<string, string[]>): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const key of Object.keys(filters).sort()) {
    const values: Record<string, boolean> = {};
    for (const v of [...(filters[key] ?? [])].sort()) values[v] = true;
    out[key] = values;
  }
  return JSON.stringify(out);
}

export function compareVersions(a: string, b: string): number {
  const [a1 = 0, a2 = 0] = a.split('.').map(Number);
  const [b1 = 0, b2 = 0] = b.split('.').map(Number);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

function readAll(res: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}
