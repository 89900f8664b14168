// `node --import tsx bench/forwarder-variants.ts`: ways of writing a forwarder, tcp and http, side by side
// in this one process, each on a listener of its own, all in front of the same bench/backend.ts task in a
// child process, with HAProxy's mode tcp and mode http beside them, loaded by wrk. For each variant and
// connection mode it gives the CPU µs its process spent per request (process.cpuUsage, /proc for
// HAProxy), req/s and p50; rounds are interleaved, the variants move up one place a round, and the table
// gives medians and the spread. Addresses: 127.188.0.0/16 only.
// Settings: BENCH_ROUNDS (default 3), BENCH_DURATION (s, default 3), BENCH_VARIANTS and BENCH_MODES (names,
// comma-separated: which variants, which of keep-alive, new per request and one connection), BENCH_COMPARE
// (another lb/index module, .ts or built .js: its TcpForwarder and HttpForwarder too, say the commit before
// a change, from `git archive`).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as lb from '../src/lb/index.js';
import { startPeers } from './peers.js';

const BACKEND = { host: '127.188.0.1', port: 8000 };
const PROXY_PORT = 9000;
const SOURCE_ADDRESS = '127.188.0.200';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Whole seconds: wrk takes no fractions. */
const DURATION_SEC = Math.max(1, Math.round(Number(process.env.BENCH_DURATION ?? 3)));
const WARMUP_SEC = 1;

type Forward = (client: net.Socket) => void;

const connectOptions = { host: BACKEND.host, port: BACKEND.port, allowHalfOpen: true, noDelay: true };

/** A clean end passes on as a half-close; an error resets both sides. */
function closeTogether(a: net.Socket, b: net.Socket): void {
  a.on('error', () => a.destroy());
  b.on('error', () => b.destroy());
  a.once('close', (hadError) => { if (hadError) b.destroy(); });
  b.once('close', (hadError) => { if (hadError) a.destroy(); });
}

type Relay = (from: net.Socket, to: net.Socket) => void;

/** Streams' pipe, as TcpForwarder relayed before 2026-12-07. */
const pipeRelay: Relay = (from, to) => {
  from.pipe(to);
};

/** 'data' → write, pausing the reader while the writer's buffer is full. */
const dataWriteRelay: Relay = (from, to) => {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.once('end', () => to.end());
};

/** A bare forwarder: one upstream connection, `relay` both ways, nothing else (no pick, retries or PROXY check). */
function bare(relay: Relay, localAddress?: string): Forward {
  return (client) => {
    const upstream = net.connect({ ...connectOptions, localAddress });
    closeTogether(client, upstream);
    upstream.once('connect', () => {
      relay(upstream, client);
      relay(client, upstream);
      client.resume();
    });
  };
}

const READ_BUFFER_BYTES = 64 * 1024;

/**
 * The upstream read with `onread` into one buffer per connection: no Buffer object per chunk, and no
 * readable stream in between. A write the kernel did not take at once holds its slice of the buffer, so
 * reading then goes on into a new one.
 */
const onreadUpstream: Forward = (client) => {
  let buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  const upstream = net.connect({
    ...connectOptions,
    onread: {
      buffer: () => buffer,
      callback: (bytes, into) => {
        const flowing = client.write(into.subarray(0, bytes));
        if (client.writableLength > 0) buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
        return flowing;
      },
    },
  });
  closeTogether(client, upstream);
  client.on('drain', () => upstream.resume());
  upstream.once('end', () => client.end());
  upstream.once('connect', () => {
    dataWriteRelay(client, upstream);
    client.resume();
  });
};

type Lb = typeof import('../src/lb/index.js');

function poolOfTheTask(from: Lb): InstanceType<Lb['Pool']> {
  const pool = new from.Pool();
  pool.set([{ id: 'task', host: BACKEND.host, port: BACKEND.port, state: 'up' }]);
  return pool;
}

/** A TcpForwarder (this checkout's, or another's lb module) over a pool of the one task, as the mesh calls it. */
function tcpForwarderOf(from: Lb): Forward {
  const pool = poolOfTheTask(from);
  const balancer = new from.RoundRobin();
  const forwarder = new from.TcpForwarder({ localAddress: SOURCE_ADDRESS });
  return (client) => forwarder.forward(client, pool, balancer);
}

