// An http-mode forwarder on real sockets, as src/mesh/Mesh.ts drives it, with raw tasks and raw clients
// around it: what test/http-task-answers and test/http-mode-adversarial are built on. Every function of
// `httpFixtures(front)` works on the front address it was given.
import net from 'node:net';
import type { Test } from 'tap';
import { HttpForwarder, Pool, RoundRobin } from '../../src/lb/index.js';
import type { Backend, ClientConnections, HttpTarget } from '../../src/lb/index.js';
import type { ClientTimeouts } from '../../src/lb/ClientConnections.js';
import { waitFor } from './cluster.js';
import { deadline } from './dns.js';

export interface Front { port: number; log: string[]; forwarder: HttpForwarder; target: HttpTarget; backend: () => Backend; server: ClientConnections; clients: net.Socket[] }
export interface RawTask { port: number; connections: net.Socket[]; received: () => string }

/** Listens on port 0 of `host`; at the end of the test, destroys every connection it took and closes. */
export async function listen(t: Test, server: net.Server, host: string): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)); });
  t.teardown(() => new Promise<void>((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * A raw client connection to a front on `host`: bytes as latin1 text, waited on by condition. With
 * `allowHalfOpen` it does not end its side when the front ends its own: the connection stays open until
 * the test is over.
 */
export function rawClient(t: Test, port: number, options: { host: string; allowHalfOpen?: boolean }) {
  const socket = net.connect({ port, ...options });
  t.teardown(() => { socket.destroy(); });
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  let text = '';
  let closed = false;
  const waiters = new Set<() => void>();
  const wake = (): void => { for (const waiter of [...waiters]) waiter(); };
  socket.on('data', (chunk: string) => { text += chunk; wake(); });
  socket.on('close', () => { closed = true; wake(); });
  /** Resolves with everything received once `done` holds; rejects if the connection closes first. */
  const until = (what: string, done: (text: string, closed: boolean) => boolean, ms = 5000): Promise<string> => deadline(what, new Promise((resolve, reject) => {
    const check = (): void => {
      if (done(text, closed)) { waiters.delete(check); resolve(text); }
      else if (closed) { waiters.delete(check); reject(new Error(`closed before ${what}; got ${JSON.stringify(text)}`)); }
    };
    waiters.add(check);
    check();
  }), ms);
  return {
    socket,
    until,
    text: () => text,
    head: () => until('a response head', (received) => received.includes('\r\n\r\n')),
    closed: () => until('the connection to close', (_text, isClosed) => isClosed),
  };
}

/** The fixtures for a front on `FRONT`: its forwarder, raw tasks, and raw clients to it. */
export function httpFixtures(FRONT: string) {
  /** A front for one task at `host:port`; `log` holds what the forwarder reported; `timeouts` are the port's own. */
  async function front(t: Test, host: string, port: number, limits: HttpTarget['limits'] = {}, timeouts: ClientTimeouts = {}): Promise<Front> {
    const pool = new Pool();
    pool.set([{ id: 'task', host, port, state: 'up', label: 'task-1' }]);
    const log: string[] = [];
    const target: HttpTarget = {
      pool, balancer: new RoundRobin(), serviceName: 'web', limits: { connectTimeoutMs: 1000, ...limits },
      events: {
        answered: (_backend, status) => log.push(`answered ${status}`),
        connectError: () => log.push('connectError'),
        failed: (reason) => log.push(`failed ${reason}`),
      },
    };
    const forwarder = new HttpForwarder({ localAddress: FRONT });
    t.teardown(() => forwarder.close());
    const server = forwarder.server(() => target, timeouts);
    t.teardown(() => { server.close(); });
    const clients: net.Socket[] = [];
    const listener = net.createServer({ allowHalfOpen: true }, (socket) => {
      clients.push(socket);
      server.accept(socket);
    });
    return { port: await listen(t, listener, FRONT), log, forwarder, target, backend: () => pool.backends[0]!, server, clients };
  }

  /**
   * A task on a raw socket: `answer(n, socket, head)` is called for the n-th request head of each connection
   * (bodies are not parsed: the tests that send one say how the task treats it). `received` is every byte
   * the task got, as latin1.
   */
  async function rawTask(t: Test, host: string, answer: (n: number, socket: net.Socket, head: string) => void): Promise<RawTask> {
    const connections: net.Socket[] = [];
    let received = '';
    const server = net.createServer((socket) => {
      connections.push(socket);
      socket.on('error', () => {});
      let text = '';
      let n = 0;
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        received += chunk;
        text += chunk;
        for (let end = text.indexOf('\r\n\r\n'); end !== -1 && !socket.destroyed; end = text.indexOf('\r\n\r\n')) {
          const head = text.slice(0, end);
          text = text.slice(end + 4);
          answer(++n, socket, head);
        }
      });
    });
    return { port: await listen(t, server, host), connections, received: () => received };
  }

  /** Waits until nothing is left counted in flight at the front's one task. */
  const settled = (front: Front): Promise<unknown> => waitFor('no request left in flight', () => front.backend().active === 0, 3000);
  return { front, rawTask, rawClient: (t: Test, port: number) => rawClient(t, port, { host: FRONT }), settled };
}

/** A chunked body's data. */
export function dechunked(body: string): string {
  let data = '';
  for (let at = 0; ;) {
    const lineEnd = body.indexOf('\r\n', at);
    const size = parseInt(body.slice(at, lineEnd), 16);
    if (!size) return data;
    data += body.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 4 + size;
  }
}
