// What counting costs on the hot path, measured alone: the metric calls the mesh makes per tcp connection
// and per http request, timed over many calls in this process.
// Set against what a connection or a request costs the mesh in all (bench/README.md), this bounds the
// share metrics take, without the noise of two clusters measured one after the other on a shared machine.
// Run: node --import tsx bench/metrics-cost.ts
import { Registry } from 'prom-client';
import { Backend } from '../src/lb/index.js';
import { MeshMetrics } from '../src/mesh/index.js';

const CALLS = 1_000_000;
const metrics = new MeshMetrics(new Registry(), 'node1');
const events = metrics.eventsFor({ service: 'web', port: '8080', protocol: 'tcp' }, {});
const backends = Array.from({ length: 6 }, (_, i) => new Backend(`t${i}`, '127.20.0.2', 80, `web.${i + 1}.x1y2z3`));

function time(what: string, call: (i: number) => void): number {
  for (let i = 0; i < CALLS / 10; i++) call(i); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) call(i);
  const perCallUs = Number(process.hrtime.bigint() - start) / 1e3 / CALLS;
  process.stdout.write(`${what}: ${perCallUs.toFixed(3)} µs per call\n`);
  return perCallUs;
}

const tcp = time('tcp connection (connected, its connect time, its bytes at close: two counters, a histogram, a counter twice)', (i) => {
  events.connected!(backends[i % 6]!, 1);
  events.upstreamConnected!(backends[i % 6]!, 0.0003);
  metrics.connectionClosed('web', 78, 343);
});
const http = time('http request (answered + finished: a counter and a histogram)', (i) => {
  events.answered!(backends[i % 6]!, 200);
  events.finished!(0.0012);
});
process.stdout.write(`at 5,000 new connections/s that is ${(tcp * 5000 / 1e4).toFixed(2)}% of a core; ` +
  `at 10,000 http requests/s, ${(http * 10000 / 1e4).toFixed(2)}%\n`);
