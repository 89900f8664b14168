// The embedded DNS server: answers from the current Zone over UDP and TCP on one address and port, and
// forwards what is not ours. Every query is answered from memory or forwarded under a bound, so a flood
// costs CPU, never unbounded memory; a bad packet gets FORMERR (or nothing) and the server keeps serving.
import dgram from 'node:dgram';
import net from 'node:net';
import { Zone } from './Zone.js';
import type { QueryType, ScopeOf, ServiceRecord, ZoneOptions } from './Zone.js';
import { Forwarder } from './Forwarder.js';
import type { Transport, Upstream } from './Forwarder.js';
import { RCODE, TCP_LIMIT, encodeAnswer, encodeError, rcodeOf, udpLimit } from './dnsMessage.js';
import { readQuery } from './dnsQuery.js';
import { TcpConnections } from './TcpConnections.js';

export interface DnsServerOptions {
  address: string;
  port: number;
  zone: ZoneOptions;
  upstreams: readonly Upstream[];
  forwardTimeoutMs?: number;
  maxForwarded?: number;
  /**
   * Open TCP connections at once, at most (256); beyond it a newcomer closes the connection idle longest,
   * or is closed itself when every one has a query in flight.
   */
  maxTcpConnections?: number;
  /** Open TCP connections from one source address, at most (64); beyond it, that source's idle longest goes. */
  maxTcpPerSource?: number;
  /** A TCP connection with no query in flight is closed this long after its accept or its last answer (10 s). */
  tcpIdleMs?: number;
  /** A query over TCP must arrive whole within this long of its first byte (2 s, as CoreDNS), or the connection is closed. */
  tcpQueryReadMs?: number;
  log?: (line: string) => void;
  /** Told of every query answered: its type, the answer's rcode, whether it was forwarded, and how long it took. */
  observe?: (answered: AnsweredQuery) => void;
}

export interface AnsweredQuery {
  type: QueryType;
  rcode: number;
  forwarded: boolean;
  seconds: number;
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export class DnsServer {
  readonly #options: DnsServerOptions;
  readonly #log: (line: string) => void;
  #zone: Zone;
  #forwarder: Forwarder;
  #udp: dgram.Socket | undefined;
  #tcp: net.Server | undefined;
  readonly #connections: TcpConnections;
  #port: number;
  #warnedSend = false;

  constructor(options: DnsServerOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#zone = new Zone([], options.zone);
    this.#port = options.port;
    this.#forwarder = this.#forwarderFor(options.upstreams);
    this.#connections = new TcpConnections({
      maxConnections: options.maxTcpConnections ?? 256,
      maxPerSource: options.maxTcpPerSource ?? 64,
      idleMs: options.tcpIdleMs ?? 10_000,
      queryReadMs: options.tcpQueryReadMs ?? 2000,
    }, (message, source) => this.respond(message, 'tcp', source), this.#log);
  }

  get address(): string {
    return this.#options.address;
  }

  /** The port both transports listen on (the one asked for, or the kernel's choice for 0). */
  get port(): number {
    return this.#port;
  }

  get upstreams(): readonly Upstream[] {
    return this.#forwarder.upstreams;
  }

  /**
   * The zone is rebuilt and swapped whole on every change: a query sees it before or after, never half.
   * `scopeOf` names the scopes (networks) of a query's source, whose names it is then answered (see Zone).
   */
  setRecords(services: readonly ServiceRecord[], scopeOf?: ScopeOf): void {
    this.#zone = new Zone(services, this.#options.zone, scopeOf);
  }

