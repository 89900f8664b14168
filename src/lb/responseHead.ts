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

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Any control character but HTAB, DEL included: none may be in a field value. */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Reads `text`, the head up to (not including) its empty line; throws an Error saying what is wrong. */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (!statusLine) throw new Error(`a status line that is not "HTTP/1.x NNN reason": ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const head: ResponseHead = {
    status: Number(statusLine[2]), reason: statusLine[3] ?? '', minorVersion: Number(statusLine[1]), rawHeaders: [],
    connection: undefined, transferEncoding: undefined, contentLengths: [], idleTimeoutMs: undefined,
  };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new Error(`a header line that is not "name: value": ${JSON.stringify(line.slice(0, 80))}`);
    const value = trimSpaces(line.slice(colon + 1));
    if (CONTROL.test(value)) throw new Error(`a control character in header ${name}`);
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
