// The answers the mesh writes itself in http mode where it closes the connection after them (a refusal,
// an upgrade that cannot go on): short text/plain bodies that say why. Those on a connection kept alive
// are ClientConnection.reply's.
import http from 'node:http';
import type net from 'node:net';

/** How long a connection answered so waits for its client to close before it is closed anyway. */
export const LINGER_MS = 1000;

/** Ends `socket` with `answer`; a client that keeps its side open is not waited on for long. */
export function endWith(socket: net.Socket, answer: string): void {
  socket.end(answer);
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.once('close', () => clearTimeout(linger));
}

/** The answer as raw bytes, with Connection: close. */
export function rawReply(status: number, message: string, allow?: string): string {
  const body = `${message}\n`;
  return `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n${allow ? `allow: ${allow}\r\n` : ''}` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