  #forwarderFor(upstreams: readonly Upstream[]): Forwarder {
    return new Forwarder({
      upstreams,
      ...(this.#options.forwardTimeoutMs !== undefined ? { timeoutMs: this.#options.forwardTimeoutMs } : {}),
      ...(this.#options.maxForwarded !== undefined ? { maxInFlight: this.#options.maxForwarded } : {}),
    });
  }

  /**
   * Binds UDP, then TCP on the same port (`port`, else the one given at construction); on any failure
   * nothing stays bound and the error is thrown, so the caller may try another port.
   */
  async listen(port = this.#options.port): Promise<void> {
    if (this.#udp) throw new Error(`the DNS server already listens on ${this.#options.address}:${this.#port}`);
    const { address } = this.#options;
    const udp = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    const tcp = net.createServer({ allowHalfOpen: true }, (socket) => this.#connections.accept(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address, port, exclusive: true }, () => { udp.off('error', reject); resolve(); });
      });
      this.#port = udp.address().port;
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ host: address, port: this.#port }, () => { tcp.off('error', reject); resolve(); });
      });
    } catch (error) {
      udp.close();
      tcp.close();
      throw error;
    }
    udp.on('message', (message, from) => this.#serveUdp(message, from));
    udp.on('error', (error) => this.#log(`dns: UDP ${address}:${this.#port}: ${error.message}`));
    tcp.on('error', (error) => this.#log(`dns: TCP ${address}:${this.#port}: ${error.message}`));
    this.#udp = udp;
    this.#tcp = tcp;
    // A fresh forwarder, since close() ends one for good. Never to ourselves: that would loop until the
    // timeout (a resolv.conf inside a container names 127.0.0.11).
    const others = this.#options.upstreams.filter((u) => !(u.address === address && u.port === this.#port));
    if (others.length !== this.#options.upstreams.length) this.#log(`dns: not forwarding to ${address}:${this.#port}, which is this server`);
    this.#forwarder.close();
    this.#forwarder = this.#forwarderFor(others);
  }

  /** The answer to one query, encoded (never over its transport's size); undefined when the packet deserves none. Never throws. */
  async respond(raw: Buffer, transport: Transport, source?: string): Promise<Buffer | undefined> {
    const { observe } = this.#options;
    const startedAt = observe ? process.hrtime.bigint() : 0n;
    const checked = readQuery(raw);
    if (checked.kind === 'reply') {
      observe?.({ type: 'OTHER', rcode: rcodeOf(checked.reply), forwarded: false, seconds: secondsSince(startedAt) });
      return checked.reply;
    }
    if (checked.kind !== 'query') return undefined;
    const { query } = checked;
    const recursionAvailable = this.#forwarder.upstreams.length > 0;
    let forwarded = false;
    let reply: Buffer;
    try {
      const answer = query.internetClass && !query.dottedLabel ? this.#zone.lookup(query.name, query.type, source) : undefined;
      if (answer) {
        reply = encodeAnswer(query, answer, transport === 'udp' ? { recursionAvailable, limit: udpLimit(query) } : { recursionAvailable, limit: TCP_LIMIT, fill: true });
      } else {
        forwarded = true;
        reply = await this.#forwarder.forward(raw, transport, query.questionBytes) ?? encodeError(query, RCODE.SERVFAIL, recursionAvailable);
      }
    } catch (error) {
      this.#log(`dns: cannot answer ${query.name}: ${(error as Error).message}`);
      reply = encodeError(query, RCODE.SERVFAIL, recursionAvailable);
    }
    observe?.({ type: query.type, rcode: rcodeOf(reply), forwarded, seconds: secondsSince(startedAt) });
    return reply;
  }

  #serveUdp(message: Buffer, from: dgram.RemoteInfo): void {
    const failed = (error: Error | null): void => {
      if (error && !this.#warnedSend) {
        this.#warnedSend = true;
        this.#log(`dns: cannot send an answer to ${from.address}:${from.port}: ${error.message}`);
      }
    };
    // send() throws at once for some senders (a source port of 0, say): that too is logged, not fatal.
    void this.respond(message, 'udp', from.address).then((reply) => {
      if (reply && this.#udp) this.#udp.send(reply, from.port, from.address, failed);
    }).catch(failed);
  }

  async close(): Promise<void> {
    this.#forwarder.close();
    const udp = this.#udp;
    const tcp = this.#tcp;
    this.#udp = undefined;
    this.#tcp = undefined;
    this.#connections.destroyAll();
    await Promise.all([
      udp ? new Promise<void>((resolve) => udp.close(() => resolve())) : undefined,
      tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : undefined,
    ]);
  }
}
