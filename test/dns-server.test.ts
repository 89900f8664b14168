// The embedded DNS server on real sockets, asked by Node's resolver and by the real dig: the names it owns
// (VIPs, dnsrr task lists, tasks.<svc>, container names, PTR, SRV), TTLs, truncation and the retry over
// TCP, zone swaps, TCP pipelining and idle connections, forwarding with failover to fake upstreams on
// loopback, the in-flight bound, and listen() on a taken port. Everything runs on 127.214.0.0/16.
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import t from 'tap';
import type { Test } from 'tap';
import { Packet } from 'dns2';
import { DnsServer } from '../src/vip-dns/index.js';
import type { DnsServerOptions, ServiceRecord } from '../src/vip-dns/index.js';
import { FrameReader, frame } from '../src/vip-dns/tcpFrames.js';
import { askTcp, askUdp, deadline, dig, dnsQuery, fakeUpstream, until } from './support/dns.js';
import { requireTool } from './support/tools.js';

/** Where raw-query clients send from. DNS servers are 127.214.0.x, fake upstreams 127.214.1.x. */
const CLIENT = '127.214.0.200';
const A = Packet.TYPE.A;
const SERVFAIL = 2;

const ZONE = { vipTtl: 321, taskTtl: 7, ownedBlocks: ['127.214.10.0/24', '127.214.11.0/24', '127.214.12.0/24', '127.214.13.0/24'] };

const BIG = Array.from({ length: 100 }, (_, i) => ({ name: `big.${i + 1}.task${i + 1}`, address: `127.214.13.${i + 1}` }));

const SERVICES: ServiceRecord[] = [
  {
    name: 'web',
    vip: '127.214.10.2',
    tasks: [
      { name: 'web.1.aaaa', address: '127.214.11.1' },
      // This task's port 80 moved (no root): SRV must say where it really listens.
      { name: 'web.2.bbbb', address: '127.214.11.2', listenPorts: new Map([['80/tcp', 10080]]) },
    ],
    ports: [{ port: 80, protocol: 'tcp' }],
    networks: ['front'],
  },
  { name: 'rr', tasks: [{ name: 'rr.1.cccc', address: '127.214.12.1' }, { name: 'rr.2.dddd', address: '127.214.12.2' }], ports: [] },
  { name: 'big', tasks: BIG, ports: [] },
];

/** A server on `address`, on a port of the kernel's choice, answering SERVICES; closed when the test ends. */
async function startServer(t: Test, address: string, options: Partial<DnsServerOptions> = {}): Promise<DnsServer> {
  const server = new DnsServer({ address, port: 0, zone: ZONE, upstreams: [], ...options });
  t.teardown(() => server.close());
  await server.listen();
  server.setRecords(SERVICES);
  return server;
}

/** Node's resolver, one try, asking only `server`. A new one per use: c-ares caches answers for their TTL. */
function resolverFor(server: DnsServer): Resolver {
  const resolver = new Resolver({ timeout: 3000, tries: 1 });
  resolver.setServers([`${server.address}:${server.port}`]);
  return resolver;
}

const sorted = (list: readonly string[]): string[] => [...list].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
const answerData = (records: { data: string }[]): string[] => sorted(records.map((r) => r.data));

t.test('names the zone owns, asked with Node\'s resolver', async (t) => {
  const server = await startServer(t, '127.214.0.1');
  // A fresh resolver per question, so no answer comes from c-ares' cache. (c-ares lowercases the names it
  // sends, so case-insensitive matching is shown with dig below.)
  const node = (): Resolver => resolverFor(server);
  t.same(await node().resolve4('web'), ['127.214.10.2'], 'a vip-mode service resolves to its VIP');
  t.same(sorted(await node().resolve4('rr')), ['127.214.12.1', '127.214.12.2'], 'a dnsrr service resolves to its task addresses');
  t.same(sorted(await node().resolve4('tasks.web')), ['127.214.11.1', '127.214.11.2'], 'tasks.<svc> lists the tasks, not the VIP');
  t.same(sorted(await node().resolve4('tasks.rr')), ['127.214.12.1', '127.214.12.2']);
  t.same(await node().resolve4('web.2.bbbb'), ['127.214.11.2'], 'a container name resolves to its task');
  t.same(await node().resolve4('web.front'), ['127.214.10.2'], '<svc>.<network> resolves too');
  await t.rejects(node().resolve6('web'), { code: 'ENODATA' }, 'AAAA on an owned name: NOERROR with no records');
  await t.rejects(node().resolve4('nope.tasks.web'), { code: 'ENOTFOUND' }, 'an unknown name under an owned one: NXDOMAIN');
  t.same(await node().reverse('127.214.11.1'), ['web.1.aaaa'], 'PTR of a task address names the container');
  t.same(await node().reverse('127.214.10.2'), ['web'], 'PTR of a VIP names the service');
  await t.rejects(node().reverse('127.214.11.99'), { code: 'ENOTFOUND' }, 'an unknown address of an owned block: NXDOMAIN');
  const srv = await node().resolveSrv('_80._tcp.web');
  t.same(
    srv.map((r) => ({ name: r.name, port: r.port, priority: r.priority, weight: r.weight })).sort((a, b) => a.name.localeCompare(b.name)),
    [{ name: 'web.1.aaaa', port: 80, priority: 0, weight: 1 }, { name: 'web.2.bbbb', port: 10080, priority: 0, weight: 1 }],
    'SRV: one record per task, on the port the task really listens on',
  );
});

