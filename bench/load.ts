// The load child: autocannon runs (each after an unrecorded warm-up), one per line of LoadJob JSON read
// from stdin, each answered with one line of LoadResult JSON on stdout. It runs in its own process so the
// load generator never shares an event loop with the cluster it measures, and it stays up between runs
// so that no run waits for Node and tsx to start; usage: node --import tsx bench/load.ts
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { LoadJob, LoadOptions, LoadResult } from './protocol.js';
import { percentile } from './summary.js';

/**
 * autocannon 8 has no working "new connection per request" mode: `reconnectRate: 1` drops the response
 * that triggers each reconnect (so it records nothing), and with `Connection: close` each client writes
 * its next request onto the closing socket, leaves it in its queue and times every later response from
 * that stale entry (p50 climbs into hundreds of ms). So, per client: one request per connection, as a
 * real `Connection: close` client sends (and no dead bytes for the mesh to forward), and on reconnect the
 * old socket and its queue go, so every latency runs from its own connection's start, connect included.
 * These are autocannon internals (the ^8 range pins them); if they move, this throws rather than measure wrong.
 */
function oneRequestPerConnection(client: autocannon.Client): void {
  if (typeof client._connect !== 'function' || typeof client._doRequest !== 'function' || typeof client._destroyConnection !== 'function') {
    throw new Error('this autocannon has no _connect/_doRequest/_destroyConnection; bench/load.ts needs updating for it');
  }
  const connect = client._connect;
  const doRequest = client._doRequest;
  const used = new WeakSet<object>();
  client._connect = function (this: autocannon.Client) {
    if (this.conn) this._destroyConnection();
    connect.call(this);
  };
  client._doRequest = function (this: autocannon.Client) {
    if (this.conn && used.has(this.conn)) return;
    if (this.conn) used.add(this.conn);
    doRequest.call(this);
  };
}

async function measure(url: string | string[], options: LoadOptions): Promise<LoadResult> {
  const base: autocannon.Options = {
    url,
    connections: options.connections,
    pipelining: options.pipelining,
    timeout: 5,
    ...(options.newConnectionPerRequest
      ? { headers: { connection: 'close' }, setupClient: oneRequestPerConnection }
      : {}),
  };
  const warmup = options.warmupSec > 0 ? await autocannon({ ...base, duration: options.warmupSec }) : undefined;

  // autocannon's own latency histogram has 1 ms resolution, too coarse for what a proxy adds on
  // loopback; its `response` event carries the float timing, so the percentiles come from that.
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const started = performance.now();
  const run = autocannon({ ...base, duration: options.durationSec });
  run.on('response', (_client, statusCode, _bytes, ms) => {
    if (statusCode < 200 || statusCode > 299) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  });
  const result = await run;
  const elapsedSec = (performance.now() - started) / 1000;
  const sorted = latencies.subarray(0, count).sort();
  return {
    responses: count,
    reqPerSec: count / elapsedSec,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    elapsedSec,
    warmupResponses: warmup?.requests.total ?? 0,
  };
}

// One job at a time, in the order they come: a run must have the machine to itself.
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    const { url, options } = JSON.parse(line) as LoadJob;
    process.stdout.write(`${JSON.stringify(await measure(url, options))}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  }
}
