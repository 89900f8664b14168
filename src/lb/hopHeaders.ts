// Headers across the mesh's hop in http mode. A request carries on to its task the client's headers,
// less the hop-by-hop ones (they describe the client's connection, not ours to the task), plus who the
// client is; an answer carries back the task's, less its hop-by-hop ones. From an untrusted
// source, X-Forwarded-* and Forwarded are replaced, never appended to (as Traefik does): a client could
// otherwise put any address first and a task would take it for the truth. A trusted load balancer in
// front has its chain kept and the mesh's hop appended.
import type { IncomingHttpHeaders } from 'node:http';
import { setHeader } from './headerMap.js';
import { plain } from './proxyHeader.js';
import type { ResponseHead } from './responseHead.js';

/** RFC 9110 §7.6.1, plus what old clients still send. `connection` and `upgrade` are dealt with apart. */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer'];
/**
 * Never sent on to a task: hop-by-hop headers, and `Expect: 100-continue`, which the mesh answers itself
 * (as nginx does), so the task gets the body straight away.
 */
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'expect']);
/** Dropped from every answer: the task's hop, or framing the mesh redoes for its own client. */
const RESPONSE_HOP_BY_HOP = new Set([...HOP_BY_HOP, 'connection', 'transfer-encoding', 'upgrade']);
const FORWARDING = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port']);
/**
 * Never dropped because a client's Connection names them: they frame or route the message. A body that
 * lost its length would be read by the task as the next request on a connection other clients' requests
 * share.
 */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'host']);
const NONE: readonly string[] = [];

/** The names a Connection header lists, lower-cased: hop-by-hop too (RFC 9110 §7.6.1). */
function listedIn(connection: string | undefined): string[] {
  return (connection ?? '').split(',').map((token) => token.trim().toLowerCase()).filter(Boolean);
}

export interface RequestOrigin {
  /** The client's address as the socket has it (IPv4-mapped IPv6 is shown as IPv4). */
  address: string;
  /** The port the client reached the mesh on. */
  localPort: number;
  /** The address's own forwarding headers are believed (a load balancer in front). */
  trusted: boolean;
  /** A WebSocket upgrade: `connection` and `upgrade` must reach the task. */
  upgrade: boolean;
}

export function taskRequestHeaders(incoming: IncomingHttpHeaders, origin: RequestOrigin): IncomingHttpHeaders {
  const listed = incoming.connection && incoming.connection !== 'keep-alive' ? listedIn(incoming.connection) : NONE;
  // Built by adding only, once per request: copying the whole object and deleting from it cost 7 µs a
  // request (bench/README.md, "http mode").
  const headers: IncomingHttpHeaders = {};
  for (const name in incoming) {
    if (NOT_FORWARDED.has(name)) continue;
    if (name === 'upgrade' && !origin.upgrade) continue;
    if (!origin.trusted && FORWARDING.has(name)) continue;
    // What the client's Connection lists is hop-by-hop too, except what frames the message. The client's
    // own Connection stays for the reply's sake; the mesh sets the task's (see HttpForwarder).
    if (listed.includes(name) && name !== 'connection' && !FRAMING.has(name) && !(origin.upgrade && name === 'upgrade')) continue;
    setHeader(headers, name, incoming[name]);
  }

  const client = plain(origin.address);
  const proto = origin.upgrade ? 'ws' : 'http';
  const host = incoming.host ?? '';
  const appended = (name: string, value: string): string => {
    const before = headers[name];
    const text = Array.isArray(before) ? before.join(', ') : before;
    return text ? `${text}, ${value}` : value;
  };
  headers['x-forwarded-for'] = appended('x-forwarded-for', client);
  // Proto, host and port describe the first hop: a trusted front's values stand.
  headers['x-forwarded-proto'] ??= proto;
  headers['x-forwarded-host'] ??= host;
  headers['x-forwarded-port'] ??= String(origin.localPort);
  const forwarded = [`for=${forwardedNode(client)}`, ...(host ? [`host=${quotedIfNeeded(host)}`] : []), `proto=${proto}`].join(';');
  headers.forwarded = appended('forwarded', forwarded);
  return headers;
}

/** RFC 7239 §6: an IPv6 address goes in brackets, and then in quotes. */
function forwardedNode(address: string): string {
  return address.includes(':') ? `"[${address}]"` : address;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function quotedIfNeeded(value: string): string {
  return TOKEN.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * The task's answer headers for the client, as raw name/value pairs (their case kept): without Connection,
 * what it lists, Keep-Alive (the task's idle limit is not the mesh's), Transfer-Encoding (the mesh frames
 * the body to its client itself) and the other hop-by-hop headers.
 */
export function clientResponseHeaders(rawHeaders: readonly string[], connection: string | undefined): string[] {
  const listed = connection ? listedIn(connection) : NONE;
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (!RESPONSE_HOP_BY_HOP.has(name) && !listed.includes(name)) kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

/**
 * A task's answer's headers for the client, as clientResponseHeaders keeps them, with one Content-Length
 * at most: none beside a Transfer-Encoding (the body was read by that, and the client gets it framed
 * anew: a length passed on there would split the answer), and a repeated one (equal repeats are allowed,
 * RFC 9110 §8.6) once.
 */
export function answerHeaders(head: ResponseHead): string[] {
  const headers = clientResponseHeaders(head.rawHeaders, head.connection);
  if (head.contentLengths.length === 0 || (head.transferEncoding === undefined && head.contentLengths.length === 1)) return headers;
  const kept: string[] = [];
  let lengthKept = head.transferEncoding !== undefined;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length') {
      if (lengthKept) continue;
      lengthKept = true;
      kept.push(headers[i]!, head.contentLengths[0]!);
      continue;
    }
    kept.push(headers[i]!, headers[i + 1]!);
  }
  return kept;
}
