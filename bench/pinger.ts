// The engine API's latency from outside the cluster's process: GET /_ping one at a time (10 ms apart)
// until stdin closes, then one line of JSON with every latency in ms; usage: node --import tsx bench/pinger.ts <url>
import http from 'node:http';
import { performance } from 'node:perf_hooks';

const url = process.argv[2]!;
const latencies: number[] = [];
let stopped = false;
process.stdin.on('end', () => { stopped = true; }).resume();

function ping(): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(`${url}/_ping`, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
}

while (!stopped) {
  const started = performance.now();
  await ping();
  latencies.push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.stdout.write(`${JSON.stringify(latencies)}\n`);
