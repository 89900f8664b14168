// What goes ahead of the client's bytes toward a task. With a PROXY version set, our header names the
// real client; without, nothing does, as through Swarm's ingress. A client in a trusted range (a load
// balancer in front) may send its own header, which is read and stands for the client. Anyone else's is
// refused, whatever the service's settings: a task that reads PROXY headers would otherwise take a
// spoofed address for the truth.
import type net from 'node:net';
import { buildProxyHeader, readProxyHeader } from './proxyHeader.js';
import type { Endpoint, ProxyVersion } from './proxyHeader.js';

export interface PrefaceOptions {
  proxyProtocol?: ProxyVersion | undefined;
  /** The client's address is one whose PROXY header is believed. */
  trusted: boolean;
}

/** More than any real header (v1: 107 bytes; v2 with its usual TLVs): a client still "sending one" past this is refused. */
const MAX_HEADER_BYTES = 4096;

/** Starts client → upstream: the preface, then the client's bytes, piped. `refuse` ends both with a reason. */
export function pipeWithPreface(client: net.Socket, upstream: net.Socket, options: PrefaceOptions, refuse: (reason: string) => void): void {
  const header = (source: Endpoint): Buffer | undefined => options.proxyProtocol
    ? buildProxyHeader(options.proxyProtocol, source, { address: client.localAddress ?? '', port: client.localPort ?? 0 })
    : undefined;
  const socketSource = { address: client.remoteAddress ?? '', port: client.remotePort ?? 0 };
  // An untrusted client's header (if any) is ours at once: a server that speaks first must not wait for the client.
  if (!options.trusted) {
    const ours = header(socketSource);
    if (ours) upstream.write(ours);
  }
  let buffered = Buffer.alloc(0);
  const start = (preface: Buffer | undefined, rest: Buffer): void => {
    client.off('data', onData);
    client.off('end', onEnd);
    if (preface) upstream.write(preface);
    if (rest.length) upstream.write(rest);
    client.pipe(upstream);
  };
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk]);
    const read = readProxyHeader(buffered);
    if (read.kind === 'incomplete' && buffered.length < MAX_HEADER_BYTES) return;
    if (read.kind === 'none') return start(options.trusted ? header(socketSource) : undefined, buffered);
    if (read.kind !== 'header') return refuse(read.kind === 'invalid' ? `a malformed PROXY header (${read.reason})` : 'a PROXY header that never ends');
    if (!options.trusted) return refuse(`a PROXY header from ${socketSource.address}, which is not a trusted proxy`);
    start(header(read.source ?? socketSource), buffered.subarray(read.length));
  };
  // A client that sends nothing and half-closes: what it did send (no header) goes through.
  const onEnd = (): void => {
    start(options.trusted ? header(socketSource) : undefined, buffered);
    upstream.end();
  };
  client.on('data', onData);
  client.once('end', onEnd);
}