t.test('names the zone owns, asked with dig', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const server = await startServer(t, '127.214.0.2');
  const ask = (...args: string[]) => dig(server.address, server.port, args);

  const vip = await ask('web');
  t.equal(vip.status, 'NOERROR');
  t.ok(vip.flags.includes('aa'), 'answers from the zone are authoritative');
  t.same(vip.answer.map((r) => [r.name, r.type, r.data]), [['web.', 'A', '127.214.10.2']]);

  const rr = await ask('rr', 'A');
  t.same(answerData(rr.answer), ['127.214.12.1', '127.214.12.2'], 'dnsrr: the task addresses');
  t.same(answerData((await ask('tasks.web')).answer), ['127.214.11.1', '127.214.11.2']);
  t.same(answerData((await ask('rr.1.cccc')).answer), ['127.214.12.1'], 'container name');

  const mixed = await ask('TaSkS.RR');
  t.same(answerData(mixed.answer), ['127.214.12.1', '127.214.12.2'], 'case-insensitive');
  t.same(mixed.answer.map((r) => r.name), ['TaSkS.RR.', 'TaSkS.RR.'], 'answers carry the name as it was asked');
  t.same(answerData((await ask('WEB.Front')).answer), ['127.214.10.2'], 'case-insensitive <svc>.<network>');
  t.equal((await ask('_80._TCP.Web', 'SRV')).answerCount, 2, 'case-insensitive SRV name');

  const aaaa = await ask('web', 'AAAA');
  t.equal(aaaa.status, 'NOERROR', 'AAAA on an owned name: NOERROR');
  t.equal(aaaa.answerCount, 0, 'AAAA on an owned name: ANSWER: 0');

  const unknown = await ask('nope.tasks.web');
  t.equal(unknown.status, 'NXDOMAIN', 'an unknown name under an owned one');
  t.equal(unknown.answerCount, 0);

  const taskPtr = await ask('-x', '127.214.11.2');
  t.same(taskPtr.answer.map((r) => [r.name, r.type, r.data]), [['2.11.214.127.in-addr.arpa.', 'PTR', 'web.2.bbbb.']], 'PTR of a task');
  const vipPtr = await ask('-x', '127.214.10.2');
  t.same(vipPtr.answer.map((r) => [r.name, r.type, r.data]), [['2.10.214.127.in-addr.arpa.', 'PTR', 'web.']], 'PTR of a VIP');
  t.equal((await ask('-x', '127.214.12.99')).status, 'NXDOMAIN', 'unknown address of an owned block');

  const srv = await ask('_80._tcp.web', 'SRV');
  t.equal(srv.status, 'NOERROR');
  t.same(answerData(srv.answer), sorted(['0 1 80 web.1.aaaa.', '0 1 10080 web.2.bbbb.']), 'one SRV record per task, on the port each really listens on');
  t.same(
    sorted(srv.additional.filter((r) => r.type === 'A').map((r) => `${r.name} ${r.data}`)),
    ['web.1.aaaa. 127.214.11.1', 'web.2.bbbb. 127.214.11.2'],
    'the ADDITIONAL section carries each target\'s A record',
  );
});