/** An HttpForwarder's server, handed each connection as the mesh hands it (metrics off: no events). */
function httpForwarderOf(from: Lb): Forward {
  const target = { pool: poolOfTheTask(from), balancer: new from.RoundRobin(), serviceName: 'bench', events: {}, limits: { headerTimeoutMs: 10_000 } };
  const server = new from.HttpForwarder({ localAddress: SOURCE_ADDRESS }).server(() => target);
  return (client) => {
    // An older checkout's (BENCH_COMPARE) is Node's http.Server.
    if ('accept' in server) server.accept(client);
    else (server as NodeJS.EventEmitter).emit('connection', client);
    client.resume();
  };
}

// BENCH_COMPARE=<an lb/index module>: its forwarders too, as '… (compare)'.
const compared: Lb | undefined = process.env.BENCH_COMPARE ? await import(path.resolve(process.env.BENCH_COMPARE)) : undefined;

const VARIANTS: Record<string, Forward | undefined> = {
  direct: undefined,
  'TcpForwarder (src)': tcpForwarderOf(lb),
  ...(compared ? { 'TcpForwarder (compare)': tcpForwarderOf(compared) } : {}),
  'HttpForwarder (src)': httpForwarderOf(lb),
  ...(compared ? { 'HttpForwarder (compare)': httpForwarderOf(compared) } : {}),
  pipe: bare(pipeRelay),
  // From a chosen source address, as the mesh connects from its node's (Swarm's ingress SNAT): a bind() more.
  'pipe from source': bare(pipeRelay, SOURCE_ADDRESS),
  'data/write': bare(dataWriteRelay),
  'data/write from source': bare(dataWriteRelay, SOURCE_ADDRESS),
  'onread upstream': onreadUpstream,
};

interface Mode {
  name: string;
  connections: number;
  headers: string[];
}
const MODES: Mode[] = [
  { name: 'keep-alive', connections: 10, headers: [] },
  { name: 'new per request', connections: 10, headers: ['-H', 'Connection: close'] },
  { name: 'one connection', connections: 1, headers: [] },
].filter((mode) => !process.env.BENCH_MODES || process.env.BENCH_MODES.split(',').includes(mode.name));

interface Run {
  requests: number;
  reqPerSec: number;
  p50us: number;
  cpuUs: number;
  systemUs: number;
}

/** CPU time (µs) of the process a route runs in: all of it, and the kernel's part. */
type CpuReader = () => { total: number; system: number };

const ownCpu: CpuReader = () => {
  const { user, system } = process.cpuUsage();
  return { total: user + system, system };
};

/** Linux counts a process's CPU time in clock ticks of 10 ms (USER_HZ 100). */
function cpuOfPid(pid: number): CpuReader {
  return () => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return { total: (Number(fields[11]) + Number(fields[12])) * 10_000, system: Number(fields[12]) * 10_000 };
  };
}

function wrk(url: string, cpu: CpuReader, mode: Mode, seconds: number): Promise<Run> {
  const child = spawn('wrk', ['-t1', `-c${mode.connections}`, `-d${seconds}s`, '--latency', ...mode.headers, url], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Read after the spawn, which forks this process: that is the bench's cost, not the route's.
  const before = cpu();
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => { output += text; });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      const after = cpu();
      const requests = Number(/(\d+) requests in/.exec(output)?.[1]);
      const p50 = /50%\s+([\d.]+)(us|ms|s)\b/.exec(output);
      if (code !== 0 || !Number.isFinite(requests) || !p50) return reject(new Error(`wrk failed (${code}):\n${output}`));
      const scale = { us: 1, ms: 1e3, s: 1e6 }[p50[2] as 'us' | 'ms' | 's'];
      resolve({ requests, reqPerSec: requests / seconds, p50us: Number(p50[1]) * scale, cpuUs: after.total - before.total, systemUs: after.system - before.system });
    });
  });
}

