// What http mode refuses at the node, as HAProxy does (RFC 9112): requests whose target or framing a task
// behind us could read differently from the node, request lines without a version (HTTP/0.9), what cannot
// be read as HTTP/1.x at all (clientRequest.ts and RequestReader.ts find it), and CONNECT (no tunnels).
// Each refusal is a status and a sentence for the client.
import type { ClientRequest } from './clientRequest.js';

export interface Refusal {
  status: 400 | 405 | 408 | 413 | 422 | 431;
  /** Says why, to the client (the body of the answer) and to the node's log. */
  reason: string;
  /** A 405's Allow header (RFC 9110 §15.5.6). */
  allow?: string;
}

/** A request whose Host, target or framing is ambiguous, or that is HTTP/0.9; undefined when it may go on. */
export function refusalOf(request: ClientRequest): Refusal | undefined {
  const { hosts } = request;
  if (hosts === 0 && request.minorVersion === 1) return { status: 400, reason: 'an HTTP/1.1 request names its host in a Host header (RFC 9112 §3.2)' };
  if (hosts > 1) return { status: 400, reason: `a request has one Host header (RFC 9112 §3.2); this one has ${hosts}` };
  const url = request.target;
  if (!url.startsWith('/') && url !== '*') {
    const target = absoluteTarget(url);
    if (!target) return { status: 400, reason: `the request target ${url} is neither a path nor an http(s) URL` };
    const host = withoutDefaultPort(request.headers.host ?? '', target.protocol);
    if (host !== target.host) {
      return { status: 400, reason: `the request target names host ${target.host} and the Host header ${request.headers.host ?? '(none)'}: they must be the same (RFC 9112 §3.2)` };
    }
  }
  const encoding = request.headers['transfer-encoding'];
  // Plain `chunked`, what almost every client sends, needs no splitting.
  if (encoding !== undefined && encoding.toLowerCase() !== 'chunked') {
    // An empty element too is refused here, as Node's parser refuses it: a task may read it otherwise.
    const codings = encoding.split(',').map((coding) => coding.trim().toLowerCase());
    if (codings.indexOf('chunked') !== codings.length - 1) {
      return { status: 400, reason: `Transfer-Encoding ${encoding} does not end with chunked, or names it twice, so the body's length is unknown (RFC 9112 §6.3)` };
    }
    if (codings.length > 1) {
      return { status: 422, reason: `Transfer-Encoding ${encoding}: the node passes on only chunked bodies (identity is no coding since RFC 9112; decode others before sending)` };
    }
  }
  return undefined;
}

export const HTTP09: Refusal = { status: 400, reason: 'HTTP/0.9 is not served: send an HTTP/1.x request line (method, target, HTTP/1.1)' };

/** Every method but CONNECT goes on to a task: the Allow of the 405 lists the usual ones. */
export const CONNECT_REFUSAL: Refusal = {
  status: 405,
  allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH',
  reason: 'CONNECT is not served: http mode balances requests, it opens no tunnels (publish the service with routemesh.lb.mode=tcp to pass any stream through)',
};

/** A request the mesh will not pass on: `refusal` is its answer. */
export class RefusedRequest extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.reason);
  }
}

/** What each fault of an unreadable request means, and how to send it right (llhttp's names for them). */
const UNREADABLE = {
  INVALID_VERSION: { status: 400, says: 'the request line must end with HTTP/1.0 or HTTP/1.1, and every line with CRLF (RFC 9112 §2.2)' },
  CR_EXPECTED: { status: 400, says: 'every line must end with CRLF, not a bare LF (RFC 9112 §2.2)' },
  INVALID_HEADER_TOKEN: {
    status: 400,
    says: 'each header line is a name, a colon right after it, and a value without control characters, on one line (no obs-fold; RFC 9112 §5)',
  },
  UNEXPECTED_CONTENT_LENGTH: { status: 400, says: 'a request has at most one Content-Length, so its body has one length (RFC 9112 §6.3)' },
  INVALID_TRANSFER_ENCODING: { status: 400, says: 'Content-Length and Transfer-Encoding together leave the body\'s length ambiguous: send one (RFC 9112 §6.3)' },
  INVALID_CONTENT_LENGTH: { status: 400, says: 'Content-Length must be one whole number of bytes, 0 or more, below 2^64 (RFC 9110 §8.6)' },
  INVALID_METHOD: { status: 400, says: 'the method must be a token, like GET or POST (RFC 9110 §9)' },
  INVALID_URL: { status: 400, says: 'the request target must be a path, an http(s) URL or * (RFC 9112 §3.2)' },
  INVALID_CHUNK_SIZE: { status: 400, says: 'each chunk of a chunked body starts with its size in hex, and ends with CRLF (RFC 9112 §7.1)' },
  HEADER_OVERFLOW: { status: 431, says: 'the request\'s head is over 16 KiB: send fewer or shorter headers' },
} satisfies Record<string, { status: Refusal['status']; says: string }>;

/** The refusal of a request that cannot be read: `detail` is what was found, and the answer adds how to send it right. */
export function unreadable(fault: keyof typeof UNREADABLE, detail: string): RefusedRequest {
  const { status, says } = UNREADABLE[fault];
  return new RefusedRequest({ status, reason: `${detail}: ${says}` });
}

function absoluteTarget(url: string): URL | undefined {
  try {
    const target = new URL(url);
    return target.protocol === 'http:' || target.protocol === 'https:' ? target : undefined;
  } catch {
    return undefined;
  }
}

/** As a URL's host reads: lower case, the scheme's default port left out. */
function withoutDefaultPort(host: string, protocol: string): string {
  const lower = host.toLowerCase();
  const port = protocol === 'https:' ? ':443' : ':80';
  return lower.endsWith(port) ? lower.slice(0, -port.length) : lower;
}
