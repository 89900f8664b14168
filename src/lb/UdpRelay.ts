// UDP through the mesh. Each client (address and port) is a flow, pinned to the task the balancer picked
// for its first datagram, with a socket of its own toward that task so the task's replies find their way
// back (the mesh's NAT, as IPVS keeps per flow). A flow follows the pool at every datagram: once its task
// leaves the pool, is fenced or is ejected, the next datagram goes to another task (IPVS keeps sending to
// a removed task until the flow's 300 s timeout). Quiet flows expire. Past the cap a flow gives way: the
// oldest its task never answered (as conntrack drops unreplied entries first), else the least recently used,
// so a client spraying datagrams from new ports cannot push out the conversations that are going on.
import dgram from 'node:dgram';
import type { Backend } from './Backend.js';
import type { Balancer } from './Balancer.js';
import type { Pool } from './Pool.js';
import type { ForwardEvents, ForwardLimits } from './TcpForwarder.js';

export interface UdpTarget {
  pool: Pool;
  balancer: Balancer;
  events: ForwardEvents;
  limits: ForwardLimits;
}

/** A flow with no datagram either way for this long ends (conntrack's UDP timeout), unless the service sets its own. */
const UDP_FLOW_IDLE_MS = 30_000;
/** Flows one listener holds unless the service sets its own cap: each is a socket, so a file descriptor. */
const UDP_MAX_FLOWS = 1024;

interface Flow {
  backend: Backend;
  /** Connected to the task: only its datagrams arrive here. */
  upstream: dgram.Socket;
  idle: NodeJS.Timeout;
  /** The task answered at least once (outlier detection counts that as a success). */
  answered: boolean;
  /** Datagrams that arrived while the upstream socket was still connecting; undefined once connected. */
  waiting: Buffer[] | undefined;
}

/** Datagrams held per flow while its socket connects (a moment); beyond that they are dropped, as UDP may. */
const MAX_WAITING = 64;

export interface UdpRelayOptions {
  /** Source address of datagrams toward tasks (the node that forwarded, as in tcp mode). */
  localAddress?: string;
}

export class UdpRelay {
  readonly #socket: dgram.Socket;
  readonly #target: () => UdpTarget;
  readonly #localAddress: string | undefined;
  /**
   * An answered flow moves to the end at each datagram either way, so once no flow is unanswered the
   * order is least recently used first.
   */
  readonly #flows = new Map<string, Flow>();
  /** Flows never answered, oldest first: the first to give way. */
  readonly #unanswered = new Set<string>();

  /** `socket` is the listener (bound by the caller); `target` is read per datagram, so a re-sync applies at once. */
  constructor(socket: dgram.Socket, target: () => UdpTarget, options: UdpRelayOptions = {}) {
    this.#socket = socket;
    this.#target = target;
    this.#localAddress = options.localAddress;
    socket.on('message', (message, client) => this.#relay(message, client));
  }

  get flowCount(): number {
    return this.#flows.size;
  }

  #relay(message: Buffer, client: dgram.RemoteInfo): void {
    const key = `${client.address}:${client.port}`;
    const target = this.#target();
    let flow = this.#flows.get(key);
    if (flow && !serving(target.pool, flow.backend)) {
      this.#end(key, flow);
      flow = undefined;
    }
    if (!flow) {
      const backend = target.balancer.pick(target.pool, undefined, client.address);
      if (!backend) {
        // Dropped, as a router without a route would: UDP has no way to say "no task" to the client.
        target.events.failed?.('no_backend');
        return;
      }
      if (target.events.picked) target.events.picked(backend, key, 1);
      this.#makeRoom(target.limits.maxConnections || UDP_MAX_FLOWS);
      flow = this.#open(key, client, backend, target);
    }
    if (!flow.waiting) toBackend(flow, message);
    else if (flow.waiting.length < MAX_WAITING) flow.waiting.push(message);
    else return;
    target.events.transferred?.('in', message.length);
    this.#used(key, flow);
  }

  #makeRoom(cap: number): void {
    while (this.#flows.size >= cap) {
      const key = first(this.#unanswered) ?? first(this.#flows.keys())!;
      this.#end(key, this.#flows.get(key)!);
    }
  }

  /** A datagram went either way: the flow's idle time starts again, and it is the most recently used. */
  #used(key: string, flow: Flow): void {
    if (this.#flows.get(key) !== flow) return; // a late reply to a flow already ended
    flow.idle.refresh();
    if (!flow.answered) return;
    this.#flows.delete(key);
    this.#flows.set(key, flow);
  }

  #open(key: string, client: dgram.RemoteInfo, backend: Backend, target: UdpTarget): Flow {
    const upstream = dgram.createSocket(backend.host.includes(':') ? 'udp6' : 'udp4');
    if (this.#localAddress) upstream.bind({ address: this.#localAddress, port: 0 });
    const idleMs = target.limits.idleTimeoutMs || UDP_FLOW_IDLE_MS;
    const flow: Flow = { backend, upstream, idle: setTimeout(() => this.#end(key, flow), idleMs).unref(), answered: false, waiting: [] };
    target.events.flowOpened?.(backend);
    upstream.connect(backend.port, backend.host, () => {
      const waiting = flow.waiting ?? [];
      flow.waiting = undefined;
      for (const message of waiting) {
        if (this.#flows.get(key) !== flow) break; // refused: the flow ended with the first
        toBackend(flow, message);
      }
    });
    upstream.on('message', (reply) => {
      if (!flow.answered) {
        flow.answered = true;
        this.#unanswered.delete(key);
        target.events.connected?.(backend, 1);
      }
      const link = backend.link;
      if (link) link.fromBackend(reply, (delayed) => this.#socket.send(delayed, client.port, client.address));
      else this.#socket.send(reply, client.port, client.address);
      target.events.transferred?.('out', reply.length);
      this.#used(key, flow);
    });
    // An ICMP "port unreachable" comes back as ECONNREFUSED on the connected socket: the task is not
    // listening. The flow ends, so the client's next datagram goes to another task.
    upstream.on('error', (error) => {
      target.events.connectError?.(backend, error);
      this.#end(key, flow);
    });
    backend.active++;
    backend.total++;
    this.#flows.set(key, flow);
    this.#unanswered.add(key);
    return flow;
  }

  #end(key: string, flow: Flow): void {
    if (this.#flows.get(key) !== flow) return;
    this.#flows.delete(key);
    this.#unanswered.delete(key);
    clearTimeout(flow.idle);
    flow.backend.active--;
    flow.upstream.close();
  }

  /** Ends every flow; the listener socket is the caller's to close. */
  close(): void {
    for (const [key, flow] of this.#flows) this.#end(key, flow);
  }
}

function first(keys: Iterable<string>): string | undefined {
  for (const key of keys) return key;
  return undefined;
}

/** Still in the pool, taking new connections, not ejected: otherwise the flow moves on. */
function serving(pool: Pool, backend: Backend): boolean {
  return pool.get(backend.id) === backend && backend.state === 'up' && backend.ejectedUntil === 0;
}

/**
 * A datagram on its way to the flow's task, through the fault on its link if there is one (read per
 * datagram). A refusing link's error takes the path the kernel's ECONNREFUSED takes: the upstream's.
 */
function toBackend(flow: Flow, message: Buffer): void {
  const link = flow.backend.link;
  if (link) link.toBackend(message, (sent) => flow.upstream.send(sent), (error) => flow.upstream.emit('error', error));
  else flow.upstream.send(message);
}
