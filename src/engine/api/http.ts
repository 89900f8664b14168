// HTTP plumbing of the engine API: errors with the daemon's status codes and its exact
// `application/json` Content-Type (the docker CLI prints raw JSON for any other), body parsing with limits.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SwarmError } from '../../swarm/index.js';
import type { SwarmErrorCode } from '../../swarm/index.js';

export const API_VERSION = '1.50';
/** The oldest API version Docker 28 serves. */
export const MIN_API_VERSION = '1.24';
export const ENGINE_VERSION = '28.2.2';
const MAX_BODY_BYTES = 1 << 20;
/** Far deeper than any Docker object nests; code that walks a body recursively never overflows its stack. */
export const MAX_JSON_DEPTH = 64;

export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const STATUS_OF: Record<SwarmErrorCode, number> = {
  not_found: 404,
  invalid_argument: 400,
  already_exists: 409,
  failed_precondition: 400,
  permission_denied: 403,
  // Docker answers a stale ?version= with 500, but it is the client's doing: no 5xx may come from input.
  // The docker CLI prints the daemon's message whatever the status.
  out_of_sequence: 409,
  unimplemented: 501,
  unavailable: 503,
};

export function statusOf(error: unknown): { status: number; message: string } {
  if (error instanceof ApiError) return { status: error.status, message: error.message };
  if (error instanceof SwarmError) return { status: STATUS_OF[error.code], message: error.message };
  return { status: 500, message: error instanceof Error ? error.message : String(error) };
}

/** Headers the real daemon sends on every response; the CLI reads them from the ping. */
export function commonHeaders(res: ServerResponse, swarm: string): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', `Docker/${ENGINE_VERSION} (linux)`);
  res.setHeader('Swarm', swarm);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.statusCode = status;
  if (text) {
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', Buffer.byteLength(text));
  } else {
    res.setHeader('Content-Length', 0);
  }
  res.end(text);
}

export function sendError(res: ServerResponse, error: unknown): void {
  const { status, message } = statusOf(error);
  sendJson(res, status, { message });
}

/**
 * The request body as JSON; an empty body is `undefined`. As Docker's CheckForJSON, a body must come as
 * `Content-Type: application/json` (so a web page's "simple" text/plain POST carries no spec); refuses
 * bodies over 1 MiB, invalid JSON and JSON nested deeper than MAX_JSON_DEPTH with 400.
 */
/** Each request's body as read, so a manager that is not the leader can send it on (see leaderForward). */
const rawBodies = new WeakMap<IncomingMessage, Buffer>();

export function rawBodyOf(req: IncomingMessage): Buffer | undefined {
  return rawBodies.get(req);
}

export async function readJson(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && type.split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw new ApiError(400, `unsupported Content-Type header (${type}): must be 'application/json'`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ApiError(413, `request body is larger than ${maxBytes === MAX_BODY_BYTES ? '1 MiB' : `${maxBytes} bytes`}`);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks);
  rawBodies.set(req, raw);
  const text = raw.toString('utf8').trim();
  if (!text) return undefined;
  if (type === undefined) throw new ApiError(400, "missing Content-Type header: send the request body as 'application/json'");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `invalid JSON in request body: ${(error as Error).message}`);
  }
  if (nestsDeeper(body, MAX_JSON_DEPTH)) {
    throw new ApiError(400, `invalid JSON in request body: it nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays; no Docker object does`);
  }
  return body;
}

/** Whether objects and arrays nest more than `levels` deep; recurses at most `levels` + 1 calls. */
function nestsDeeper(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  return Object.values(value).some((inner) => nestsDeeper(inner, levels - 1));
}

/** The `?version=` of an update: decimal digits of a uint64, as Docker's strconv.ParseUint(v, 10, 64) takes it (not `1e3`). */
export function requireVersion(query: URLSearchParams): number {
  const raw = query.get('version');
  if (raw === null || !/^\d+$/.test(raw) || BigInt(raw) > 0xffff_ffff_ffff_ffffn) {
    throw new ApiError(400, `invalid version: the update needs ?version=<Version.Index of the object you read>, in decimal digits, got ${JSON.stringify(raw)}`);
  }
  // Past 2^53 it is not exact, and no longer needs to be: no object's version gets that far.
  return Number(raw);
}

export function isTrue(value: string | null): boolean {
  return value === '1' || value === 'true' || value === 'True';
}
