// DNS over TCP against clients that hold connections without asking: silent ones, ones that send half a
// query, ones that drip a byte at a time, one source that opens many. Each query must arrive whole within
// tcpQueryReadMs of its first byte, a connection with no query is closed after tcpIdleMs, and at the
// caps the connection idle longest makes room, so a well-behaved client is always answered. The timeouts
// are configured short so the test does not wait the real 2 s and 10 s.
//
// Loopback addresses: servers 127.60.0.x, the well-behaved client 127.60.0.200, held connections from
// 127.61.0.0/16 (one address each where the test says so), a silent upstream 127.60.1.1.
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { frame } from '../src/vip-dns/tcpFrames.js';
import { deadline, dnsQuery, fakeUpstream, openTcp, until } from './support/dns.js';
import type { TcpClient } from './support/dns.js';
import { TYPE, aAddresses, startServer } from './support/dnsFuzz.js';

const CLIENT = '127.60.0.200';
const heldFrom = (i: number): string => `127.61.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

t.test('300 connections that send nothing or half a query: a well-behaved client is answered at once, and every one of them is closed in time', async (t) => {
  const tcpIdleMs = 3000;
  const tcpQueryReadMs = 1000;
  const { server } = await startServer(t, '127.60.0.1', { tcpIdleMs, tcpQueryReadMs });
  const held: { client: TcpClient; since: number; partial: boolean }[] = [];
  // Silent ones first, then the ones that send a length prefix and half the query it announces.
  const half = frame(dnsQuery('web', TYPE.A, 0x6000)).subarray(0, 12);
  for (let i = 0; i < 300; i++) {
    const client = await openTcp(t, server, heldFrom(i));
    const partial = i >= 150;
    if (partial) client.socket.write(half);
    held.push({ client, since: performance.now(), partial });
  }
  const start = performance.now();
  const polite = await openTcp(t, server, CLIENT);
  polite.socket.write(frame(dnsQuery('web', TYPE.A, 0x6001)));
  const answer = await polite.next(5000).catch((error: Error) => error);
  const ms = performance.now() - start;
  t.notOk(answer instanceof Error, `the well-behaved client is answered (${answer instanceof Error ? answer.message : 'it is'})`);
  t.same(aAddresses(answer instanceof Error ? undefined : answer), ['10.0.0.2'], 'with the right answer');
  t.ok(ms < tcpQueryReadMs, `in ${ms.toFixed(0)} ms, before any held connection's time is up (${tcpQueryReadMs} ms)`);

  let giveUp = (): void => {};
  const timer = setTimeout(() => giveUp(), tcpIdleMs + 3000);
  t.teardown(() => clearTimeout(timer));
  const gaveUp = new Promise<number>((resolve) => { giveUp = () => resolve(Infinity); });
  const closedAfter = await Promise.all(held.map(async ({ client, since }) => (await Promise.race([client.closed, gaveUp])) - since));
  const silent = closedAfter.filter((_, i) => !held[i]!.partial);
  const partial = closedAfter.filter((_, i) => held[i]!.partial);
  const slowest = (list: number[]): string => Math.max(...list).toFixed(0);
  t.ok(silent.every((ms) => ms < tcpIdleMs + 2000), `every silent connection closed within tcpIdleMs of its accept (slowest: ${slowest(silent)} ms)`);
  // 300 held and one more need 45 of the 256 places: the connections idle longest (the silent ones) give them.
  const early = silent.filter((ms) => ms < tcpIdleMs * 0.9).length;
  t.ok(early <= 45, `${early} silent connections closed early, to make room (at most 45)`);
  t.ok(partial.every((ms) => ms >= tcpQueryReadMs * 0.9 && ms < tcpIdleMs), `every half-sent query's connection closed at tcpQueryReadMs from its first byte (${Math.min(...partial).toFixed(0)}-${slowest(partial)} ms)`);
  t.ok(!polite.socket.destroyed, 'the well-behaved connection, answered more recently, is still open');
});

t.test('a client that drips a query a byte at a time is closed at tcpQueryReadMs from the first byte, unanswered', async (t) => {
  const tcpQueryReadMs = 500;
  const { server } = await startServer(t, '127.60.0.2', { tcpIdleMs: 3000, tcpQueryReadMs });
  const client = await openTcp(t, server, CLIENT);
  const bytes = frame(dnsQuery('web', TYPE.A, 0x6002));
  const answered = client.next(bytes.length * 100 + 3000).then(() => true, () => false);
  const first = performance.now();
  let sent = 0;
  const drip = setInterval(() => { if (sent < bytes.length && !client.socket.destroyed) client.socket.write(bytes.subarray(sent, ++sent)); }, 100);
  t.teardown(() => clearInterval(drip));
  client.socket.write(bytes.subarray(0, ++sent));
  const closedAt = await Promise.race([client.closed, answered.then(() => NaN)]);
  clearInterval(drip);
  const ms = closedAt - first;
  t.ok(ms >= tcpQueryReadMs * 0.9 && ms < 2000, `closed ${Number.isNaN(ms) ? 'never (the query was completed and answered)' : `${ms.toFixed(0)} ms`} after the first byte (tcpQueryReadMs ${tcpQueryReadMs}), with ${sent} of ${bytes.length} bytes sent`);
  t.equal(await answered, false, 'no answer');
});