t.test('TTLs are the configured ones', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const server = await startServer(t, '127.214.0.3');
  const ttls = async (...args: string[]): Promise<number[]> => {
    const { answer } = await dig(server.address, server.port, ['+noall', '+answer', ...args]);
    t.ok(answer.length > 0, `${args.join(' ')} has answers`);
    return [...new Set(answer.map((r) => r.ttl))];
  };
  t.same(await ttls('web'), [321], 'a VIP: vipTtl');
  t.same(await ttls('rr'), [7], 'a dnsrr service: taskTtl');
  t.same(await ttls('tasks.web'), [7], 'tasks.<svc>: taskTtl');
  t.same(await ttls('web.1.aaaa'), [7], 'a container name: taskTtl');
  t.same(await ttls('-x', '127.214.11.1'), [7], 'PTR of a task: taskTtl');
  t.same(await ttls('-x', '127.214.10.2'), [321], 'PTR of a VIP: vipTtl');
  t.same(await ttls('_80._tcp.web', 'SRV'), [7], 'SRV: taskTtl');
  const resolved = await resolverFor(server).resolve4('web', { ttl: true });
  t.same(resolved, [{ address: '127.214.10.2', ttl: 321 }], 'Node\'s resolver sees the same TTL');
});

t.test('an answer too big for UDP is truncated there and complete over TCP', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const server = await startServer(t, '127.214.0.4');
  const ask = (...args: string[]) => dig(server.address, server.port, args);
  const all = BIG.map((task) => task.address);

  const udpOnly = await ask('+notcp', '+ignore', '+noedns', 'big');
  t.equal(udpOnly.status, 'NOERROR');
  t.ok(udpOnly.flags.includes('tc'), `TC set (flags: ${udpOnly.flags.join(' ')})`);
  t.equal(udpOnly.answerCount, 0, 'a truncated answer is the question alone');
  const udpEdns = await ask('+notcp', '+ignore', 'big');
  t.ok(udpEdns.flags.includes('tc'), '100 records do not fit the EDNS size either');

  const small = await ask('+notcp', '+ignore', '+noedns', 'rr');
  t.notOk(small.flags.includes('tc'), 'an answer that fits is not truncated');

  const retried = await ask('big');
  t.match(retried.output, /Truncated, retrying in TCP mode/, 'plain dig got TC and retried over TCP');
  t.equal(retried.answerCount, 100);
  t.same(answerData(retried.answer), sorted(all), 'all 100 task addresses');

  const tcp = await ask('+tcp', 'big');
  t.notOk(tcp.flags.includes('tc'));
  t.same(answerData(tcp.answer), sorted(all), 'over TCP directly: all 100');

  t.same(sorted(await resolverFor(server).resolve4('big')), sorted(all), 'Node\'s resolver retries over TCP and gets all 100');
});

t.test('setRecords swaps the zone at once, with no restart', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  // Names no longer ours are forwarded like any other: this upstream says NXDOMAIN to everything.
  const upstream = await fakeUpstream(t, '127.214.1.5', 'nxdomain');
  const server = await startServer(t, '127.214.0.5', { upstreams: [upstream] });
  const ask = (...args: string[]) => dig(server.address, server.port, args);
  const port = server.port;

  t.same(answerData((await ask('web')).answer), ['127.214.10.2']);
  t.same(answerData((await ask('rr')).answer), ['127.214.12.1', '127.214.12.2']);
  t.equal((await ask('api')).status, 'NXDOMAIN', 'api is not ours yet: forwarded');
  t.same(upstream.queries.map((q) => q.name), ['api']);

  server.setRecords([
    { name: 'api', vip: '127.214.10.9', tasks: [{ name: 'api.1.eeee', address: '127.214.11.9' }], ports: [] },
    { name: 'rr', tasks: [{ name: 'rr.3.ffff', address: '127.214.12.3' }], ports: [] },
  ]);

  t.same(answerData((await ask('api')).answer), ['127.214.10.9'], 'a new service answers at once');
  t.same(answerData((await ask('rr')).answer), ['127.214.12.3'], 'a changed service gives its new tasks');
  const removed = await ask('web');
  t.equal(removed.status, 'NXDOMAIN', 'a removed service is no longer answered from the zone');
  t.equal(removed.answerCount, 0);
  t.same(upstream.queries.map((q) => q.name), ['api', 'web'], 'its name went to the upstream');
  t.equal((await ask('-x', '127.214.11.1')).status, 'NXDOMAIN', 'the PTR of a removed task is gone');
  t.same(sorted((await resolverFor(server).resolve4('rr'))), ['127.214.12.3'], 'Node\'s resolver sees the new zone too');
  t.equal(server.port, port, 'same server, same port');
});

