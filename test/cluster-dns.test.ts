// Where a cluster's DNS server listens: 53 by default, 10053 (else any free port) when 53 cannot be had,
// and exactly the port asked for with --dns ADDR:PORT, or a start that stops with the reason.
import dgram from 'node:dgram';
import t from 'tap';
import type { Test } from 'tap';
import { startCluster } from '../src/engine/index.js';
import type { ClusterOptions } from '../src/engine/index.js';

const BLOCK = 146; // one bare node at 127.146.0.1; DNS on 127.146.0.250 to .253

/** Holds a UDP port, as another resolver on the machine would. */
async function occupy(t: Test, address: string, port: number): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(port, address, () => resolve()); });
  t.teardown(() => new Promise<void>((resolve) => socket.close(() => resolve())));
}

async function start(t: Test, options: Partial<ClusterOptions>, log: string[] = []): Promise<Awaited<ReturnType<typeof startCluster>>> {
  const cluster = await startCluster({ nodes: 1, bare: true, subnet: `127.${BLOCK}.0.0/24`, dnsUpstreams: [], log: (line) => log.push(line), ...options });
  t.teardown(() => cluster.close());
  return cluster;
}

t.test('53 taken: DNS falls back to 10053 and says so', async (t) => {
  await occupy(t, `127.${BLOCK}.0.250`, 53);
  const log: string[] = [];
  const cluster = await start(t, { dns: `127.${BLOCK}.0.250` }, log);
  t.equal(cluster.dnsServer.port, 10053);
  t.match(log.join('\n'), /DNS: 127\.146\.0\.250:53 cannot be bound \((EADDRINUSE|EACCES)\): serving on 127\.146\.0\.250:10053/);
});

t.test('53 and 10053 taken: any free port', async (t) => {
  await occupy(t, `127.${BLOCK}.0.251`, 53);
  await occupy(t, `127.${BLOCK}.0.251`, 10053);
  const cluster = await start(t, { dns: `127.${BLOCK}.0.251` });
  t.not(cluster.dnsServer.port, 53);
  t.not(cluster.dnsServer.port, 10053);
  t.ok(cluster.dnsServer.port > 0);
});

t.test('a port asked for is that port or nothing: the start stops with the reason', async (t) => {
  await occupy(t, `127.${BLOCK}.0.252`, 5353);
  await t.rejects(start(t, { dns: `127.${BLOCK}.0.252:5353` }), /the DNS server cannot listen on 127\.146\.0\.252:5353 \(.*EADDRINUSE.*\): choose another address with --dns ADDR\[:PORT\]/);
});

t.test('an address beyond loopback is refused before anything listens, not papered over with another port', async (t) => {
  // 192.0.2.1 (TEST-NET-1): routemesh listens and sends on this machine's loopback only.
  await t.rejects(start(t, { dns: '192.0.2.1' }), /^--dns 192\.0\.2\.1 is not a loopback address: choose one in 127\.0\.0\.0\/8/);
});

t.test('a malformed --dns or --dns-upstream is refused before anything starts', async (t) => {
  await t.rejects(start(t, { dns: 'localhost:53' }), /--dns: 'localhost:53' is not a DNS address: use ADDR or ADDR:PORT/);
  await t.rejects(start(t, { dns: `127.${BLOCK}.0.253`, dnsUpstreams: ['10.0.0.1:99999'] }), /--dns-upstream: '10\.0\.0\.1:99999' is not a DNS address/);
});
