// A task's answer head (RFC 9112 §4, §5), read strictly: a status line of HTTP/1.0 or HTTP/1.1, then
// header lines that are a token, a colon right after it and a value without control characters, every
// line ended by CRLF, no obs-fold. What the mesh cannot read exactly so, it does not guess at: the answer
// is a 502 and the connection is closed, so a task can never make the mesh and the client disagree on
// where one answer ends.

/** Longest head taken from a task: Node's own default for what its HTTP client reads. */
export const MAX_HEAD_BYTES = 16 * 1024;

export interface ResponseHead {
  status: number;
  reason: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minorVersion: number;
  /** Names and values in the order sent, the names' case kept. */
  rawHeaders: string[];
  /** The Connection header's value (several joined with ", "), if any. */
  connection: string | undefined;
  /** Transfer-Encoding's value (several joined), if any. */
  transferEncoding: string | undefined;
  /** Every Content-Length value, as sent (several headers or a list). */
  contentLengths: string[];
  /** Keep-Alive's timeout, in milliseconds, when the task announces one. */
  idleTimeoutMs: number | undefined;
}

/** tchar (RFC 9110 §5.6.2), by character code: what a header name is made of. */
const TOKEN_CHARS = new Uint8Array(128);
for (const char of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHARS[char.charCodeAt(0)] = 1;

/**
 * Reads `text`, the head up to (not including) its empty line; throws an Error saying what is wrong. It
 * runs once per answer, so it scans by character code instead of splitting and matching patterns (five
 * times faster, bench/README.md).
 */
export function parseResponseHead(text: string): ResponseHead {
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd < 0) lineEnd = text.length;
  const minor = text.charCodeAt(7) - 0x30;
  const status = statusCode(text);
  if (!text.startsWith('HTTP/1.') || (minor !== 0 && minor !== 1) || text.charCodeAt(8) !== 0x20 || status < 0 ||
    (lineEnd > 12 && text.charCodeAt(12) !== 0x20) || lineEnd < 12 || hasControl(text, 13, lineEnd)) {
    throw new Error(`a status line that is not "HTTP/1.x NNN reason": ${JSON.stringify(text.slice(0, Math.min(lineEnd, 80)))}`);
  }
  const head: ResponseHead = {
    status, reason: lineEnd > 13 ? text.slice(13, lineEnd) : '', minorVersion: minor, rawHeaders: [],
    connection: undefined, transferEncoding: undefined, contentLengths: [], idleTimeoutMs: undefined,
  };
  for (let at = lineEnd + 2; at < text.length; at = lineEnd + 2) {
    lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) lineEnd = text.length;
    let colon = at;
    while (colon < lineEnd && TOKEN_CHARS[text.charCodeAt(colon)] === 1) colon++;
    if (colon === at || colon === lineEnd || text.charCodeAt(colon) !== 0x3a) {
      throw new Error(`a header line that is not "name: value": ${JSON.stringify(text.slice(at, Math.min(lineEnd, at + 80)))}`);
    }
    const name = text.slice(at, colon);
    let start = colon + 1;
    let end = lineEnd;
    while (start < end && isSpace(text.charCodeAt(start))) start++;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
    if (hasControl(text, start, end)) throw new Error(`a control character in header ${name}`);
    const value = text.slice(start, end);
    head.rawHeaders.push(name, value);
    switch (name.length === 10 || name.length === 14 || name.length === 17 ? name.toLowerCase() : '') {
      case 'connection': head.connection = joined(head.connection, value); break;
      case 'keep-alive': head.idleTimeoutMs = idleTimeoutOf(value) ?? head.idleTimeoutMs; break;
      case 'content-length': head.contentLengths.push(...value.split(',').map(trimSpaces)); break;
      case 'transfer-encoding': head.transferEncoding = joined(head.transferEncoding, value); break;
    }
  }
  return head;
}

/** The three digits at 9–11, the first not 0; -1 when they are not. */
function statusCode(text: string): number {
  const hundreds = text.charCodeAt(9) - 0x30;
  const tens = text.charCodeAt(10) - 0x30;
  const units = text.charCodeAt(11) - 0x30;
  if (!(hundreds >= 1 && hundreds <= 9 && tens >= 0 && tens <= 9 && units >= 0 && units <= 9)) return -1;
  return hundreds * 100 + tens * 10 + units;
}

/** Any control character but HTAB (DEL included) between `start` and `end`: none may be in a value or reason. */
function hasControl(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

/** RFC 9110 §5.5: optional whitespace around a value is SP and HTAB, nothing else (not even obs-text's NBSP). */
function trimSpaces(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isSpace(value.charCodeAt(start))) start++;
  while (end > start && isSpace(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function joined(before: string | undefined, value: string): string {
  return before === undefined ? value : `${before}, ${value}`;
}

function idleTimeoutOf(keepAlive: string): number | undefined {
  const seconds = /(?:^|[,;\s])timeout=(\d+)/i.exec(keepAlive)?.[1];
  return seconds === undefined ? undefined : Number(seconds) * 1000;
}
