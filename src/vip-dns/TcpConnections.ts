// The DNS server's TCP connections: how many, from whom, and for how long. Each query must arrive whole
// within queryReadMs of its first byte, and a connection with no query in flight is closed idleMs after its
// accept or its last answer; a byte restarts neither (CoreDNS and Unbound time them the same way). At the
// caps the connection idle longest (of the server, or of the newcomer's source address) makes room, so
// clients that hold connections without asking cannot lock the others out.
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameReader, frame } from './tcpFrames.js';

export interface TcpLimits {
  /** Open connections at once, at most. */
  maxConnections: number;
  /** Open connections from one source address, at most. */
  maxPerSource: number;
  idleMs: number;
  queryReadMs: number;
}

/** Queries answered on one connection before we stop reading it until the client reads our answers. */
const PIPELINE_LIMIT = 32;

interface Connection {
  socket: net.Socket;
  source: string;
}

export class TcpConnections {
  readonly #limits: TcpLimits;
  readonly #answer: (message: Buffer, source: string | undefined) => Promise<Buffer | undefined>;
  readonly #log: (line: string) => void;
  readonly #open = new Set<Connection>();
  /** Open connections with no query in flight, in the order they became so: the first is idle longest. */
  readonly #idle = new Set<Connection>();
  readonly #perSource = new Map<string, number>();

  constructor(limits: TcpLimits, answer: (message: Buffer, source: string | undefined) => Promise<Buffer | undefined>, log: (line: string) => void) {
    this.#limits = limits;
    this.#answer = answer;
    this.#log = log;
  }

  /** Serves a new connection, after making room for it; closes it when there is none to make. */
  accept(socket: net.Socket): void {
    const source = socket.remoteAddress ?? '';
    const full = (this.#perSource.get(source) ?? 0) >= this.#limits.maxPerSource;
    if ((full && !this.#evict(source)) || (this.#open.size >= this.#limits.maxConnections && !this.#evict())) {
      socket.destroy();
      return;
    }
    this.#serve({ socket, source });
  }

  destroyAll(): void {
    for (const { socket } of this.#open) socket.destroy();
  }

  /** Closes the connection idle longest (of `source`, if given); false when every one has a query in flight. */
  #evict(source?: string): boolean {
    for (const connection of this.#idle) {
      if (source !== undefined && connection.source !== source) continue;
      this.#forget(connection);
      connection.socket.destroy();
      return true;
    }
    return false;
  }

  /** Gives up the connection's places at once: a socket destroyed now reports its close only later. */
  #forget(connection: Connection): void {
    if (!this.#open.delete(connection)) return;
    this.#idle.delete(connection);
    const left = (this.#perSource.get(connection.source) ?? 1) - 1;
    if (left > 0) this.#perSource.set(connection.source, left);
    else this.#perSource.delete(connection.source);
  }

  #serve(connection: Connection): void {
    const { socket, source } = connection;
    this.#open.add(connection);
    this.#idle.add(connection);
    this.#perSource.set(source, (this.#perSource.get(source) ?? 0) + 1);
    const reader = new FrameReader();
    let unanswered = 0;
    let reading = true;
    let peerDone = false;
    let idleSince = performance.now();
    let deadline = Infinity;
    let timer: NodeJS.Timeout | undefined;
    // One timer a connection, for the deadline that applies now: the query being read, else, with no query
    // in flight, the idle time. None while answers are awaited (the forwarder's timeouts bound those) or
    // while we do not read: bytes waiting then are not the client's delay.
    const arm = (): void => {
      const partialSince = reading ? reader.partialSince : undefined;
      const next = partialSince !== undefined ? partialSince + this.#limits.queryReadMs
        : unanswered === 0 ? idleSince + this.#limits.idleMs : Infinity;
      if (next === deadline) return;
      deadline = next;
      clearTimeout(timer);
      timer = next === Infinity ? undefined : setTimeout(() => socket.destroy(), Math.max(0, next - performance.now()));
    };
    // Takes queries off the stream while fewer than the limit wait for their answers, and reads the socket
    // only while that is so and the client keeps up with our answers: a connection holds bounded memory.
    const pump = (): void => {
      while (unanswered < PIPELINE_LIMIT) {
        const message = reader.next();
        if (!message) break;
        answer(message);
      }
      reading = unanswered < PIPELINE_LIMIT && !socket.writableNeedDrain;
      if (reading) socket.resume();
      else socket.pause();
      if (peerDone && unanswered === 0) socket.end();
      arm();
    };
    const answer = (message: Buffer): void => {
      if (unanswered++ === 0) this.#idle.delete(connection);
      void this.#answer(message, socket.remoteAddress).then((reply) => {
        if (--unanswered === 0 && this.#open.has(connection)) {
          idleSince = performance.now();
          this.#idle.add(connection);
        }
        if (socket.destroyed) return;
        // Nothing to say to this message (it was not a query): the stream cannot be trusted past it.
        if (!reply) return void socket.destroy();
        socket.write(frame(reply));
        pump();
      }).catch((error: Error) => {
        this.#log(`dns: TCP answer failed: ${error.message}`);
        socket.destroy();
      });
    };
    socket.on('data', (chunk) => {
      reader.push(chunk);
      pump();
    });
    socket.on('drain', pump);
    socket.on('end', () => {
      peerDone = true;
      pump();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      this.#forget(connection);
    });
    arm();
  }
}
