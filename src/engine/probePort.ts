// Checks that a published port can be opened on every node address before a service takes it, so an
// unbindable port is refused at create time with the reason and the fix, not found later in a log.
import net from 'node:net';
import dgram from 'node:dgram';
import type { PortConfig } from '../swarm/index.js';

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
    const fail = (error: NodeJS.ErrnoException) => reject(new Error(describe(error, published, address)));
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

export function portProbe(addresses: () => string[]): (port: PortConfig) => Promise<void> {
  return async (port) => {
    for (const address of addresses()) await probeOne(port, address);
  };
}