t.test('at maxTcpConnections a newcomer closes the connection idle longest; when every one has a query in flight, the newcomer is closed', async (t) => {
  const silent = await fakeUpstream(t, '127.60.1.1', 'silent');
  const { server } = await startServer(t, '127.60.0.4', { maxTcpConnections: 4, upstreams: [silent], forwardTimeoutMs: 1500 });
  const held: TcpClient[] = [];
  for (let i = 0; i < 4; i++) {
    const client = await openTcp(t, server, heldFrom(i));
    client.socket.write(frame(dnsQuery('web', TYPE.A, 0x6100 + i)));
    t.same(aAddresses(await client.next()), ['10.0.0.2'], `connection ${i + 1} answered`);
    held.push(client);
  }
  // Connection 1 asks again: now connection 2 has been idle longest.
  held[0]!.socket.write(frame(dnsQuery('tasks.web', TYPE.A, 0x6110)));
  t.same(aAddresses(await held[0]!.next()), ['10.0.1.3', '10.0.1.4'], 'connection 1 asks again');
  const fifth = await openTcp(t, server, heldFrom(4));
  fifth.socket.write(frame(dnsQuery('web', TYPE.A, 0x6104)));
  t.same(aAddresses(await fifth.next()), ['10.0.0.2'], 'a fifth connection is answered');
  await t.resolves(deadline('connection 2 to close', held[1]!.closed, 3000), 'connection 2, idle longest, was closed to make room');
  for (const i of [0, 2, 3]) {
    held[i]!.socket.write(frame(dnsQuery('web', TYPE.A, 0x6120 + i)));
    t.same(aAddresses(await held[i]!.next()), ['10.0.0.2'], `connection ${i + 1} still answers`);
  }

  // Every connection waits for a forwarded answer (the upstream is silent): none is idle.
  const busy = [held[0]!, held[2]!, held[3]!, fifth];
  busy.forEach((client, i) => client.socket.write(frame(dnsQuery(`slow${i}.example`, TYPE.A, 0x6130 + i))));
  await until('four queries in flight upstream', () => silent.queries.length >= 4);
  const newcomer = await openTcp(t, server, heldFrom(5)).catch((error: Error) => error);
  if (!(newcomer instanceof Error)) {
    newcomer.socket.write(frame(dnsQuery('web', TYPE.A, 0x6105)));
    await t.rejects(newcomer.next(3000), /closed the connection/, 'a newcomer is closed unanswered');
  }
  for (const [i, client] of busy.entries()) t.equal((await client.next()).readUInt16BE(0), 0x6130 + i, `busy connection ${i + 1} gets its answer (SERVFAIL)`);
});

t.test('one source holds at most maxTcpPerSource connections: beyond it, its own idle longest is closed, and no one else\'s', async (t) => {
  const silent = await fakeUpstream(t, '127.60.1.2', 'silent');
  const { server } = await startServer(t, '127.60.0.5', { maxTcpPerSource: 3, upstreams: [silent], forwardTimeoutMs: 1500 });
  const other = await openTcp(t, server, '127.61.9.9');
  const mine: TcpClient[] = [];
  for (let i = 0; i < 3; i++) {
    const client = await openTcp(t, server, '127.61.9.1');
    client.socket.write(frame(dnsQuery('web', TYPE.A, 0x6200 + i)));
    t.same(aAddresses(await client.next()), ['10.0.0.2'], `connection ${i + 1} from 127.61.9.1 answered`);
    mine.push(client);
  }
  const fourth = await openTcp(t, server, '127.61.9.1');
  fourth.socket.write(frame(dnsQuery('web', TYPE.A, 0x6203)));
  t.same(aAddresses(await fourth.next()), ['10.0.0.2'], 'a fourth from the same source is answered');
  await t.resolves(deadline('the first connection to close', mine[0]!.closed, 3000), 'its first, idle longest, was closed');
  other.socket.write(frame(dnsQuery('web', TYPE.A, 0x6209)));
  t.same(aAddresses(await other.next()), ['10.0.0.2'], 'the other source\'s connection, idle longer still, is untouched');

  for (const [i, client] of [mine[1]!, mine[2]!, fourth].entries()) client.socket.write(frame(dnsQuery(`slow${i}.example`, TYPE.A, 0x6210 + i)));
  await until('three queries in flight upstream', () => silent.queries.length >= 3);
  const fifth = await openTcp(t, server, '127.61.9.1').catch((error: Error) => error);
  if (!(fifth instanceof Error)) {
    fifth.socket.write(frame(dnsQuery('web', TYPE.A, 0x6204)));
    await t.rejects(fifth.next(3000), /closed the connection/, 'with all three busy, a fifth from that source is closed');
  }
  const another = await openTcp(t, server, '127.61.9.2');
  another.socket.write(frame(dnsQuery('web', TYPE.A, 0x6205)));
  t.same(aAddresses(await another.next()), ['10.0.0.2'], 'while another source is still answered');
});
