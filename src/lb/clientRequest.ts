// A client's request head in http mode (RFC 9112 §3, §5, §6), read strictly: a request line of a token
// method, a target and HTTP/1.0 or HTTP/1.1, then header lines that are a token, a colon right after it
// and a value without control characters, every line ended by CRLF, no obs-fold, and one unambiguous body
// length. What a task behind the mesh could read differently is refused (requestRefusals.ts says how),
// never guessed at: the mesh and every task must agree on where each request ends.
import type { IncomingHttpHeaders } from 'node:http';
import { headerOf, setHeader } from './headerMap.js';
import { CONNECT_REFUSAL, HTTP09, RefusedRequest, unreadable } from './requestRefusals.js';

/** Longest request head taken: Node's and HAProxy's default (a longer one gets 431). */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

export interface ClientRequest {
  method: string;
  /** As sent: a path, an absolute URL, or `*`. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: number;
  /** Lower-case names; a repeated header's values joined with ", " (Cookie's with "; "), as Node's own server has them. */
  headers: IncomingHttpHeaders;
  /** How many Host lines it had (RFC 9112 §3.2 allows one). */
  hosts: number;
  /** The body's length by Content-Length; 0 without one (and when chunked). */
  contentLength: number;
  /** The body is chunked (the Transfer-Encoding's codings are checked by requestRefusals.ts). */
  chunked: boolean;
  /** The client lets its connection carry another request after this one. */
  keepAlive: boolean;
  /** It asks to change protocols (Upgrade, named in Connection too, RFC 9110 §7.8). */
  upgrade: boolean;
}

/** tchar (RFC 9110 §5.6.2), by character code. */
const TOKEN_CHARS = new Uint8Array(256);
for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHARS[char.charCodeAt(0)] = 1;
/** Above this, a Content-Length is no exact number here (2^53 bytes is 8 PiB: none is that long). */
const MAX_LENGTH_DIGITS = 15;

/**
 * Reads `text`, the head up to (not including) its empty line, any empty lines before the request line
 * already left out; throws a RefusedRequest saying what is wrong. Scanned by character code: it runs once
 * per request (responseHead.ts reads answers the same way).
 */
export function parseClientRequest(text: string): ClientRequest {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  let at = 0;
  while (at < lineEnd && TOKEN_CHARS[text.charCodeAt(at)] === 1) at++;
  const method = text.slice(0, at);
  if (at === 0 || text.charCodeAt(at) !== 0x20) throw unreadable('INVALID_METHOD', 'a method that is not a token');
  const targetStart = at + 1;
  at = targetStart;
  while (at < lineEnd && isTargetChar(text.charCodeAt(at))) at++;
  const target = text.slice(targetStart, at);
  if (at === lineEnd) throw new RefusedRequest(target ? HTTP09 : unreadable('INVALID_URL', 'no request target').refusal);
  if (target === '' || text.charCodeAt(at) !== 0x20) throw unreadable('INVALID_URL', 'a space or control character in the request target');
  const minor = text.charCodeAt(at + 8) - 0x30;
  if (lineEnd !== at + 9 || !text.startsWith('HTTP/1.', at + 1) || (minor !== 0 && minor !== 1)) {
    throw unreadable('INVALID_VERSION', `the request line ends with ${JSON.stringify(text.slice(at + 1, Math.min(lineEnd, at + 40)))}`);
  }
  if (method === 'CONNECT') throw new RefusedRequest(CONNECT_REFUSAL);

  const headers: IncomingHttpHeaders = {};
  let hosts = 0;
  let lengths = 0;
  for (at = lineEnd + 2; at < text.length; at = lineEnd + 2) {
    lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) lineEnd = text.length;
    const first = text.charCodeAt(at);
    if (first === 0x20 || first === 0x09) throw unreadable('INVALID_HEADER_TOKEN', 'a header line that starts with a space (obs-fold)');
    let colon = at;
    while (colon < lineEnd && TOKEN_CHARS[text.charCodeAt(colon)] === 1) colon++;
    if (colon === at || text.charCodeAt(colon) !== 0x3a) {
      throw unreadable('INVALID_HEADER_TOKEN', `a header line that is not "name: value": ${JSON.stringify(text.slice(at, Math.min(lineEnd, at + 60)))}`);
    }
    const name = text.slice(at, colon).toLowerCase();
    let start = colon + 1;
    let end = lineEnd;
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    for (let i = start; i < end; i++) {
      const code = text.charCodeAt(i);
      if ((code < 0x20 && code !== 0x09) || code === 0x7f) throw unreadable('INVALID_HEADER_TOKEN', `a control character in header ${name}`);
    }
    const value = text.slice(start, end);
    if (name === 'host') hosts++;
    else if (name === 'content-length') lengths++;
    const before = headerOf(headers, name);
    setHeader(headers, name, before === undefined ? value : `${before as string}${name === 'cookie' ? '; ' : ', '}${value}`);
  }

  const encoding = headers['transfer-encoding'];
  const length = headers['content-length'];
  if (encoding !== undefined && length !== undefined) throw unreadable('INVALID_TRANSFER_ENCODING', 'Content-Length beside Transfer-Encoding');
  if (lengths > 1) throw unreadable('UNEXPECTED_CONTENT_LENGTH', `${lengths} Content-Length headers`);
  if (encoding !== undefined && minor === 0) throw unreadable('INVALID_TRANSFER_ENCODING', 'Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)');
  const connection = headers.connection?.toLowerCase();
  return {
    method, target, minorVersion: minor, headers, hosts,
    contentLength: length === undefined ? 0 : contentLengthOf(length),
    chunked: encoding !== undefined,
    keepAlive: minor === 1 ? !hasToken(connection, 'close') : hasToken(connection, 'keep-alive'),
    upgrade: headers.upgrade !== undefined && hasToken(connection, 'upgrade'),
  };
}

function contentLengthOf(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x30 || code > 0x39) throw unreadable('INVALID_CONTENT_LENGTH', `Content-Length ${JSON.stringify(value.slice(0, 40))}`);
  }
  if (value.length === 0) throw unreadable('INVALID_CONTENT_LENGTH', 'an empty Content-Length');
  const digits = value.replace(/^0+(?=\d)/, '');
  if (digits.length > 20 || (digits.length === 20 && digits > '18446744073709551615')) throw unreadable('INVALID_CONTENT_LENGTH', 'Content-Length overflow');
  if (digits.length > MAX_LENGTH_DIGITS && Number(digits) > Number.MAX_SAFE_INTEGER) {
    throw new RefusedRequest({ status: 413, reason: `a Content-Length of ${digits} bytes: the node passes on bodies below 2^53 bytes` });
  }
  return Number(digits);
}

/** A visible ASCII character: a target is percent-encoded past that (RFC 3986), as HAProxy and Node require. */
function isTargetChar(code: number): boolean {
  return code > 0x20 && code < 0x7f;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** `list` (lower case) names `token` as one of its comma-separated elements. */
function hasToken(list: string | undefined, token: string): boolean {
  if (list === undefined) return false;
  if (list === token) return true;
  for (const element of list.split(',')) if (element.trim() === token) return true;
  return false;
}
