// Checks that a published port can be opened on every node address before a service takes it, so an
// unbindable port is refused at create time with the reason and the fix, not found later in a log.
// A port routemesh itself listens on is refused naming what holds it.
import net from 'node:net';
import dgram from 'node:dgram';
import http from 'node:http';
import type { PortConfig, PortProbe } from '../swarm/index.js';

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

/** On this node: a port routemesh itself uses here is refused naming what holds it; any other must bind on the node's address. */
export function localPortProbe(address: string, reserved: () => ReservedPort[]): PortProbe {
  return async (port) => {
    const taken = reserved().find((r) => r.port === port.PublishedPort && r.protocols.includes(port.Protocol as 'tcp' | 'udp'));
    if (taken) throw new Error(`cannot publish port ${taken.port}: it is routemesh's own, ${taken.holder}; choose another published port`);
    await probeOne(port, address);
  };
}

/** How long a node has to answer a probe before the manager checks its address itself. */
const NODE_PROBE_MS = 3000;

/**
 * On every node, each by the node itself (the one that will bind the port): this one's `local` probe, the
 * others' through their engine API (`POST /routemesh/ports/probe`, on the API port nodes share). A node
 * that does not answer is checked from here, on its address, as nodes on one machine allow.
 */
export function clusterPortProbe(self: string, local: PortProbe, nodes: () => string[], apiPort: () => number): PortProbe {
  return async (port) => {
    for (const address of nodes()) {
      if (address === self) await local(port);
      else if (!(await askNode(address, apiPort(), port))) await probeOne(port, address);
    }
  };
}

/** The node's answer: true when it can open the port, a refusal thrown with its words; false when it did not answer. */
function askNode(address: string, apiPort: number, port: PortConfig): Promise<boolean> {
  const body = JSON.stringify({ Protocol: port.Protocol, PublishedPort: port.PublishedPort, PublishMode: port.PublishMode });
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: address, port: apiPort, method: 'POST', path: '/v1.50/routemesh/ports/probe', timeout: NODE_PROBE_MS,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => {
        if (res.statusCode === 200) return resolve(true);
        if (res.statusCode === 400) {
          try {
            return reject(new Error((JSON.parse(text) as { message: string }).message));
          } catch {
            // not an answer of ours: as if none came
          }
        }
        resolve(false);
      });
      res.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end(body);
  });
}
