// Bytes from one socket to another, as `pipe` passes them but with less per connection: two listeners
// on the reader (pipe sets up six across both sockets, and takes them down again at the end), and a
// 'drain' listener only while the writer is full.
import type net from 'node:net';

/** `from`'s bytes go to `to` as they come; `from` waits while `to` cannot take more; `from`'s end ends `to`. */
export function relay(from: net.Socket, to: net.Socket): void {
  const resume = (): void => { from.resume(); };
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', resume);
    }
  });
  from.once('end', () => { endWriting(to); });
}

/**
 * Half-closes `socket`'s sending side. When it has read its peer's end already and holds nothing unsent,
 * closing it is the same to the peer (a FIN after the last byte) and saves a shutdown() call.
 */
export function endWriting(socket: net.Socket): void {
  if (socket.destroyed || socket.writableEnded) return;
  if (socket.readableEnded && socket.writableLength === 0) socket.destroy();
  else socket.end();
}
