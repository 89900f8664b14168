// Where a faulty link shapes its connections: one listener per node, on the node's own address, that the
// link's sockets connect to once the link has made their real connection to the backend. Each accepted
// socket is paired with its connection by its port (our own sockets are the only ones that come), then
// the two are joined through shaped relays. With no fault anywhere, no connection passes here.
import net from 'node:net';
import type { LinkFault } from './LinkFault.js';
import { shapedRelay } from './shapedRelay.js';
import type { ResetBudget } from './shapedRelay.js';

/** A connection a link made, waiting for its socket to arrive at the proxy. */
export interface ShapedConnection {
  /** The caller's socket, connecting to the proxy. */
  socket: net.Socket;
  /** The real connection to the backend, already connected; undefined for a blackhole. */
  backend: net.Socket | undefined;
  fault(): LinkFault;
  random: () => number;
  /** Told of each of the two sockets of this connection that is open, so a lifted blackhole can cut them. */
  opened(socket: net.Socket): void;
}

export class FaultProxy {
  readonly host: string;
  readonly #server: net.Server;
  #port: number | undefined;
  readonly #waiting = new Set<ShapedConnection>();
  readonly #accepted = new Set<net.Socket>();

  constructor(host: string) {
    this.host = host;
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.#accept(socket));
  }

  /** Its port; undefined until it listens. */
  get port(): number | undefined {
    return this.#port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.host, port: 0 }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as net.AddressInfo).port;
  }

  /** `connection.socket` is connecting to this proxy now: it is joined to its backend when it arrives. */
  expect(connection: ShapedConnection): void {
    this.#waiting.add(connection);
    connection.socket.once('close', () => this.#waiting.delete(connection));
  }

  #accept(socket: net.Socket): void {
    this.#accepted.add(socket);
    socket.once('close', () => this.#accepted.delete(socket));
    let connection: ShapedConnection | undefined;
    for (const waiting of this.#waiting) {
      if (waiting.socket.localPort === socket.remotePort && waiting.socket.localAddress === socket.remoteAddress) connection = waiting;
    }
    if (!connection) {
      socket.destroy(); // not one of ours
      return;
    }
    this.#waiting.delete(connection);
    join(socket, connection);
  }

  /** Stops listening, and ends the connections still passing through. */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#accepted) socket.destroy();
    return closed;
  }
}

/** The accepted socket and the backend's, through shaped relays; a blackhole swallows what it is sent. */
function join(accepted: net.Socket, connection: ShapedConnection): void {
  const { backend } = connection;
  connection.opened(accepted);
  accepted.on('error', () => accepted.destroy());
  if (!backend) {
    accepted.resume(); // read and dropped: accepted, never answered
    return;
  }
  connection.opened(backend);
  backend.on('error', () => backend.destroy());
  const resetAfter = connection.fault().resetAfterBytes;
  const budget: ResetBudget | undefined = resetAfter === undefined ? undefined : { left: resetAfter };
  // A reset overtakes bytes its peer has not read yet (they are lost, and it reads an end instead): the
  // caller's socket is ours, so the reset waits until it has read every byte sent to it.
  const spent = (): void => {
    const sent = accepted.bytesWritten;
    const resetWhenRead = (): void => {
      if (connection.socket.bytesRead < sent && !connection.socket.destroyed) {
        setTimeout(resetWhenRead, 1);
        return;
      }
      accepted.resetAndDestroy();
      backend.resetAndDestroy();
    };
    resetWhenRead();
  };
  if (budget?.left === 0) {
    spent();
    return;
  }
  // A reset on either side is passed on as a reset; a clean end as an end (the relays send it).
  accepted.once('close', (hadError) => { if (hadError && !backend.destroyed) backend.resetAndDestroy(); });
  backend.once('close', (hadError) => { if (hadError && !accepted.destroyed) accepted.resetAndDestroy(); });
  const shared = { fault: connection.fault, budget, random: connection.random, spent };
  shapedRelay(accepted, backend, { ...shared, delayed: false });
  shapedRelay(backend, accepted, { ...shared, delayed: true });
  backend.resume();
}