/** Reads framed DNS messages from `socket` until `count` have come, or the deadline passes. */
function readFrames(socket: net.Socket, count: number): Promise<Buffer[]> {
  return deadline(`${count} framed answers`, new Promise<Buffer[]>((resolve, reject) => {
    const reader = new FrameReader();
    const messages: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      for (let message = reader.next(); message; message = reader.next()) messages.push(message);
      if (messages.length >= count) { socket.off('data', onData); resolve(messages); }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed after ${messages.length} of ${count} answers`)));
  }));
}

/** Writes `bytes` and reads the `count` answers they get. */
function readFramesAfter(socket: net.Socket, bytes: Buffer, count = 1): Promise<Buffer[]> {
  const answers = readFrames(socket, count);
  socket.write(bytes);
  return answers;
}

async function connect(t: Test, server: DnsServer): Promise<net.Socket> {
  const socket = net.connect({ host: server.address, port: server.port });
  t.teardown(() => { socket.destroy(); });
  await deadline('the TCP connection', new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); }));
  return socket;
}

t.test('TCP: two queries pipelined on one connection are both answered, with their IDs', async (t) => {
  const server = await startServer(t, '127.214.0.6');
  const socket = await connect(t, server);
  // Both frames in one write: the server must read two messages out of one chunk.
  const answers = await readFramesAfter(socket, Buffer.concat([frame(dnsQuery('web', A, 0x1111)), frame(dnsQuery('tasks.rr', A, 0x2222))]), 2);
  const replies = answers.map((raw) => Packet.parse(raw));
  const byId = new Map(replies.map((r) => [r.header.id, r]));
  t.same(sorted([...byId.keys()].map(String)), [String(0x1111), String(0x2222)], 'one answer per query, each with its ID');
  t.same(byId.get(0x1111)?.answers.map((r) => r.address), ['127.214.10.2']);
  t.same(sorted(byId.get(0x2222)?.answers.map((r) => r.address!) ?? []), ['127.214.12.1', '127.214.12.2']);
  t.equal(byId.get(0x1111)?.questions[0]?.name, 'web', 'each answer repeats its own question');
  t.notOk(socket.destroyed, 'the connection stays open for more');
});

t.test('TCP: a connection idle for longer than tcpIdleMs is closed by the server', async (t) => {
  const server = await startServer(t, '127.214.0.7', { tcpIdleMs: 200 });
  const socket = await connect(t, server);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  socket.on('error', () => {});
  const [raw] = await readFramesAfter(socket, frame(dnsQuery('web', A, 7)));
  const answeredAt = performance.now();
  t.equal(Packet.parse(raw!).header.id, 7, 'the connection served a query first');
  const closedAt = await deadline('the server to close the idle connection', closed, 5000);
  const idle = closedAt - answeredAt;
  t.ok(idle >= 150, `closed after ${idle.toFixed(0)} ms idle, not before tcpIdleMs (200 ms)`);
  t.ok(idle < 3000, `closed after ${idle.toFixed(0)} ms idle, well before the 10 s default`);
});

t.test('TCP: a connection waiting for a forwarded answer is not idle', async (t) => {
  // The answer comes after the silent upstream's timeout (400 ms), later than tcpIdleMs (200 ms). With the
  // defaults the same happens to any TCP client whose first upstreams are silent: 3 x 4 s outlasts 10 s.
  const silent = await fakeUpstream(t, '127.214.1.8', 'silent');
  const good = await fakeUpstream(t, '127.214.1.9', 'answer', '192.0.2.9');
  const server = await startServer(t, '127.214.0.8', { upstreams: [silent, good], forwardTimeoutMs: 400, tcpIdleMs: 200 });
  const socket = await connect(t, server);
  socket.on('error', () => {});
  const outcome = await readFramesAfter(socket, frame(dnsQuery('late.example', A, 0x0808))).then(
    ([raw]) => Packet.parse(raw!),
    (error: Error) => error.message,
  );
  await until('the query to reach the second upstream', () => good.queries.length > 0);
  t.same([silent.queries.map((q) => q.name), good.queries.map((q) => q.name)], [['late.example'], ['late.example']], 'forwarded to each upstream in turn');
  t.type(outcome, Packet, `the answer arrives on the open connection (got: ${typeof outcome === 'string' ? outcome : 'an answer'})`);
  if (typeof outcome === 'string') return;
  t.equal(outcome.header.id, 0x0808);
  t.same(outcome.answers.map((r) => r.address), ['192.0.2.9'], 'the second upstream\'s answer');
});

t.test('forwarding: a name not ours is answered by the upstream, with the client\'s ID', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const upstream = await fakeUpstream(t, '127.214.1.10', 'answer', '192.0.2.10');
  const server = await startServer(t, '127.214.0.10', { upstreams: [upstream] });

  const viaUdp = await dig(server.address, server.port, ['example.test']);
  t.equal(viaUdp.status, 'NOERROR');
  t.same(viaUdp.answer.map((r) => [r.name, r.ttl, r.data]), [['example.test.', 42, '192.0.2.10']], 'the upstream\'s answer, as it gave it');
  t.ok(viaUdp.flags.includes('ra'), 'recursion available');
  t.same(upstream.queries.map((q) => [q.transport, q.name]), [['udp', 'example.test']], 'a UDP query is forwarded over UDP');

  const viaTcp = await dig(server.address, server.port, ['+tcp', 'tcp.example.test']);
  t.same(viaTcp.answer.map((r) => r.data), ['192.0.2.10'], 'dig +tcp gets the upstream\'s answer');
  t.same(upstream.queries.map((q) => [q.transport, q.name]).at(-1), ['tcp', 'tcp.example.test'], 'a TCP query is forwarded over TCP');

  const udp = await askUdp(t, CLIENT, server, dnsQuery('raw.example.test', A, 0x1234));
  t.equal(udp.reply.header.id, 0x1234, 'UDP: the answer has the client\'s ID');
  t.same(udp.reply.answers.map((r) => r.address), ['192.0.2.10']);
  const tcp = await askTcp(t, server, dnsQuery('raw.example.test', A, 0x4321));
  t.equal(tcp.reply.header.id, 0x4321, 'TCP: the answer has the client\'s ID');
  t.same(tcp.reply.answers.map((r) => r.address), ['192.0.2.10']);

  t.same(await resolverFor(server).resolve4('node.example.test'), ['192.0.2.10'], 'Node\'s resolver gets it too');
});

t.test('forwarding: an upstream silent past forwardTimeoutMs fails over to the next', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const silent = await fakeUpstream(t, '127.214.1.11', 'silent');
  const good = await fakeUpstream(t, '127.214.1.12', 'answer', '192.0.2.12');
  const server = await startServer(t, '127.214.0.11', { upstreams: [silent, good], forwardTimeoutMs: 200 });

  const udp = await askUdp(t, CLIENT, server, dnsQuery('slow.example', A, 0x2001));
  t.equal(udp.reply.header.rcode, 0);
  t.same(udp.reply.answers.map((r) => r.address), ['192.0.2.12'], 'the second upstream answered');
  t.ok(udp.ms >= 180, `after the first one's timeout (${udp.ms.toFixed(0)} ms)`);
  t.ok(udp.ms < 1000, `and not much later (${udp.ms.toFixed(0)} ms)`);
  t.same(silent.queries.map((q) => q.name), ['slow.example'], 'the first upstream was asked first');
  t.same(good.queries.map((q) => q.name), ['slow.example']);

  const started = performance.now();
  const viaTcp = await dig(server.address, server.port, ['+tcp', 'slow-tcp.example']);
  const ms = performance.now() - started;
  t.same(viaTcp.answer.map((r) => r.data), ['192.0.2.12'], 'over TCP too');
  t.ok(ms >= 180 && ms < 1500, `after the first one's timeout, not much later (${ms.toFixed(0)} ms, dig included)`);
  t.same(silent.queries.at(-1)?.transport, 'tcp');
});

t.test('forwarding: SERVFAIL or REFUSED from an upstream moves on to the next; NXDOMAIN does not', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const good = await fakeUpstream(t, '127.214.1.13', 'answer', '192.0.2.13');
  for (const [n, mode] of [[14, 'servfail'], [15, 'refused']] as const) {
    const failing = await fakeUpstream(t, `127.214.1.${n}`, mode);
    // A long timeout: the failover must come from the rcode, not from waiting.
    const server = await startServer(t, `127.214.0.${n}`, { upstreams: [failing, good], forwardTimeoutMs: 3000 });
    const before = good.queries.length;
    const answer = await dig(server.address, server.port, [`${mode}.example`]);
    t.equal(answer.status, 'NOERROR', `${mode} from the first: the client never sees it`);
    t.same(answer.answer.map((r) => r.data), ['192.0.2.13'], `${mode}: the second upstream's answer`);
    t.same(failing.queries.map((q) => q.name), [`${mode}.example`], `${mode}: the first was asked`);
    t.equal(good.queries.length, before + 1, `${mode}: then the second`);
    const raw = await askUdp(t, CLIENT, server, dnsQuery(`raw-${mode}.example`, A, 0x3000 + n));
    t.same(raw.reply.answers.map((r) => r.address), ['192.0.2.13']);
    t.ok(raw.ms < 1000, `${mode}: at once, not after a timeout (${raw.ms.toFixed(0)} ms)`);
  }

  const nx = await fakeUpstream(t, '127.214.1.16', 'nxdomain');
  const server = await startServer(t, '127.214.0.16', { upstreams: [nx, good], forwardTimeoutMs: 3000 });
  const before = good.queries.length;
  t.equal((await dig(server.address, server.port, ['missing.example'])).status, 'NXDOMAIN', 'NXDOMAIN is an answer: passed on');
  t.equal(good.queries.length, before, 'the second upstream was not asked');
});

t.test('forwarding: when no upstream answers, the client gets SERVFAIL', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const silent = await fakeUpstream(t, '127.214.1.17', 'silent');
  const servfail = await fakeUpstream(t, '127.214.1.18', 'servfail');
  const server = await startServer(t, '127.214.0.17', { upstreams: [silent, servfail], forwardTimeoutMs: 200 });

  const viaUdp = await dig(server.address, server.port, ['nobody.example']);
  t.equal(viaUdp.status, 'SERVFAIL');
  t.equal(viaUdp.answerCount, 0);
  t.same([silent.queries.length, servfail.queries.length], [1, 1], 'both upstreams were tried');
  const viaTcp = await dig(server.address, server.port, ['+tcp', 'nobody-tcp.example']);
  t.equal(viaTcp.status, 'SERVFAIL', 'over TCP too');
  const raw = await askUdp(t, CLIENT, server, dnsQuery('raw-nobody.example', A, 0x4001));
  t.equal(raw.reply.header.id, 0x4001);
  t.equal(raw.reply.header.rcode, SERVFAIL);
  t.ok(raw.ms >= 180 && raw.ms < 1000, `after the silent one's timeout, not much later (${raw.ms.toFixed(0)} ms)`);
});

