// The way to one backend while a fault sits on it (fault injection). Connections are made for real, so the
// forwarders see what they would see on a bad network: a refusal is the kernel's ECONNREFUSED, a slow or
// unreachable backend a socket still connecting (held in its address lookup, the one wait net.Socket
// allows before connecting), and a backend that refuses behind a shaped link the backend's own error. A
// connection whose bytes are shaped connects to the node's FaultProxy once its real connection to the
// backend is up. A backend with no link is dialled straight: `dial` costs one field read then.
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import type { Backend } from './Backend.js';
import type { FaultProxy } from './FaultProxy.js';
import { shapesStream } from './LinkFault.js';
import type { LinkFault } from './LinkFault.js';

/** What the forwarders pass to net.connect. */
export type DialOptions = net.TcpNetConnectOpts;

/** A socket toward `backend`, through its link when a fault sits on it. */
export function dial(backend: Backend, options: DialOptions): net.Socket {
  return backend.link ? backend.link.connect(options) : net.connect(options);
}

/** The name a faulty connect looks up: its lookup is where the link makes it wait. */
const LINK_HOST = 'routemesh-faulty-link';
const NOWHERE: LookupFunction = () => {};

export class FaultyLink {
  /** The fault as it is now; lifted links read as no fault, so connections still open pass straight. */
  #fault: LinkFault;
  readonly #proxy: FaultProxy | undefined;
  readonly #random: () => number;
  /** Sockets of shaped connections still open: a lifted blackhole closes its own. */
  readonly #open = new Set<net.Socket>();

  /** `proxy`: where shaped connections go (needed for latency, bandwidth, reset and blackhole). */
  constructor(fault: LinkFault, options: { proxy?: FaultProxy; random?: () => number } = {}) {
    this.#fault = fault;
    this.#proxy = options.proxy;
    this.#random = options.random ?? Math.random;
  }

  get fault(): LinkFault {
    return this.#fault;
  }

  connect(options: DialOptions): net.Socket {
    const fault = this.#fault;
    const { onread, allowHalfOpen, host, port, ...rest } = options;
    const socket = new net.Socket({ ...(onread ? { onread } : {}), ...(allowHalfOpen ? { allowHalfOpen } : {}) });
    if (fault.refused) return socket.connect({ ...rest, host: host ?? '127.0.0.1', port: 0 }); // the kernel refuses port 0
    if (fault.unreachable) return socket.connect({ ...rest, host: LINK_HOST, port, lookup: NOWHERE });
    const target = { host: host ?? '127.0.0.1', port };
    const shaped = shapesStream(fault);
    const proxy = this.#proxy;
    const lookup: LookupFunction = (_name, lookupOptions, answer) => {
      const go = (): void => {
        if (socket.destroyed) return;
        if (!shaped) return answerWith(answer, lookupOptions.all, target.host);
        if (proxy?.port === undefined) return answer(new Error('the fault proxy of this node is not listening'), '', 0);
        if (fault.blackhole) return this.#viaProxy(socket, proxy, undefined, answer, lookupOptions.all);
        const backend = net.connect({ ...rest, ...target, allowHalfOpen: true, noDelay: true });
        backend.pause();
        let connected = false;
        // Until it connects, its error is the caller's connect error; after, the proxy's relays handle it.
        backend.on('error', (error) => { if (!connected) answer(error, '', 0); });
        backend.once('connect', () => {
          connected = true;
          this.#viaProxy(socket, proxy, backend, answer, lookupOptions.all);
        });
        socket.once('close', () => backend.destroy()); // the caller's socket is gone: so is its way to the backend
      };
      if (fault.connectDelayMs) {
        const timer = setTimeout(go, fault.connectDelayMs);
        socket.once('close', () => clearTimeout(timer));
      } else {
        go();
      }
    };
    return socket.connect({ ...rest, host: LINK_HOST, port: shaped ? proxy?.port ?? 1 : port, lookup });
  }

  #viaProxy(socket: net.Socket, proxy: FaultProxy, backend: net.Socket | undefined, answer: Parameters<LookupFunction>[2], all: boolean | undefined): void {
    if (socket.destroyed) {
      backend?.destroy();
      return;
    }
    // The answer starts the connect: from here its local port is known, which is how the proxy knows it.
    answerWith(answer, all, proxy.host);
    proxy.expect({
      socket, backend, fault: () => this.#fault, random: this.#random,
      opened: (opened) => {
        if (!backend && !this.#fault.blackhole) opened.destroy(); // a blackhole lifted while it connected
        this.#open.add(opened);
        opened.once('close', () => this.#open.delete(opened));
      },
    });
  }

  /**
   * A datagram toward the backend: lost, sent, or sent twice, as the fault says. `refused`: the backend's
   * port refuses it, as a host where nothing listens answers with an ICMP "port unreachable".
   */
  toBackend(message: Buffer, send: (message: Buffer) => void, refused: (error: Error) => void): void {
    const fault = this.#fault;
    if (fault.refused) return refused(Object.assign(new Error('ECONNREFUSED: the port is unreachable (injected fault)'), { code: 'ECONNREFUSED' }));
    if (fault.blackhole || fault.unreachable) return;
    if (fault.loss && this.#random() < fault.loss) return;
    send(message);
    if (fault.duplicate && this.#random() < fault.duplicate) send(message);
  }

  /** A datagram from the backend, delivered after the link's latency. */
  fromBackend(message: Buffer, deliver: (message: Buffer) => void): void {
    const { latencyMs = 0, jitterMs = 0 } = this.#fault;
    const delay = Math.max(0, latencyMs + (jitterMs ? (this.#random() * 2 - 1) * jitterMs : 0));
    if (delay > 0) setTimeout(() => deliver(message), delay);
    else deliver(message);
  }

  /**
   * The fault on the link is another now: open shaped connections take it from their next chunk (a link
   * replaced instead would leave them with no fault at all), and a blackhole's are closed once it is none.
   */
  change(fault: LinkFault): void {
    const wasBlackhole = this.#fault.blackhole;
    this.#fault = fault;
    if (wasBlackhole && !fault.blackhole) for (const socket of this.#open) socket.destroy();
  }

  /** The fault is gone: open connections pass straight from now on, and a blackhole's are closed. */
  lift(): void {
    this.change({});
  }
}

function answerWith(answer: Parameters<LookupFunction>[2], all: boolean | undefined, address: string): void {
  const family = net.isIPv6(address) ? 6 : 4;
  if (all) (answer as unknown as (error: null, addresses: { address: string; family: number }[]) => void)(null, [{ address, family }]);
  else answer(null, address, family);
}
