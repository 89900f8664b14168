// `node --import tsx bench/dns-codec.ts`: what one DNS answer costs, the server's own way (its query
// reader and WireWriter) against dns2's parser and encoder, for answers of 1, 6 and 60 A records. The
// figures are in bench/README.md ("DNS").
import { Packet } from 'dns2';
import type { Question, Resource } from 'dns2';
import { DnsServer } from '../src/vip-dns/index.js';

const ROUNDS = 5000;

function query(name: string): Buffer {
  const packet = new Packet();
  packet.header.id = 7;
  packet.questions.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN } as Question);
  return packet.toBuffer();
}

function dns2Answer(name: string, addresses: readonly string[]): Buffer {
  const packet = new Packet();
  packet.header = new Packet.Header({ id: 7, qr: 1, aa: 1 });
  packet.questions = [{ name, type: Packet.TYPE.A, class: Packet.CLASS.IN } as Question];
  packet.answers = addresses.map((address) => ({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address }) as Resource);
  return packet.toBuffer();
}

function microseconds(work: () => unknown): number {
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++) work();
  return ((performance.now() - start) * 1000) / ROUNDS;
}

const server = new DnsServer({ address: '127.0.0.1', port: 0, zone: { vipTtl: 600, taskTtl: 5 }, upstreams: [] });
console.log('| A records | parse the query with dns2 | answer with dns2 | read the query and answer, as the server does |');
console.log('|---:|---:|---:|---:|');
for (const count of [1, 6, 60]) {
  const addresses = Array.from({ length: count }, (_, i) => `127.20.${i >> 8}.${(i & 255) + 2}`);
  server.setRecords([{ name: 'web', tasks: addresses.map((address, i) => ({ name: `web.${i + 1}.t${i}`, address })), ports: [] }]);
  const raw = query('tasks.web');
  // Warm up, so the JIT has compiled both paths before they are timed.
  for (let i = 0; i < 500; i++) { Packet.parse(raw); dns2Answer('tasks.web', addresses); await server.respond(raw, 'tcp'); }
  const parse = microseconds(() => Packet.parse(raw));
  const dns2 = microseconds(() => dns2Answer('tasks.web', addresses));
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++) await server.respond(raw, 'tcp');
  const ours = ((performance.now() - start) * 1000) / ROUNDS;
  console.log(`| ${count} | ${parse.toFixed(1)} µs | ${dns2.toFixed(1)} µs | ${ours.toFixed(1)} µs |`);
}