t.test('forwarding: with no upstreams at all, SERVFAIL at once', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const server = await startServer(t, '127.214.0.19', { upstreams: [], forwardTimeoutMs: 3000 });
  const answer = await dig(server.address, server.port, ['elsewhere.example']);
  t.equal(answer.status, 'SERVFAIL');
  t.notOk(answer.flags.includes('ra'), 'no recursion available without upstreams');
  const udp = await askUdp(t, CLIENT, server, dnsQuery('elsewhere.example', A, 0x5001));
  t.equal(udp.reply.header.rcode, SERVFAIL);
  t.ok(udp.ms < 1000, `at once (${udp.ms.toFixed(0)} ms)`);
  const tcp = await askTcp(t, server, dnsQuery('elsewhere.example', A, 0x5002));
  t.equal(tcp.reply.header.rcode, SERVFAIL, 'over TCP too');
  t.equal(tcp.reply.header.id, 0x5002);
  t.ok(tcp.ms < 1000, `at once (${tcp.ms.toFixed(0)} ms)`);
});

t.test('forwarding: maxForwarded bounds the queries in flight; beyond it, SERVFAIL at once', async (t) => {
  const silent = await fakeUpstream(t, '127.214.1.20', 'silent');
  const timeoutMs = 1000;
  const server = await startServer(t, '127.214.0.20', { upstreams: [silent], maxForwarded: 2, forwardTimeoutMs: timeoutMs });

  const client = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => client.close(() => resolve())));
  await new Promise<void>((resolve) => client.bind(0, CLIENT, resolve));
  const answers: { id: number; rcode: number; at: number }[] = [];
  client.on('message', (message) => {
    const reply = Packet.parse(message);
    answers.push({ id: reply.header.id, rcode: reply.header.rcode, at: performance.now() });
  });
  const send = (name: string, id: number): number => {
    client.send(dnsQuery(name, A, id), server.port, server.address);
    return performance.now();
  };

  const firstSent = send('one.example', 1);
  send('two.example', 2);
  await until('the upstream to hold the first two queries', () => silent.queries.length === 2);
  const thirdSent = send('three.example', 3);
  await until('an answer to the third query', () => answers.find((a) => a.id === 3));
  t.same(answers.map((a) => a.id), [3], 'the third is answered while the first two still wait');
  t.equal(answers[0]!.rcode, SERVFAIL, 'with SERVFAIL');
  t.ok(answers[0]!.at - thirdSent < timeoutMs / 2, `at once (${(answers[0]!.at - thirdSent).toFixed(0)} ms)`);
  t.equal(silent.queries.length, 2, 'the third was never forwarded');

  await until('answers to the first two', () => answers.length === 3, timeoutMs + 5000);
  t.same(answers.slice(1).map((a) => a.id).sort(), [1, 2]);
  t.same(answers.slice(1).map((a) => a.rcode), [SERVFAIL, SERVFAIL], 'the first two fail when the upstream times out');
  for (const a of answers.slice(1)) t.ok(a.at - firstSent >= timeoutMs * 0.9, `query ${a.id} waited for the timeout (${(a.at - firstSent).toFixed(0)} ms)`);

  send('four.example', 4);
  await until('the fourth query to be forwarded', () => silent.queries.length === 3);
  t.equal(silent.queries[2]!.name, 'four.example', 'once the first two are done, forwarding resumes');
});

