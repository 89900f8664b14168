// The DNS load child: keeps `inFlight` A queries for one name outstanding against the cluster's DNS server
// over UDP for `durationSec`, and prints one line of DnsLoadResult JSON: answers per second and the p50/p99
// of their round trips. In a process of its own, like the HTTP load, so it never shares the server's event
// loop; usage: node --import tsx bench/dnsLoad.ts '<DnsLoadJob as JSON>'
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Packet } from 'dns2';
import type { Question } from 'dns2';
import { runChild } from './childMain.js';
import { percentile } from './summary.js';
import type { DnsLoadJob, DnsLoadResult } from './protocol.js';

const LOST_AFTER_MS = 1000;

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
  let lost = 0;
  let nextId = 0;
  let stopping = false;
  const send = (): void => {
    // IDs run through 65536 values; a query unanswered for LOST_AFTER_MS is given up before its ID comes round.
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
    // rcode in the low 4 bits of byte 3; ANCOUNT in bytes 6-7: only an answer naming an address counts.
    if ((message[3]! & 0x0f) !== 0 || message.readUInt16BE(6) === 0) failed++;
    else latencies.push(performance.now() - started);
    if (!stopping) send();
  });
  // UDP drops silently: a query unanswered for too long is counted lost, and another takes its place.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [id, at] of sentAt) {
      if (now - at < LOST_AFTER_MS) continue;
      sentAt.delete(id);
      lost++;
      if (!stopping) send();
    }
  }, 100);
  const started = performance.now();
  for (let i = 0; i < job.inFlight; i++) send();
  await new Promise((resolve) => setTimeout(resolve, job.durationSec * 1000));
  stopping = true;
  const elapsedSec = (performance.now() - started) / 1000;
  const answeredInTime = latencies.length;
  // The queries still out get their chance to come back before those missing count as lost.
  const deadline = Date.now() + LOST_AFTER_MS;
  while (sentAt.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(sweep);
  lost += sentAt.size;
  socket.close();
  latencies.sort((a, b) => a - b);
  return {
    name: job.name, answered: latencies.length, lost, failed, qps: answeredInTime / elapsedSec,
    p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99),
  };
}

await runChild('dnsLoad.ts', measure);
