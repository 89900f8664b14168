// Sends the queries for names we do not own to upstream resolvers, as Swarm's embedded server does:
// each upstream in turn, with a timeout each; SERVFAIL or REFUSED moves on to the next; the number of
// queries in flight is bounded. Queries travel as they came (over UDP or TCP), byte for byte but the ID.
// Against forged answers (RFC 5452) each try has an ID of its own and, over UDP, a socket of its own on a
// port the kernel draws at random, connected to the upstream so that nothing else reaches it.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { HEADER_BYTES, isResponse, rcodeOf, RCODE } from './dnsMessage.js';
import { FrameReader, frame } from './tcpFrames.js';
import { isLoopback } from './upstreams.js';

export interface Upstream {
  address: string;
  port: number;
}

export interface ForwarderOptions {
  upstreams: readonly Upstream[];
  /** How long each upstream gets to answer (Swarm: 4 s). */
  timeoutMs?: number;
  /** Queries forwarded at once, at most (Swarm: 1024); beyond that the client gets SERVFAIL at once. */
  maxInFlight?: number;
}

export type Transport = 'udp' | 'tcp';


export class Forwarder {
  readonly upstreams: readonly Upstream[];
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #closing = new Set<() => void>();
  #closed = false;

  constructor(options: ForwarderOptions) {
    // routemesh sends nothing beyond this machine's loopback, whatever it is given; its callers say why.
    this.upstreams = options.upstreams.filter((upstream) => isLoopback(upstream.address));
    this.#timeoutMs = options.timeoutMs ?? 4000;
    this.#maxInFlight = options.maxInFlight ?? 1024;
  }

  /**
   * The first usable upstream answer, with the client's ID; undefined when none answered (or too busy).
   * `question` is the query's question section, which a reply must repeat to be taken as the answer.
   */
  async forward(query: Buffer, transport: Transport, question: Buffer): Promise<Buffer | undefined> {
    if (this.#closed || this.#inFlight >= this.#maxInFlight) return undefined;
    this.#inFlight++;
    try {
      for (const upstream of this.upstreams) {
        const id = randomInt(0x10000);
        const ours = Buffer.from(query);
        ours.writeUInt16BE(id, 0);
        // A reply with another ID or question (a late answer to an earlier query, a forgery) is not ours.
        const answers = (reply: Buffer): boolean => isResponse(reply) && reply.readUInt16BE(0) === id && sameQuestion(reply, question);
        const reply = transport === 'udp' ? await this.#viaUdp(ours, upstream, answers) : await this.#viaTcp(ours, upstream, answers);
        if (this.#closed) return undefined;
        if (reply === undefined) continue;
        const rcode = rcodeOf(reply);
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) continue;
        query.copy(reply, 0, 0, 2);
        return reply;
      }
      return undefined;
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Over a socket of its own, connected to the upstream: the kernel then drops datagrams from any other
   * address or port, and reports a port nothing listens on (ECONNREFUSED), which fails this upstream at
   * once. Bound to loopback, where every upstream is.
   */
  #viaUdp(query: Buffer, upstream: Upstream, answers: (reply: Buffer) => boolean): Promise<Buffer | undefined> {
    return this.#attempt((done) => {
      const address = upstream.address.replace(/^::ffff:(?=\d+\.)/i, '');
      const ipv6 = net.isIPv6(address);
      const socket = dgram.createSocket(ipv6 ? 'udp6' : 'udp4');
      let open = true;
      socket.on('error', () => done(undefined));
      socket.on('message', (reply) => { if (answers(reply)) done(reply); });
      socket.bind({ port: 0, address: ipv6 ? '::1' : '127.0.0.1' }, () => {
        if (!open) return;
        socket.connect(upstream.port, address, () => {
          if (open) socket.send(query, (error) => { if (error) done(undefined); });
        });
      });
      return () => {
        open = false;
        socket.close();
      };
    });
  }

  #viaTcp(query: Buffer, upstream: Upstream, answers: (reply: Buffer) => boolean): Promise<Buffer | undefined> {
    return this.#attempt((done) => {
      const socket = net.connect({ host: upstream.address, port: upstream.port });
      const reader = new FrameReader();
      socket.on('connect', () => socket.end(frame(query)));
      socket.on('data', (chunk) => {
        reader.push(chunk);
        for (let reply = reader.next(); reply; reply = reader.next()) if (answers(reply)) return done(reply);
      });
      socket.on('error', () => done(undefined));
      socket.on('close', () => done(undefined));
      return () => socket.destroy();
    });
  }

  /** One try at one upstream: settles once, on an answer, a failure, the timeout or close(). */
  #attempt(start: (done: (reply: Buffer | undefined) => void) => () => void): Promise<Buffer | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let settled = false;
      let cleanup = (): void => {};
      const done = (reply: Buffer | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#closing.delete(abort);
        cleanup();
        resolve(reply);
      };
      const abort = (): void => done(undefined);
      const timer = setTimeout(abort, this.#timeoutMs);
      this.#closing.add(abort);
      const stop = start(done);
      if (settled) stop();
      else cleanup = stop;
    });
  }

  close(): void {
    this.#closed = true;
    for (const abort of [...this.#closing]) abort();
  }
}

/** A reply answers our query only if it asks the same question (names compared without case). */
function sameQuestion(reply: Buffer, question: Buffer): boolean {
  if (reply.length < HEADER_BYTES + question.length) return false;
  for (let i = 0; i < question.length; i++) {
    if (lowerAscii(reply[HEADER_BYTES + i]!) !== lowerAscii(question[i]!)) return false;
  }
  return true;
}

function lowerAscii(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}
