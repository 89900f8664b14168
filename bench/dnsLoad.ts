// The DNS load child: keeps `inFlight` A queries for one name outstanding against the cluster's DNS server
// over UDP for `durationSec`, and prints one line of DnsLoadResult JSON: answers per second and the p50/p99
// of their round trips. In a process of its own, like the HTTP load, so it never shares the server's event
// loop; usage: node --import tsx bench/dnsLoad.ts '<DnsLoadJob as JSON>'
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Packet } from 'dns2';
import type { Question } from 'dns2';
import type { DnsLoadJob, DnsLoadResult } from './protocol.js';

const LATE_ANSWER_MS = 500;

/** A query packet for `name`; its first two bytes (the ID) are rewritten for each send. */
function query(name: string): Buffer {
  const packet = new Packet();
  packet.header.rd = 1;
  packet.questions.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN } as Question);
  return packet.toBuffer();
}

async function measure(job: DnsLoadJob): Promise<DnsLoadResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const template = query(job.name);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let failed = 0;
  let nextId = 0;
  let stopping = false;
  const send = (): void => {
    // 65536 IDs against a few dozen in flight: an ID is long answered before it comes round again.
    const id = nextId = (nextId + 1) & 0xffff;
    const packet = Buffer.from(template);
    packet.writeUInt16BE(id, 0);
    sentAt.set(id, performance.now());
    socket.send(packet, job.port, job.address);
  };
  socket.on('message', (message) => {
    const id = message.readUInt16BE(0);
    const started = sentAt.get(id);
    if (started === undefined) return;
    sentAt.delete(id);
    latencies.push(performance.now() - started);
    // rcode in the low 4 bits of byte 3; ANCOUNT in bytes 6-7.
    if ((message[3]! & 0x0f) !== 0 || message.readUInt16BE(6) === 0) failed++;
    if (!stopping) send();
  });
  const started = performance.now();
  for (let i = 0; i < job.inFlight; i++) send();
  await new Promise((resolve) => setTimeout(resolve, job.durationSec * 1000));
  stopping = true;
  const elapsedSec = (performance.now() - started) / 1000;
  const answeredInTime = latencies.length;
  // The queries still out get a moment to come back before those missing count as lost.
  const deadline = Date.now() + LATE_ANSWER_MS;
  while (sentAt.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  socket.close();
  latencies.sort((a, b) => a - b);
  const at = (p: number): number => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(p * latencies.length) - 1))] ?? 0;
  return { name: job.name, answered: latencies.length, lost: sentAt.size, failed, qps: answeredInTime / elapsedSec, p50Ms: at(0.5), p99Ms: at(0.99) };
}

const json = process.argv[2];
if (!json) {
  process.stderr.write("usage: node --import tsx bench/dnsLoad.ts '<job-json>'\n");
  process.exit(2);
}
try {
  process.stdout.write(`${JSON.stringify(await measure(JSON.parse(json) as DnsLoadJob))}\n`);
} catch (error) {
  process.stderr.write(`dnsLoad: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
