// Sends the queries for names we do not own to upstream resolvers, as Swarm's embedded server does:
// each upstream in turn, with a timeout each; SERVFAIL or REFUSED moves on to the next; the number of
// queries in flight is bounded. Queries travel as they came (over UDP or TCP), byte for byte but the ID.
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { HEADER_BYTES, isResponse, rcodeOf, RCODE } from './dnsMessage.js';
import { FrameReader, frame } from './tcpFrames.js';

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

interface Pending {
  upstream: Upstream;
  /** The upstream's address in canonical form, worked out once per query, not per reply. */
  from: string;
  question: Buffer;
  resolve: (reply: Buffer | undefined) => void;
}

export class Forwarder {
  readonly upstreams: readonly Upstream[];
  readonly #timeoutMs: number;
  readonly #maxInFlight: number;
  #inFlight = 0;
  #sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  /** UDP queries waiting for an answer, by the ID we gave them. */
  #pending = new Map<number, Pending>();
  #closing = new Set<() => void>();
  #closed = false;

  constructor(options: ForwarderOptions) {
    this.upstreams = options.upstreams;
    this.#timeoutMs = options.timeoutMs ?? 4000;
    // Each UDP query in flight holds one of the 65536 IDs: keep some free so picking one stays quick.
    this.#maxInFlight = Math.min(options.maxInFlight ?? 1024, 0x8000);
  }

  /**
   * The first usable upstream answer, with the client's ID; undefined when none answered (or too busy).
   * `question` is the query's question section, which a UDP reply must repeat to be taken as the answer.
   */
  async forward(query: Buffer, transport: Transport, question: Buffer): Promise<Buffer | undefined> {
    if (this.#closed || this.#inFlight >= this.#maxInFlight) return undefined;
    this.#inFlight++;
    try {
      for (const upstream of this.upstreams) {
        const reply = transport === 'udp' ? await this.#viaUdp(query, upstream, question) : await this.#viaTcp(query, upstream);
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

  #socket(upstream: Upstream): dgram.Socket {
    const type = net.isIPv6(upstream.address) ? 'udp6' : 'udp4';
    let socket = this.#sockets.get(type);
    if (socket) return socket;
    socket = dgram.createSocket(type);
    socket.on('message', (reply, from) => {
      if (!isResponse(reply)) return;
      const id = reply.readUInt16BE(0);
      const pending = this.#pending.get(id);
      // Only the upstream we asked may answer, to our question: anyone else guessing the ID is ignored, and
      // so is a late answer to an earlier query that had the same ID.
      if (!pending || pending.upstream.port !== from.port || pending.from !== canonical(from.address)) return;
      if (!sameQuestion(reply, pending.question)) return;
      this.#pending.delete(id);
      pending.resolve(reply);
    });
    socket.on('error', () => {});
    this.#sockets.set(type, socket);
    return socket;
  }

  #viaUdp(query: Buffer, upstream: Upstream, question: Buffer): Promise<Buffer | undefined> {
    return this.#attempt((done) => {
      let id: number;
      do id = randomInt(0x10000); while (this.#pending.has(id));
      const ours = Buffer.from(query);
      ours.writeUInt16BE(id, 0);
      this.#pending.set(id, { upstream, from: canonical(upstream.address), question, resolve: done });
      try {
        this.#socket(upstream).send(ours, upstream.port, upstream.address, (error) => { if (error) done(undefined); });
      } catch {
        // An address the socket cannot send to at all (a malformed zone id, say): this upstream fails.
        done(undefined);
      }
      return () => { this.#pending.delete(id); };
    });
  }

  #viaTcp(query: Buffer, upstream: Upstream): Promise<Buffer | undefined> {
    return this.#attempt((done) => {
      const socket = net.connect({ host: upstream.address, port: upstream.port });
      const reader = new FrameReader();
      socket.on('connect', () => socket.end(frame(query)));
      socket.on('data', (chunk) => {
        reader.push(chunk);
        const reply = reader.next();
        if (reply) done(isResponse(reply) ? reply : undefined);
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
    for (const socket of this.#sockets.values()) socket.close();
    this.#sockets.clear();
  }
}

/** One spelling of an address however written: `::1` for `0:0:0:0:0:0:0:1`, `127.0.0.1` for `::ffff:127.0.0.1`. */
function canonical(address: string): string {
  const bare = address.split('%')[0]!.replace(/^::ffff:(?=\d+\.)/i, '');
  return net.isIPv6(bare) ? new net.SocketAddress({ address: bare, family: 'ipv6' }).address : bare;
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
