// What an engine serves for its host while it holds the host lock: of two engines naming one DNS address,
// exactly one serves DNS (and holds the VIPs); when it stops, the other takes both over on the same port.
// Across processes too: another process's engine, SIGKILLed, is taken over within 2 s.
// A DNS port that cannot be had stops the start with the reason, and leaves the lock for another.
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import t from 'tap';
import type { Test } from 'tap';
import { HostServices } from '../src/engine/HostServices.js';
import { HostLock } from '../src/engine/HostLock.js';
import type { DnsServerOptions, ServiceRecord } from '../src/vip-dns/index.js';
import { waitFor } from './support/cluster.js';
import { deadline } from './support/dns.js';
import { hostHolder } from './support/hostHolder.js';

const WEB: ServiceRecord = { name: 'web', vip: '127.47.0.2', tasks: [], ports: [] };

function dns(address: string, port = 0): DnsServerOptions {
  return { address, port, zone: { vipTtl: 600, taskTtl: 5, ownedBlocks: ['127.47.0.0/16'] }, upstreams: [] };
}

function host(t: Test, holder: string, options: DnsServerOptions, log: string[] = []): HostServices {
  const services = new HostServices({ holder, dns: options, retryMs: 50, log: (line) => log.push(line) });
  t.teardown(() => services.close());
  return services;
}

async function resolve(address: string, port: number, name: string): Promise<string[] | undefined> {
  const resolver = new Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`${address}:${port}`]);
  return resolver.resolve4(name).catch(() => undefined);
}

t.test('one of two engines serves; when it stops the other serves on the same port', async (t) => {
  const address = '127.45.0.250';
  const log: string[] = [];
  const node1 = host(t, 'node1', dns(address), log);
  const node2 = host(t, 'node2', dns(address), log);
  await node1.start();
  await node2.start();
  t.ok(node1.held(), 'the first to start holds them');
  t.notOk(node2.held(), 'the second does not');
  const { port } = node1.dnsServer;
  node1.setRecords([WEB]);
  t.same(await resolve(address, port, 'web'), [WEB.vip], 'node1 answers');

  const heard = new Promise<void>((resolve) => node2.onChange(resolve));
  await node1.close();
  t.notOk(node1.held(), 'stopped, node1 holds nothing');
  await deadline('node2 to take over', heard, 2000);
  t.ok(node2.held(), 'node2 holds them now, and its mesh is told');
  node2.setRecords([WEB]);
  t.same(await waitFor('node2 to answer', () => resolve(address, port, 'web')), [WEB.vip], 'on the port node1 served');
  t.equal(node2.dnsServer.port, port);
  t.match(log, [new RegExp(`^node2: took over the VIPs and the DNS server on 127\\.45\\.0\\.250:${port} \\(the engine that held them stopped\\)$`)]);
});

t.test('a DNS port asked for that is taken stops the start with the reason, and the lock is left for another', async (t) => {
  const address = '127.45.0.251';
  const blocker = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => { blocker.once('error', reject); blocker.bind(5353, address, () => resolve()); });
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  const node1 = host(t, 'node1', dns(address, 5353));
  await t.rejects(node1.start(), /^the DNS server cannot listen on 127\.45\.0\.251:5353 \(.*EADDRINUSE.*\): choose another address with --dns ADDR\[:PORT\]$/);
  t.notOk(node1.held(), 'it holds nothing');
  const other = new HostLock(`routemesh:${address}:5353`);
  t.teardown(() => other.close());
  t.equal(await other.acquire(), true, 'another may take the lock at once');
});

t.test('the engine serving DNS is SIGKILLed in its own process: this one answers on its port within 2 s', async (t) => {
  const address = '127.45.0.252';
  const child = await hostHolder(t, 'dns', address);
  const [said, childPort] = child.said.split(' ');
  t.equal(said, 'held', 'the child process serves');
  const port = Number(childPort);
  t.same(await resolve(address, port, 'web'), ['127.47.0.3'], 'and answers');

  const node2 = host(t, 'node2', dns(address));
  await node2.start();
  t.notOk(node2.held(), 'this process waits');
  const heard = new Promise<void>((resolve) => node2.onChange(resolve));
  node2.setRecords([WEB]);
  const killedAt = Date.now();
  await child.kill();
  await waitFor('this process to answer', () => resolve(address, port, 'web'), 2000);
  await heard;
  t.ok(node2.held(), `this process serves ${Date.now() - killedAt} ms after the SIGKILL, on the child's port ${port}`);
  t.same(await resolve(address, port, 'web'), [WEB.vip], 'with its own names');
});
