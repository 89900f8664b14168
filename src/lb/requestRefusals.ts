// What http mode refuses at the node, as HAProxy does (RFC 9112): requests whose target or framing a task
// behind us could read differently from the node, request lines without a version (HTTP/0.9), which
// Node's parser would take and then wait on, what Node's parser cannot read, and CONNECT (no tunnels).
// Each refusal is a status and a sentence for the client.
import type http from 'node:http';
import type net from 'node:net';

export interface Refusal {
  status: 400 | 405 | 408 | 413 | 422 | 431;
  /** Says why, to the client (the body of the answer) and to the node's log. */
  reason: string;
  /** A 405's Allow header (RFC 9110 §15.5.6). */
  allow?: string;
}

/** A request whose Host, target or framing is ambiguous, or that is HTTP/0.9; undefined when it may go on. */
export function refusalOf(request: http.IncomingMessage): Refusal | undefined {
  if (request.httpVersionMajor === 0) return HTTP09;
  let hosts = 0;
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return { status: 400, reason: `a request has one Host header (RFC 9112 §3.2); this one has ${hosts}` };
  const url = request.url ?? '/';
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
    const codings = encoding.split(',').map((coding) => coding.trim().toLowerCase());
    // Node's parser refuses chunked twice or not last; what is left is a coding before it, or none at all.
    if (codings[codings.length - 1] !== 'chunked') {
      return { status: 400, reason: `Transfer-Encoding ${encoding} does not end with chunked, so the body's length is unknown (RFC 9112 §6.3)` };
    }
    if (codings.length > 1) {
      return { status: 422, reason: `Transfer-Encoding ${encoding}: the node passes on only chunked bodies (identity is no coding since RFC 9112; decode others before sending)` };
    }
  }
  return undefined;
}

const HTTP09: Refusal = { status: 400, reason: 'HTTP/0.9 is not served: send an HTTP/1.x request line (method, target, HTTP/1.1)' };

/** Every method but CONNECT goes on to a task: the Allow of the 405 lists the usual ones. */
export const CONNECT_REFUSAL: Refusal = {
  status: 405,
  allow: 'GET, HEAD, POST, PUT, DELETE, OPTIONS, TRACE, PATCH',
  reason: 'CONNECT is not served: http mode balances requests, it opens no tunnels (publish the service with routemesh.lb.mode=tcp to pass any stream through)',
};

/** What each of Node's parser errors (llhttp's codes) means, and how to send it right. */
const PARSE_ERRORS: Record<string, { status: Refusal['status']; says: string }> = {
  HPE_INVALID_VERSION: { status: 400, says: 'the request line must end with HTTP/1.0 or HTTP/1.1, and every line with CRLF (RFC 9112 §2.2)' },
  HPE_CR_EXPECTED: { status: 400, says: 'every line must end with CRLF, not a bare LF (RFC 9112 §2.2)' },
  HPE_LF_EXPECTED: { status: 400, says: 'every line must end with CRLF (RFC 9112 §2.2)' },
  HPE_STRICT: { status: 400, says: 'every line must end with CRLF (RFC 9112 §2.2)' },
  HPE_INVALID_HEADER_TOKEN: {
    status: 400,
    says: 'each header line is a name, a colon right after it, and a value without control characters, on one line (no obs-fold; RFC 9112 §5)',
  },
  HPE_UNEXPECTED_CONTENT_LENGTH: { status: 400, says: 'a request has at most one Content-Length, so its body has one length (RFC 9112 §6.3)' },
  HPE_INVALID_TRANSFER_ENCODING: { status: 400, says: 'Content-Length and Transfer-Encoding together leave the body\'s length ambiguous: send one (RFC 9112 §6.3)' },
  HPE_INVALID_CONTENT_LENGTH: { status: 400, says: 'Content-Length must be one whole number of bytes, 0 or more, below 2^64 (RFC 9110 §8.6)' },
  HPE_INVALID_METHOD: { status: 400, says: 'the method must be a token, like GET or POST (RFC 9110 §9)' },
  HPE_INVALID_URL: { status: 400, says: 'the request target must be a path, an http(s) URL or * (RFC 9112 §3.2)' },
  HPE_INVALID_CHUNK_SIZE: { status: 400, says: 'each chunk of a chunked body starts with its size in hex (RFC 9112 §7.1)' },
  HPE_HEADER_OVERFLOW: { status: 431, says: 'the request\'s head is over 16 KiB: send fewer or shorter headers' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, says: 'a chunk\'s extensions are over 16 KiB' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, says: 'the request did not arrive whole in time' },
};

/**
 * The answer to a request Node's parser could not read (an http.Server's 'clientError'), which Node would
 * give as a bare 400; undefined for a connection error (a reset), which gets no answer.
 */
export function parseErrorRefusal(error: Error & { code?: string; reason?: string }): Refusal | undefined {
  const code = error.code ?? '';
  const known = PARSE_ERRORS[code];
  if (known) return { status: known.status, reason: error.reason ? `${error.reason}: ${known.says}` : known.says };
  if (!code.startsWith('HPE_')) return undefined;
  return { status: 400, reason: `the request could not be read (${error.reason ?? code}): send a well-formed HTTP/1.1 request (RFC 9112)` };
}

/** The longest first request head read before Node's parser takes over (its own limit, 16 KiB, then answers 431). */
const MAX_GATED_HEAD = 16 * 1024;

/**
 * Reads a connection's first request head before Node's parser gets the connection, then hands it over
 * (`handOver`) with what was read put back. A request line without a version is refused at once, where
 * Node's parser would take it as HTTP/0.9 and wait for headers; a head not whole within `timeoutMs` of
 * the connection's start is refused with 408 (Node would time only the part it saw).
 */
export function gateFirstHead(socket: net.Socket, timeoutMs: number, refuse: (refusal: Refusal) => void, handOver: () => void): void {
  let buffered: Buffer = Buffer.alloc(0);
  const done = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', onClose);
  };
  const timer = setTimeout(() => {
    done();
    refuse({ status: 408, reason: `the request's head did not arrive within ${timeoutMs / 1000}s` });
  }, timeoutMs);
  const onClose = (): void => done();
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    // Empty lines ahead of the request line are allowed (RFC 9112 §2.2).
    let start = 0;
    while (buffered[start] === 0x0d || buffered[start] === 0x0a) start++;
    const lineEnd = buffered.indexOf('\n', start);
    if (lineEnd >= 0 && !/ HTTP\/\d/.test(buffered.subarray(start, lineEnd).toString('latin1'))) {
      done();
      refuse(HTTP09);
      return;
    }
    if (lineEnd < 0 || (buffered.indexOf('\r\n\r\n') < 0 && buffered.indexOf('\n\n') < 0)) {
      if (buffered.length < MAX_GATED_HEAD) return;
    }
    done();
    socket.pause();
    socket.unshift(buffered);
    handOver();
    socket.resume();
  };
  socket.on('data', onData);
  socket.once('close', onClose);
  socket.resume();
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
