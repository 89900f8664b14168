// The answers the mesh writes itself in http mode where it closes the connection after them (a refusal,
// an upgrade that cannot go on): short text/plain bodies that say why. Those on a connection kept alive
// are ClientConnection.reply's.
import http from 'node:http';

/** The answer as raw bytes, with Connection: close. */
export function rawReply(status: number, message: string, allow?: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${allow ? `allow: ${allow}\r\n` : ''}` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
