// The head of a request as a task gets it, in one string: the client's method and target over HTTP/1.1,
// the headers hopHeaders.ts chose, and the mesh's own Connection in place of the client's. The values
// come from the mesh's strict reader of requests (clientRequest.ts) or the mesh itself, so none can break a line.
import type { IncomingHttpHeaders } from 'node:http';

/**
 * `connection` is what the task is asked for: keep-alive for a plain request, the client's own for an
 * upgrade. A request without Host (HTTP/1.0 allows it) names the task, as Node's HTTP client would.
 */
export function requestHead(method: string, target: string, headers: IncomingHttpHeaders, connection: string, taskAddress: string): string {
  let head = `${method} ${target} HTTP/1.1\r\n`;
  for (const name in headers) {
    if (name === 'connection') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') head += `${name}: ${value}\r\n`;
    else for (const each of value) head += `${name}: ${each}\r\n`;
  }
  if (headers.host === undefined) head += `host: ${taskAddress}\r\n`;
  return `${head}connection: ${connection}\r\n\r\n`;
}

/**
 * The target as a task on the other side of a gateway expects it: an absolute-form one (`http://a/x`,
 * which only proxies are sent, and which requestRefusals.ts has checked against Host) loses its scheme and
 * authority, as HAProxy and Node's own proxies do. The path is passed as it came, not normalised.
 */
export function originForm(target: string): string {
  if (target.startsWith('/') || target === '*') return target;
  const authority = target.indexOf('//') + 2;
  const path = target.slice(authority).search(/[/?]/);
  if (path < 0) return '/';
  const rest = target.slice(authority + path);
  return rest.startsWith('?') ? `/${rest}` : rest;
}
