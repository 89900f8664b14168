// A task whose program is one of the built-in images, running as servers inside this process: owns the
// task's sockets, timers, logs and exit code. What the servers answer is left to the image.

import type dgram from 'node:dgram';
import { once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { ProxyHeaderSniffer } from '../lb/index.js';
import type { Endpoint as ClientAddress } from '../lb/index.js';
import { realTimer } from '../swarm/index.js';
import type { ImageHost } from './images/Image.js';
import type { LogRing } from './LogRing.js';
import type { PortBinder } from './PortBinder.js';
import type { ListenPort, LogLine, RunningTask, TaskRunSpec, TransportProtocol } from './TaskRun.js';

interface Endpoint {
  readonly protocol: TransportProtocol;
  readonly targetPort: number;
  readonly listenPort: number;
  /** No new connections will come (the meshes have fenced the task): tell kept-alive clients to go. */
  fence?(): void;
  /** Stop taking new work and let current work finish (a program's graceful answer to SIGTERM). */
  drain(): void;
  /** Cut everything now (SIGKILL, or the program crashing). */
  kill(): void;
  readonly closed: Promise<unknown>;
}

export class InProcessTask implements RunningTask {
  readonly address: string;
  readonly pid = process.pid;
  readonly exited: Promise<number>;
  readonly #spec: TaskRunSpec;
  readonly #binder: PortBinder;
  readonly #log: LogRing;
  readonly #endpoints: Endpoint[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #resolveExit!: (code: number) => void;
  #code: number | undefined;
  /** Set once the program has begun ending, so a second stop or crash does not start another ending. */
  #ending = false;
  /** A crash while draining wins over the graceful 0, as a program dying mid-shutdown would. */
  #crashCode: number | undefined;
  #onStop: (() => void) | undefined;

  constructor(spec: TaskRunSpec, host: ImageHost) {
    this.#spec = spec;
    this.address = spec.address;
    this.#binder = host.binder;
    this.#log = host.newLog();
    this.exited = new Promise((resolve) => {
      this.#resolveExit = resolve;
    });
  }

  /**
   * The service's target ports in its own order, each with where the task really listens (a target the
   * program does not serve stays as is: connections there are refused, as with a real container), then
   * the ports the program serves that the service does not name.
   */
  get ports(): ListenPort[] {
    const seen = new Set<Endpoint>();
    const out: ListenPort[] = this.#spec.ports.map(({ protocol, targetPort }) => {
      const ep = this.#endpoints.find((e) => e.protocol === protocol && e.targetPort === targetPort);
      if (ep) seen.add(ep);
      return { Protocol: protocol, TargetPort: targetPort, ListenPort: ep?.listenPort ?? targetPort };
    });
    for (const ep of this.#endpoints) {
      if (!seen.has(ep)) out.push({ Protocol: ep.protocol, TargetPort: ep.targetPort, ListenPort: ep.listenPort });
    }
    return out;
  }

  get logs(): LogLine[] {
    return this.#log.lines;
  }

  onLog(listener: (line: LogLine) => void): () => void {
    return this.#log.onLog(listener);
  }

  log(text: string, stream: LogLine['stream'] = 'stdout'): void {
    this.#log.push(stream, text);
  }

  /** Called once when a graceful stop begins, e.g. for the program's "shutting down" log line. */
  onStop(hook: () => void): void {
    this.#onStop = hook;
  }

  /** A program timer: it dies with the program, so a late callback never touches a stopped task. */
  setTimer(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /**
   * `acceptProxyHeader`: a connection may begin with a PROXY header (v1 or v2, as a load balancer sends),
   * which is taken off and recorded as the socket's `proxySource`: the client it names.
   *
   * Stopping goes as a good server's graceful shutdown. Once fenced, every answer says `Connection: close`,
   * so a kept-alive client learns to go elsewhere on its next request rather than find its connection
   * closed. When the stop comes, the connections the listener still holds are taken and served (see
   * whenQueueEmpty), answers in progress finish, and only then are connections with nothing on them
   * closed: with a FIN, while whatever the client sent still gets read, never a reset.
   */
  async serveHttp(server: http.Server, targetPort: number, { acceptProxyHeader = false } = {}): Promise<number> {
    /** Answers in progress. */
    const inFlight = new Set<http.ServerResponse>();
    /** Every open connection, with its byte count when it last had nothing to do, and its answers in progress. */
    const connections = new Map<net.Socket, { bytesRead: number; answering: number }>();
    let fenced = false;
    let draining = false;
    let acceptedCount = 0;
    /** With nothing asked and nothing answered, a connection is closed; one that has sent bytes is waited on. */
    const closeIfIdle = (socket: net.Socket): void => {
      const state = connections.get(socket);
      if (state !== undefined && state.answering === 0 && socket.bytesRead === state.bytesRead) endGently(socket);
    };
    server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (fenced || draining) res.shouldKeepAlive = false;
      const socket = req.socket;
      const state = connections.get(socket);
      inFlight.add(res);
      if (state !== undefined) state.answering++;
      res.once('close', () => {
        inFlight.delete(res);
        if (state === undefined) return;
        state.answering--;
        if (state.answering === 0) state.bytesRead = socket.bytesRead;
        // Only this connection can have become idle: checking it alone keeps a drain linear in the answers.
        if (draining) closeIfIdle(socket);
      });
    });
    const listener: net.Server = acceptProxyHeader ? proxyAwareFront(server) : server;
    listener.prependListener('connection', (socket: net.Socket) => {
      acceptedCount++;
      connections.set(socket, { bytesRead: socket.bytesRead, answering: 0 });
      socket.once('close', () => connections.delete(socket));
    });
    const listenPort = await this.#listen(listener, targetPort);
    this.#logErrors(listener);
    this.#endpoints.push({
      protocol: 'tcp',
      targetPort,
      listenPort,
      closed: once(listener, 'close'),
      fence: () => {
        fenced = true;
        for (const res of inFlight) res.shouldKeepAlive = false;
      },
      // Fenced, the queue holds only connections the meshes sent before the fence: they are served. A
      // stop without a fence (the node going away) closes at once.
      drain: () => {
        for (const res of inFlight) res.shouldKeepAlive = false;
        const closeNow = (): void => {
          listener.close();
          draining = true;
          for (const socket of connections.keys()) closeIfIdle(socket);
        };
        if (fenced) whenQueueEmpty(() => acceptedCount, closeNow);
        else closeNow();
      },
      kill: () => {
        listener.close();
        for (const socket of connections.keys()) socket.destroy();
      },
    });
    return listenPort;
  }

  async serveTcp(server: net.Server, targetPort: number): Promise<number> {
    const sockets = new Set<net.Socket>();
    let fenced = false;
    let acceptedCount = 0;
    server.prependListener('connection', (socket: net.Socket) => {
      acceptedCount++;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const listenPort = await this.#listen(server, targetPort);
    this.#logErrors(server);
    this.#endpoints.push({
      protocol: 'tcp',
      targetPort,
      listenPort,
      closed: once(server, 'close'),
      fence: () => { fenced = true; },
      // A stream server has no request boundary to wait for: a FIN tells each peer we are done (when
      // fenced, those still queued too, rather than the reset a closed listener would give them).
      drain: () => {
        const closeNow = (): void => {
          server.close();
          for (const socket of sockets) socket.end();
        };
        if (fenced) whenQueueEmpty(() => acceptedCount, closeNow);
        else closeNow();
      },
      kill: () => {
        server.close();
        for (const socket of sockets) socket.destroy();
      },
    });
    return listenPort;
  }

  async serveUdp(targetPort: number, onMessage: (socket: dgram.Socket, msg: Buffer, from: dgram.RemoteInfo) => void): Promise<number> {
    let bound: { socket: dgram.Socket; port: number };
    try {
      bound = await this.#binder.bindUdp(this.address, targetPort);
    } catch (err) {
      this.#abort();
      throw err;
    }
    const { socket, port } = bound;
    const sockets = [socket];
    for (const { network, address } of this.#spec.networkAddresses ?? []) {
      try {
        const extra = (await this.#binder.bindUdp(address, port)).socket;
        extra.on('error', (err) => this.log(`udp ${address}:${port}: ${err.message}`, 'stderr'));
        extra.on('message', (msg, from) => { if (this.#spec.admits?.(network, from.address) ?? true) onMessage(extra, msg, from); });
        sockets.push(extra);
      } catch (err) {
        for (const s of sockets) s.close();
        this.#abort();
        throw err;
      }
    }
    socket.on('error', (err) => this.log(`udp ${this.address}:${port}: ${err.message}`, 'stderr'));
    socket.on('message', (msg, from) => onMessage(socket, msg, from));
    const closed = once(socket, 'close');
    const close = () => {
      for (const s of sockets) {
        try {
          s.close();
        } catch {
          // Closed already (a stop racing a crash); the socket is gone either way.
        }
      }
    };
    this.#endpoints.push({ protocol: 'udp', targetPort, listenPort: port, closed, drain: close, kill: close });
    return port;
  }

  /** The program exits on its own (a crash, `process.exit(code)`): everything is cut at once. */
  exit(code: number): void {
    this.#crashCode ??= code;
    if (this.#ending) {
      for (const ep of this.#endpoints) ep.kill();
      return;
    }
    this.#ending = true;
    void this.#end(() => {
      for (const ep of this.#endpoints) ep.kill();
    }, 0);
  }

  fence(): void {
    if (!this.#ending) for (const ep of this.#endpoints) ep.fence?.();
  }

  stop(graceMs: number): Promise<number> {
    if (!this.#ending) {
      this.#ending = true;
      this.#onStop?.();
      void this.#end(() => {
        for (const ep of this.#endpoints) ep.drain();
      }, graceMs);
    }
    return this.exited;
  }

  async #end(begin: () => void, graceMs: number): Promise<void> {
    begin();
    const kill = realTimer(() => {
      for (const ep of this.#endpoints) ep.kill();
    }, graceMs);
    await Promise.all(this.#endpoints.map((ep) => ep.closed));
    kill.cancel();
    this.#finish(this.#crashCode ?? 0);
  }

  #finish(code: number): void {
    if (this.#code !== undefined) return;
    this.#code = code;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#resolveExit(code);
  }

  /**
   * Binds the server on the task's address, and on its address on each of its networks (the same port):
   * a connection there goes to the same server, unless it comes from a task that is not on that network.
   * Closing the server closes them all.
   */
  async #listen(server: net.Server, targetPort: number): Promise<number> {
    const extras: net.Server[] = [];
    try {
      const port = await this.#binder.listen(server, this.address, targetPort);
      for (const { network, address } of this.#spec.networkAddresses ?? []) {
        const extra = net.createServer({ allowHalfOpen: true }, (socket) => {
          if (this.#spec.admits?.(network, socket.remoteAddress) ?? true) server.emit('connection', socket);
          else socket.resetAndDestroy();
        });
        extra.on('error', (err) => this.log(`${address}: ${err.message}`, 'stderr'));
        extras.push(extra);
        await this.#binder.listen(extra, address, port);
      }
      if (extras.length) {
        const close = server.close.bind(server);
        server.close = ((callback?: (err?: Error) => void) => {
          for (const extra of extras) extra.close();
          return close(callback);
        }) as typeof server.close;
      }
      return port;
    } catch (err) {
      for (const extra of extras) extra.close();
      this.#abort();
      throw err;
    }
  }

  /** A later server error (say EMFILE) must land in the task's logs, not crash the whole node. */
  #logErrors(server: net.Server): void {
    server.on('error', (err) => this.log(`${this.address}: ${err.message}`, 'stderr'));
  }

  /** A task that failed half-way through starting releases what it had already bound. */
  #abort(): void {
    this.#ending = true;
    for (const ep of this.#endpoints) ep.kill();
    this.#finish(this.#crashCode ?? 1);
  }
}

/** A socket a PROXY header came ahead of: the client that header names. */
export type ProxiedSocket = net.Socket & { proxySource?: ClientAddress };

/**
 * Listens in front of `server`: reads a PROXY header off the start of each connection, if there is one,
 * and hands the rest to the http server. A malformed header closes the connection, as HAProxy does.
 */
function proxyAwareFront(server: http.Server): net.Server {
  return net.createServer({ pauseOnConnect: true }, (socket: ProxiedSocket) => {
    const sniffer = new ProxyHeaderSniffer();
    const onData = (chunk: Buffer): void => {
      const read = sniffer.push(chunk);
      if (read.kind === 'incomplete') return;
      socket.off('data', onData);
      socket.pause();
      if (read.kind === 'invalid') return void socket.destroy();
      if (read.kind === 'header' && read.source) socket.proxySource = read.source;
      const rest = sniffer.rest(read);
      if (rest.length) socket.unshift(rest);
      server.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.resume();
  });
}

/**
 * Calls `close` once the connections waiting in a listener's queue are taken (`accepted` counts them).
 * libuv takes queued connections only in the event loop's poll phase (all it finds then), so on a busy
 * machine, where a turn runs long, connections the meshes opened before the fence can wait there for
 * seconds; closing the listener would have the kernel reset every one of them. Nothing new comes to a fenced task, so the queue only shrinks: a turn whose
 * poll takes none has emptied it.
 */
function whenQueueEmpty(accepted: () => number, close: () => void): void {
  let before = accepted();
  const check = (): void => {
    if (accepted() !== before) {
      before = accepted();
      setImmediate(check);
      return;
    }
    close();
  };
  // Called from a timer or a callback: the turn's poll (where connections are taken) runs before this.
  setImmediate(check);
}

/** How long a connection closed for good may stay half-open, waiting for its client to close its side. */
const LINGER_MS = 2000;

/** A FIN, not a reset: what the client sends meanwhile is still read until it closes its side too. */
function endGently(socket: net.Socket): void {
  if (socket.writableEnded) return;
  socket.end();
  socket.setTimeout(LINGER_MS, () => socket.destroy());
}
