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
   */
  async serveHttp(server: http.Server, targetPort: number, { acceptProxyHeader = false } = {}): Promise<number> {
    const inFlight = new Set<http.ServerResponse>();
    let draining = false;
    // With a front listener the http server never listens, so it cannot close its idle connections itself:
    // the front keeps every socket it accepted, and which of them it handed over.
    const accepted = new Set<net.Socket>();
    const handedOver = new Set<net.Socket>();
    const closeIdle = (): void => {
      if (!acceptProxyHeader) return server.closeIdleConnections();
      for (const socket of accepted) {
        // Not handed over yet: nothing was asked, nothing is lost. Handed over: idle unless a response is on its way.
        if (!handedOver.has(socket)) socket.destroy();
        else if (![...inFlight].some((res) => res.socket === socket)) socket.end();
      }
    };
    // Keep-alive connections would otherwise hold a draining server open until their idle timeout.
    server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
      if (draining) res.shouldKeepAlive = false;
      inFlight.add(res);
      res.once('close', () => {
        inFlight.delete(res);
        if (draining) closeIdle();
      });
    });
    const listener: net.Server = acceptProxyHeader ? proxyAwareFront(server, accepted, handedOver) : server;
    const listenPort = await this.#listen(listener, targetPort);
    this.#logErrors(listener);
    this.#endpoints.push({
      protocol: 'tcp',
      targetPort,
      listenPort,
      closed: once(listener, 'close'),
      drain: () => {
        draining = true;
        for (const res of inFlight) res.shouldKeepAlive = false;
        listener.close();
        closeIdle();
      },
      kill: () => {
        listener.close();
        server.closeAllConnections();
        for (const socket of accepted) socket.destroy();
      },
    });
    return listenPort;
  }

  async serveTcp(server: net.Server, targetPort: number): Promise<number> {
    const sockets = new Set<net.Socket>();
    server.prependListener('connection', (socket: net.Socket) => {
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
      // A stream server has no request boundary to wait for: a FIN tells each peer we are done.
      drain: () => {
        server.close();
        for (const socket of sockets) socket.end();
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
    socket.on('error', (err) => this.log(`udp ${this.address}:${port}: ${err.message}`, 'stderr'));
    socket.on('message', (msg, from) => onMessage(socket, msg, from));
    const closed = once(socket, 'close');
    const close = () => {
      try {
        socket.close();
      } catch {
        // Closed already (a stop racing a crash); the socket is gone either way.
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

  async #listen(server: net.Server, targetPort: number): Promise<number> {
    try {
      return await this.#binder.listen(server, this.address, targetPort);
    } catch (err) {
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
function proxyAwareFront(server: http.Server, accepted: Set<net.Socket>, handedOver: Set<net.Socket>): net.Server {
  return net.createServer({ pauseOnConnect: true }, (socket: ProxiedSocket) => {
    accepted.add(socket);
    socket.once('close', () => {
      accepted.delete(socket);
      handedOver.delete(socket);
    });
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
      handedOver.add(socket);
      server.emit('connection', socket);
      socket.resume();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    socket.resume();
  });
}