/** A port free on `address` just now (a UDP bind let go); only this file uses the address, so TCP is free too. */
async function freePort(address: string): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

t.test('forwarding: an upstream that is the server itself is dropped', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  for (const [n, withOther] of [[21, false], [22, true]] as const) {
    const address = `127.214.0.${n}`;
    const other = withOther ? await fakeUpstream(t, `127.214.1.${n}`, 'answer', '192.0.2.22') : undefined;
    const port = await freePort(address);
    const log: string[] = [];
    const server = new DnsServer({
      address, port, zone: ZONE, forwardTimeoutMs: 3000, log: (line) => log.push(line),
      upstreams: [{ address, port }, ...(other ? [{ address: other.address, port: other.port }] : [])],
    });
    t.teardown(() => server.close());
    await server.listen();
    server.setRecords(SERVICES);
    t.equal(server.port, port);
    t.same(server.upstreams, other ? [{ address: other.address, port: other.port }] : [], 'itself is no longer an upstream');
    t.match(log, [new RegExp(`not forwarding to ${address.replaceAll('.', '\\.')}:${port}, which is this server`)], 'and it said so');

    const answer = await askUdp(t, CLIENT, server, dnsQuery('loop.example', A, 0x6000 + n));
    t.ok(answer.ms < 1000, `answered promptly, no loop (${answer.ms.toFixed(0)} ms, the timeout is 3000)`);
    if (other) {
      t.same(answer.reply.answers.map((r) => r.address), ['192.0.2.22'], 'the other upstream answers');
    } else {
      t.equal(answer.reply.header.rcode, SERVFAIL, 'no upstream left: SERVFAIL');
      t.equal((await dig(address, port, ['loop2.example'])).status, 'SERVFAIL', 'dig sees SERVFAIL');
    }
    t.same(answerData((await dig(address, port, ['web'])).answer), ['127.214.10.2'], 'its own names still answered');
  }
});