function startBackend(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/backend.ts'], {
    env: { ...process.env, HOST: BACKEND.host, PORT: String(BACKEND.port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench/backend.ts exited (${code})`)));
    child.stdout.once('data', () => resolve(child));
  });
}

function listen(forward: Forward, host: string): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, forward);
  return new Promise((resolve) => server.listen(PROXY_PORT, host, () => resolve(server)));
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const HAPROXY = { 'HAProxy tcp': 'haproxy tcp', 'HAProxy http': 'haproxy http' } as const;
const names = [...Object.keys(VARIANTS), ...Object.keys(HAPROXY)];
const chosen = process.env.BENCH_VARIANTS?.split(',') ?? names;
for (const name of chosen) if (!names.includes(name)) throw new Error(`no variant ${name}; there are: ${names.join(', ')}`);
const backend = await startBackend();
const servers: net.Server[] = [];
let peers: Awaited<ReturnType<typeof startPeers>> | undefined;
try {
  peers = await startPeers(`${BACKEND.host}:${BACKEND.port}`, '127.188.0.201', '127.188.0.202');
  const routes = new Map<string, { url: string; cpu: CpuReader }>();
  const haproxy = peers.pids.haproxy;
  for (const [name, peer] of Object.entries(HAPROXY)) {
    if (!chosen.includes(name)) continue;
    const url = peers.urls[peer];
    if (!url || !haproxy) throw new Error(peers.notes.join('\n'));
    routes.set(name, { url, cpu: cpuOfPid(haproxy) });
  }
  for (const [index, name] of chosen.entries()) {
    if (name in HAPROXY) continue;
    const forward = VARIANTS[name];
    if (!forward) {
      routes.set(name, { url: `http://${BACKEND.host}:${BACKEND.port}/`, cpu: ownCpu });
      continue;
    }
    const host = `127.188.0.${10 + index}`;
    servers.push(await listen(forward, host));
    routes.set(name, { url: `http://${host}:${PROXY_PORT}/`, cpu: ownCpu });
  }
  const runs = new Map<string, Run[]>();
  for (const mode of MODES) {
    for (const name of chosen) await wrk(routes.get(name)!.url, ownCpu, mode, WARMUP_SEC);
    for (let round = 0; round < ROUNDS; round++) {
      const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]!);
      for (const name of order) {
        const { url, cpu } = routes.get(name)!;
        const run = await wrk(url, cpu, mode, DURATION_SEC);
        const key = `${name}|${mode.name}`;
        runs.set(key, [...(runs.get(key) ?? []), run]);
        process.stderr.write(`round ${round + 1} ${mode.name} ${name}: ${(run.cpuUs / run.requests).toFixed(1)} µs/req (user ${((run.cpuUs - run.systemUs) / run.requests).toFixed(1)}), ${run.reqPerSec.toFixed(0)} req/s, p50 ${run.p50us} µs\n`);
      }
    }
  }
  // Rounds are paired: a variant's CPU over the reference's (the first variant other than direct) in the
  // same round cancels what drifts between rounds on a shared machine.
  const reference = chosen.find((name) => name !== 'direct');
  console.log(`| variant | connections | CPU µs per request (min–max) | user µs per request (min–max) | CPU vs ${reference}, per round (min–max) | req/s (min–max) | p50 µs |`);
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const mode of MODES) {
    for (const name of chosen) {
      const list = runs.get(`${name}|${mode.name}`)!;
      const cpu = list.map((r) => r.cpuUs / r.requests);
      const rate = list.map((r) => r.reqPerSec);
      const range = (values: number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;
      const user = list.map((r) => (r.cpuUs - r.systemUs) / r.requests);
      const base = runs.get(`${reference}|${mode.name}`)!.map((r) => r.cpuUs / r.requests);
      const paired = cpu.map((value, round) => value / base[round]!);
      const cpuCells = name === 'direct' ? '– | – | –'
        : `${median(cpu).toFixed(1)} (${range(cpu, 1)}) | ${median(user).toFixed(1)} (${range(user, 1)}) | ${median(paired).toFixed(2)}× (${range(paired, 2)})`;
      console.log(`| ${name} | ${mode.name} | ${cpuCells} | ${median(rate).toFixed(0)} (${range(rate, 0)}) | ${median(list.map((r) => r.p50us)).toFixed(0)} |`);
    }
  }
} finally {
  for (const server of servers) server.close();
  await peers?.close();
  backend.kill('SIGTERM');
}
