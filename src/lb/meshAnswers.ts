// The answers the mesh writes itself in http mode: short text/plain bodies that say why, through a
// ServerResponse, or straight on a socket no parser answers on (a refused first head, an upgrade).
import http from 'node:http';

export function reply(response: http.ServerResponse, status: number, message: string): void {
  const body = `${message}\n`;
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
}

/** The same answer as raw bytes, closing the connection (no ServerResponse exists for it). */
export function rawReply(status: number, message: string, allow?: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${allow ? `allow: ${allow}\r\n` : ''}` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
