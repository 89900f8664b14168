// The engine API's latency from outside the cluster's process: GET /_ping one at a time (10 ms apart).
// It prints `ready` once the first answers; each line on stdin then names the phase the pings that start from
// then on belong to; when stdin closes it prints one line of JSON: every phase's latencies in ms. Usage: node --import tsx bench/pinger.ts <url>
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';

const url = process.argv[2]!;
const phases: Record<string, number[]> = {};
let phase = 'start';
let stopped = false;
readline.createInterface({ input: process.stdin })
  .on('line', (line) => { phase = line.trim(); })
  .on('close', () => { stopped = true; });

function ping(): Promise<void> {
  return new Promise((resolve, reject) => {
    http.get(`${url}/_ping`, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
}

await ping();
process.stdout.write('ready\n');
while (!stopped) {
  const started = performance.now();
  const during = phase;
  await ping();
  (phases[during] ??= []).push(performance.now() - started);
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.stdout.write(`${JSON.stringify(phases)}\n`);