t.test('listen on a port already taken rejects, leaves nothing bound, and another port then works', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  // TCP taken: UDP binds first, then must be let go.
  const tcpTaken = '127.214.0.23';
  const blocker = net.createServer();
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
  await new Promise<void>((resolve) => blocker.listen(0, tcpTaken, resolve));
  const tcpPort = (blocker.address() as net.AddressInfo).port;
  const first = new DnsServer({ address: tcpTaken, port: 0, zone: ZONE, upstreams: [] });
  t.teardown(() => first.close());
  await t.rejects(first.listen(tcpPort), { code: 'EADDRINUSE' }, 'TCP port taken: listen rejects');
  const probe = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => probe.close(() => resolve())));
  await t.resolves(new Promise<void>((resolve, reject) => { probe.once('error', reject); probe.bind({ port: tcpPort, address: tcpTaken, exclusive: true }, resolve); }),
    'the UDP port it had bound is free again');
  await first.listen(0);
  first.setRecords(SERVICES);
  t.not(first.port, tcpPort);
  t.same(answerData((await dig(tcpTaken, first.port, ['web'])).answer), ['127.214.10.2'], 'the same server listens on another port');
  t.same(answerData((await dig(tcpTaken, first.port, ['+tcp', 'web'])).answer), ['127.214.10.2'], 'on both transports');

  // UDP taken: TCP is never bound.
  const udpTaken = '127.214.0.24';
  const udpBlocker = dgram.createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => udpBlocker.close(() => resolve())));
  await new Promise<void>((resolve) => udpBlocker.bind(0, udpTaken, resolve));
  const udpPort = udpBlocker.address().port;
  const second = new DnsServer({ address: udpTaken, port: udpPort, zone: ZONE, upstreams: [] });
  t.teardown(() => second.close());
  await t.rejects(second.listen(), { code: 'EADDRINUSE' }, 'UDP port taken: listen rejects');
  const tcpProbe = net.createServer();
  t.teardown(() => new Promise<void>((resolve) => tcpProbe.close(() => resolve())));
  await t.resolves(new Promise<void>((resolve, reject) => { tcpProbe.once('error', reject); tcpProbe.listen(udpPort, udpTaken, resolve); }),
    'no TCP listener was left on that port');
  await second.listen(0);
  second.setRecords(SERVICES);
  t.same(answerData((await dig(udpTaken, second.port, ['rr'])).answer), ['127.214.12.1', '127.214.12.2'], 'another port works');
});

