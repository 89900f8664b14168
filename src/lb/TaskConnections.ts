// http mode's connections to tasks, kept alive between requests: per task, the idle ones in a stack (the
// most recently used goes first, so the others age out), each closed after a minute unused, or a second
// before the task's own announced limit (`Keep-Alive: timeout=5`), so a request rarely meets a connection
// the task is closing. A connection carries one request at a time; its socket's listeners are set once,
// and hand what happens to whichever exchange holds it now.
import type net from 'node:net';
import type { Backend } from './Backend.js';
import { dial } from './FaultyLink.js';
import { ResponseReader } from './ResponseReader.js';

/** The longest a connection to a task stays open with no request on it. */
const TASK_IDLE_MS = 60_000;
/** Idle connections kept per task (Node's http.Agent keeps 256): after a burst the rest close at once. */
const MAX_IDLE_PER_TASK = 256;
/**
 * Every task connection reads into this one buffer (Node's `onread`), and what is read is handled before
 * the next read: no buffer is made per read. What outlives the read (a body passed on, part of a head) is
 * copied by whoever keeps it.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** What uses a connection for one request. */
export interface ConnectionUser {
  /** A new connection is open. */
  connected(): void;
  /** Bytes from the task, in the shared read buffer: valid until this returns. */
  data(chunk: Buffer): void;
  /** The connection is gone: `error` when it failed, none when the task closed it. */
  closed(error: Error | undefined): void;
  /** The socket's timeout, as the user set it, ran out. */
  timedOut(): void;
}

/** The idle connections of one task, and the mark of its current generation: retiring a task starts a new one. */
interface Home {
  idle: TaskConnection[];
}

export class TaskConnection {
  readonly socket: net.Socket;
  readonly backend: Backend;
  readonly home: Home;
  /** Reads each answer on this connection in turn. */
  readonly reader = new ResponseReader();
  user: ConnectionUser | undefined;
  /** It carried a request before this one. */
  reused = false;
  #error: Error | undefined;

  constructor(backend: Backend, home: Home, localAddress: string | undefined) {
    this.backend = backend;
    this.home = home;
    const onread = { buffer: READ_BUFFER, callback: (length: number, buffer: Buffer): boolean => this.#read(buffer.subarray(0, length)) };
    this.socket = dial(backend, { host: backend.host, port: backend.port, noDelay: true, onread, ...(localAddress ? { localAddress } : {}) });
    this.socket.on('connect', () => this.user?.connected());
    this.socket.on('error', (error) => { this.#error = error; });
    this.socket.on('timeout', () => {
      if (this.user) this.user.timedOut();
      else this.socket.destroy();
    });
    this.socket.on('close', () => {
      const user = this.user;
      this.user = undefined;
      if (user) user.closed(this.#error);
      else removeFrom(this.home.idle, this);
    });
  }

  /** Always true: reading goes on (a slow client pauses the socket itself). */
  #read(chunk: Buffer): boolean {
    if (this.user) this.user.data(chunk);
    else this.socket.destroy(); // an idle task has nothing to say: it is not to be trusted with the next request
    return true;
  }
}

export class TaskConnections {
  readonly #localAddress: string | undefined;
  readonly #homes = new Map<Backend, Home>();

  constructor(localAddress?: string) {
    this.#localAddress = localAddress;
  }

  /** An idle connection to `backend` (`reused`), or a new one connecting; `user` gets its events from now on. */
  take(backend: Backend, user: ConnectionUser): TaskConnection {
    let home = this.#homes.get(backend);
    if (!home) this.#homes.set(backend, (home = { idle: [] }));
    let connection = home.idle.pop();
    if (connection) {
      connection.reused = true;
      connection.socket.setTimeout(0);
    } else {
      connection = new TaskConnection(backend, home, this.#localAddress);
    }
    connection.user = user;
    return connection;
  }

  /**
   * Back after a complete answer, to carry the next request; closed instead when its task was retired
   * since it was taken, or already has as many idle ones as are kept. `idleTimeoutMs`: the task's own
   * limit, when it announced one.
   */
  give(connection: TaskConnection, idleTimeoutMs: number | undefined): void {
    connection.user = undefined;
    const { socket, home } = connection;
    if (socket.destroyed) return;
    if (this.#homes.get(connection.backend) !== home || home.idle.length >= MAX_IDLE_PER_TASK) {
      socket.destroy();
      return;
    }
    socket.setTimeout(idleTimeoutMs === undefined ? TASK_IDLE_MS : Math.min(TASK_IDLE_MS, Math.max(idleTimeoutMs - 1000, 500)));
    home.idle.push(connection);
  }

  /** `backend` has left its pool, or takes no new requests: its idle connections close now, its busy ones once done. */
  retire(backend: Backend): void {
    const home = this.#homes.get(backend);
    if (!home) return;
    this.#homes.delete(backend);
    for (const connection of home.idle.splice(0)) connection.socket.destroy();
  }

  close(): void {
    for (const backend of [...this.#homes.keys()]) this.retire(backend);
  }
}

function removeFrom(list: TaskConnection[], connection: TaskConnection): void {
  const at = list.indexOf(connection);
  if (at >= 0) list.splice(at, 1);
}
