// Checks that a published port can be opened on every node address before a service takes it, so an
// unbindable port is refused at create time with the reason and the fix, not found later in a log.
// A port routemesh itself listens on is refused naming what holds it.
import net from 'node:net';
import dgram from 'node:dgram';
import type { PortConfig } from '../swarm/index.js';

/** A port routemesh itself uses on the node addresses, and what for (said when a service asks for it). */
export interface ReservedPort {
  port: number;
  protocols: readonly ('tcp' | 'udp')[];
  holder: string;
}

function describe(error: NodeJS.ErrnoException, port: number, address: string): string {
  if (error.code === 'EACCES' && port < 1024) {
    return `cannot publish port ${port}: ports below 1024 need root (or CAP_NET_BIND_SERVICE) and routemesh runs without it; ` +
      `publish a port of 1024 or more instead, e.g. published=${port + 8000},target=...`;
  }
  if (error.code === 'EADDRINUSE') {
    return `cannot publish port ${port}: ${address}:${port} is already in use by another program; stop that program or choose another published port`;
  }
  return `cannot publish port ${port} on ${address}: ${error.message}`;
}

function probeOne(port: PortConfig, address: string): Promise<void> {
  const published = port.PublishedPort!;
  return new Promise((resolve, reject) => {
    const fail = (error: NodeJS.ErrnoException) => {
      // A host-mode port opens only where a task runs, and another service's task may hold it on some
      // node (the scheduler keeps them apart): only a port this process may never bind is refused.
      if (port.PublishMode === 'host' && error.code !== 'EACCES') resolve();
      else reject(new Error(describe(error, published, address)));
    };
    if (port.Protocol === 'udp') {
      const socket = dgram.createSocket('udp4');
      socket.once('error', (e) => { socket.close(); fail(e); });
      socket.bind(published, address, () => socket.close(() => resolve()));
      return;
    }
    const server = net.createServer();
    server.once('error', fail);
    server.listen({ host: address, port: published, exclusive: true }, () => server.close(() => resolve()));
  });
}

export function portProbe(addresses: () => string[], reserved: () => ReservedPort[]): (port: PortConfig) => Promise<void> {
  return async (port) => {
    const taken = reserved().find((r) => r.port === port.PublishedPort && r.protocols.includes(port.Protocol as 'tcp' | 'udp'));
    if (taken) throw new Error(`cannot publish port ${taken.port}: it is routemesh's own, ${taken.holder}; choose another published port`);
    for (const address of addresses()) await probeOne(port, address);
  };
}
