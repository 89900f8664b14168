// What goes ahead of the client's bytes toward a task. With a PROXY version set, our header names the
// real client; without, nothing does, as through Swarm's ingress. A client in a trusted range (a load
// balancer in front) may send its own header, which is read and stands for the client. Anyone else's is
// refused when no header of ours goes first: a task that reads PROXY headers would otherwise take a
// spoofed address for the truth.
import type net from 'node:net';
import { ProxyHeaderSniffer, buildProxyHeader } from './proxyHeader.js';
import { endWriting, relay } from './relay.js';
import type { Endpoint, HeaderRead, ProxyVersion } from './proxyHeader.js';

export interface PrefaceOptions {
  proxyProtocol?: ProxyVersion | undefined;
  /** The client's address is one whose PROXY header is believed. */
  trusted: boolean;
  /**
   * How long a client may leave us waiting: then one that sent the start of a header and stopped is
   * refused, and a trusted one that sent nothing counts as its own client (a server that speaks first must
   * get its greeting out).
   */
  sniffTimeoutMs?: number;
}

const SNIFF_TIMEOUT_MS = 2000;

/** Starts client → upstream: the preface, then the client's bytes, relayed. `refuse` ends both with a reason. */
export function pipeWithPreface(client: net.Socket, upstream: net.Socket, options: PrefaceOptions, refuse: (reason: string) => void): void {
  // The addresses are read only when a header or a refusal needs them: each is a system call.
  const socketSource = (): Endpoint => ({ address: client.remoteAddress ?? '', port: client.remotePort ?? 0 });
  const header = (source: Endpoint): Buffer | undefined => options.proxyProtocol
    ? buildProxyHeader(options.proxyProtocol, source, { address: client.localAddress ?? '', port: client.localPort ?? 0 })
    : undefined;
  if (!options.trusted && options.proxyProtocol) {
    // Our header goes first, so whatever the client sends after it is only data to the task: nothing to check.
    upstream.write(header(socketSource())!);
    relay(client, upstream);
    return;
  }
  const sniffer = new ProxyHeaderSniffer();
  const start = (preface: Buffer | undefined, rest: Buffer): void => {
    clearTimeout(timer);
    client.off('data', onData);
    client.off('end', onEnd);
    if (preface) upstream.write(preface);
    if (rest.length) upstream.write(rest);
    relay(client, upstream);
  };
  const decide = (read: HeaderRead): void => {
    if (read.kind === 'incomplete') return wait();
    if (read.kind === 'none') return start(options.trusted ? header(socketSource()) : undefined, sniffer.rest(read));
    clearTimeout(timer);
    if (read.kind === 'invalid') return refuse(`a malformed PROXY header (${read.reason})`);
    if (!options.trusted) return refuse(`a PROXY header from ${socketSource().address}, which is not a trusted proxy`);
    start(header(read.source ?? socketSource()), sniffer.rest(read));
  };
  const onData = (chunk: Buffer): void => decide(sniffer.push(chunk));
  // A client that half-closes: what it sent goes through, unless it is an unfinished header.
  const onEnd = (): void => {
    const read = sniffer.push(Buffer.alloc(0));
    if (read.kind === 'incomplete' && sniffer.buffered.length > 0) return refuse('an unfinished PROXY header');
    decide(read.kind === 'incomplete' ? { kind: 'none' } : read);
    endWriting(upstream);
  };
  // Set only while there is something to wait for: a trusted client's header, or the rest of a header begun.
  let timer: NodeJS.Timeout | undefined;
  const wait = (): void => {
    if (timer) return;
    timer = setTimeout(() => {
      if (sniffer.buffered.length > 0) return refuse('the start of a PROXY header, then silence');
      // A trusted client that sent nothing yet is its own client.
      start(header(socketSource()), sniffer.buffered);
    }, options.sniffTimeoutMs ?? SNIFF_TIMEOUT_MS);
    client.once('close', () => clearTimeout(timer));
  };
  if (options.trusted) wait();
  client.on('data', onData);
  client.once('end', onEnd);
}