t.test('TCP: an answer too big for one TCP message keeps what fits, with TC, and the server keeps serving', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  // 1000 tasks with real-length IDs: the SRV answer and its addresses would take about 100 KiB.
  const tasks = Array.from({ length: 1000 }, (_, i) => ({ name: `big.${i + 1}.${String(i).padStart(25, 'x')}`, address: `127.118.${i >> 8}.${i & 255}` }));
  const server = await startServer(t, '127.214.0.30');
  server.setRecords([{ name: 'big', tasks, ports: [{ port: 80, protocol: 'tcp' }] }]);
  const { reply: answer } = await askTcp(t, server, dnsQuery('_80._tcp.big', Packet.TYPE.SRV, 0x3030));
  t.equal(answer.header.id, 0x3030);
  t.equal(answer.header.tc, 1, 'TC: not every record fits');
  t.ok(answer.answers.length > 100 && answer.answers.length < 1000, `${answer.answers.length} of 1000 SRV records fit in one TCP message`);
  const after = await dig(server.address, server.port, ['+tcp', 'tasks.big']);
  t.equal(after.answer.length, 1000, 'tasks.big (1000 A records, 16 KiB) still comes whole over TCP');
});

t.test('TCP: one connection pipelining 500 queries has at most 32 in flight', async (t) => {
  const silent = await fakeUpstream(t, '127.214.1.31', 'silent');
  const server = await startServer(t, '127.214.0.31', { upstreams: [silent], forwardTimeoutMs: 300 });
  const socket = await connect(t, server);
  const batch = Buffer.concat(Array.from({ length: 500 }, (_, i) => frame(dnsQuery(`q${i}.example`, A, i))));
  // The first answers (SERVFAIL) come once the first forwards time out: by then, without the limit, all
  // 500 would have gone upstream.
  const [first] = await readFramesAfter(socket, batch);
  t.equal(Packet.parse(first!).header.rcode, 2, 'SERVFAIL: the upstream never answers');
  t.ok(silent.queries.length <= 32, `${silent.queries.length} queries went upstream before the first answer`);
});

t.test('forwarding: a UDP reply to another question (a late answer to an earlier query) is not taken', async (t) => {
  const confused = await fakeUpstream(t, '127.214.1.32', 'wrong-question', '192.0.2.66');
  const good = await fakeUpstream(t, '127.214.1.33', 'answer', '192.0.2.33');
  const server = await startServer(t, '127.214.0.32', { upstreams: [confused, good], forwardTimeoutMs: 200 });
  const { reply } = await askUdp(t, '127.214.0.132', server, dnsQuery('asked.example', A, 0x3232));
  t.equal(confused.queries.length, 1, 'the first upstream was asked, and replied');
  t.same(reply.answers.map((r) => [r.name, r.address]), [['asked.example', '192.0.2.33']], 'the answer is the second upstream\'s, to our question');
});

t.test('forwarding: an IPv6 upstream is recognised however its address is written', async (t) => {
  const upstream = await fakeUpstream(t, '::1', 'answer', '192.0.2.34');
  const server = await startServer(t, '127.214.0.34', { upstreams: [{ address: '0:0:0:0:0:0:0:1', port: upstream.port }], forwardTimeoutMs: 1000 });
  const { reply, ms } = await askUdp(t, '127.214.0.134', server, dnsQuery('v6.example', A, 0x3434));
  t.same(reply.answers.map((r) => r.address), ['192.0.2.34']);
  t.ok(ms < 1000, `answered in ${ms.toFixed(0)} ms, not after the timeout`);
});
