// The bench harness end to end on tiny settings: `bench/run.ts --quick` and `bench/node-processes.ts --quick`
// (each builds dist/ first, which their `routemesh up` clusters run) as child processes on address blocks of
// their own (about 90 s on both cores, so `npm run test:bench` and CI run them, not `npm test`). Checks the reports' shape, never how fast
// anything is. Their logic's unit tests: test/bench-harness.test.ts.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ROUTE_LABEL, ROUTES } from './table.js';
import type { Route } from './table.js';
import { missingTool } from '../test/support/tools.js';

// Two runs, each building dist/ and starting `routemesh up` clusters (6 node processes in bench/run.ts):
// 90 s on a quiet 2-core machine, past tap's 120 s when other work shares it.
t.setTimeout(300_000);

// Without them the bench runs the rest, and so does this file (on CI, where they are installed, it fails).
const haproxy = !missingTool('haproxy', 'haproxy');
const nginx = !missingTool('nginx', 'nginx libnginx-mod-stream');
const ONE_CONNECTION: readonly Route[] = ['direct', 'same node', 'haproxy tcp', 'nginx stream'];

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const BLOCK = '127'; // nodes 127.127.0.x, tasks 127.128/16, VIPs 127.129/16; the cluster without metrics 127.130-132
const PROCESSES_BLOCK = '157'; // node-processes.ts: nodes 127.157.{0,1,2}.x, tasks in 127.158/16, VIPs in 127.159/16

/** Names and modification times under bench/results, to see that a run left it untouched. */
async function snapshot(): Promise<string[]> {
  const names = await readdir(RESULTS).catch(() => [] as string[]);
  return Promise.all(names.sort().map(async (n) => `${n} ${(await stat(`${RESULTS}${n}`)).mtimeMs}`));
}

/** `node --import tsx bench/<script> --quick` to its end, with its exit code and output. */
async function runQuick(t: Test, script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', `bench/${script}`, '--quick'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, so a SIGKILL reaches HAProxy, nginx and the load child too.
    detached: true,
  });
  // SIGTERM lets the bench close its clusters (their tasks are processes of their own) and its peers;
  // SIGKILL to its whole group only if it does not go. 'exit', not 'close': children that survived
  // would hold its output pipes open.
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

t.test('bench --quick prints a table with every scenario and leaves bench/results alone', async (t) => {
  const before = await snapshot();
  const { code, stdout, stderr } = await runQuick(t, 'run.ts', { BENCH_BLOCK: BLOCK, BENCH_NO_WRITE: '1', BENCH_DURATION: '0.5' });

  t.equal(code, 0, `exits 0${code ? `; stderr: ${stderr}` : ''}`);
  t.match(stdout, /Node v\d+/, 'names the Node version');
  t.match(stdout, /\d+ cores/, 'names the core count');
  t.match(stdout, /; 1 round \(quick mode/, 'quick mode runs one round');
  // The main table: the first of the report's tables (the CPU table's rows have the same scenario names).
  const rows = stdout.slice(0, stdout.indexOf('## CPU per request')).split('\n').filter((l) => l.startsWith('| '))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(rows[0]?.slice(0, 11), ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms', 'req/s min–max', 'req/s vs direct',
    'req/s vs HAProxy', 'req/s vs node-http-proxy', 'added p50 ms', 'errors'], 'a table header');
  t.equal(ROUTES.length, 12, 'direct; tcp mode on two nodes and the VIP; http mode; HAProxy and nginx, tcp and http; node-http-proxy; tcp and http mode with metrics off');
  const nginxStream = nginx && !stdout.includes('no stream module');
  const installed = (route: Route): boolean =>
    route.startsWith('haproxy') ? haproxy : route === 'nginx stream' ? nginxStream : route.startsWith('nginx') ? nginx : true;
  for (const route of ROUTES) {
    const found = rows.filter((r) => r[0] === ROUTE_LABEL[route]);
    const modes = ['keep-alive', 'new per request', ...(ONE_CONNECTION.includes(route) ? ['one connection'] : [])];
    if (!installed(route)) {
      t.equal(found.length, 0, `${route}: not installed, so no row`);
      continue;
    }
    t.same(found.map((r) => r[1]), modes, `${ROUTE_LABEL[route]}: a row for each of its modes`);
    for (const row of found) t.ok(Number(row[2]) > 0, `${ROUTE_LABEL[route]} (${row[1]}): req/s ${row[2]} is a number above 0`);
  }
  if (!haproxy) t.match(stdout, /HAProxy: not installed.*apt-get install haproxy/, 'a missing HAProxy is named, with how to install it');
  else t.match(stdout, /HAProxy version \d+\.\d+.*nbthread 1/, "HAProxy's version");
  if (!nginx) t.match(stdout, /nginx: not installed.*apt-get install nginx/, 'a missing nginx is named, with how to install it');
  else t.match(stdout, /nginx\/\d+\.\d+\.\d+: 1 worker/, "nginx's version");

  t.match(stdout, /mesh: `routemesh up --nodes 3` from dist\/, every node an OS process/, 'the mesh runs in node processes');
  const cpuRows = stdout.slice(stdout.indexOf('## CPU per request'), stdout.indexOf('## Targets')).split('\n')
    .filter((l) => l.startsWith('| ')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(cpuRows[0], ['scenario', 'connections', 'CPU µs per request', 'CPU µs min–max', 'CPU vs HAProxy', 'share of a core', 'req/s'], 'a CPU table');
  const CPU_ROUTES: readonly Route[] = ['same node', 'http same node', 'haproxy tcp', 'haproxy http', 'nginx stream', 'nginx http', 'node-http-proxy',
    'same node, no metrics', 'http same node, no metrics'];
  for (const route of CPU_ROUTES) {
    const found = cpuRows.filter((r) => r[0] === ROUTE_LABEL[route]);
    if (!installed(route)) continue;
    t.same(found.map((r) => r[1]), ['keep-alive', 'new per request', ...(ONE_CONNECTION.includes(route) ? ['one connection'] : [])],
      `${ROUTE_LABEL[route]}: its CPU per request in each of its modes`);
    for (const row of found) t.ok(Number(row[2]) > 0, `${ROUTE_LABEL[route]} (${row[1]}): ${row[2]} µs per request, a number above 0`);
  }
  t.equal(cpuRows.length - 1, CPU_ROUTES.filter(installed).length * 2 + ONE_CONNECTION.filter((r) => CPU_ROUTES.includes(r) && installed(r)).length,
    'no CPU row for the routes whose CPU is not read (direct, other node, VIP)');

  const targets = stdout.slice(stdout.indexOf('## Targets')).split('\n').filter((l) => /^\| (mesh|–)/.test(l));
  t.equal(targets.length, 12, "issue 17's twelve targets, each with a figure or \"not run\"");
  for (const line of targets) t.match(line, /\| (yes|\*\*no\*\*|not run) \|$/);
  if (haproxy) t.ok(targets.every((l) => !l.endsWith('| not run |')), 'with HAProxy installed, every target has its figure');
  const scale = stdout.slice(stdout.indexOf('## Scale'));
  t.match(scale, /\*\*10 nodes, 5 published services, 50 listeners\*\*.*nodes up in \d+ ms; every listener open \d+ ms after the first create; -?\d+ MiB/,
    'quick mode brings up 10 nodes with 5 published services');
  t.match(scale, /\*\*A service of 20 replicas\*\* on those nodes: all running \d+ ms after its create/);
  t.match(scale, /`bench` \d+ answers\/s, p50 [\d.]+ ms, p99 [\d.]+ ms; `tasks\.bench` \d+ answers\/s/, 'DNS answers per second for the VIP and the tasks');
  const sizes = scale.split('\n').filter((l) => /^\| \d+ \|/.test(l)).map((l) => l.split('|').slice(1, -1).map((c) => Number(c.trim())));
  t.same(sizes.map((r) => r[0]), [1, 3], 'the mesh of a 1-node and a 3-node cluster (10 in a full run)');
  t.ok(sizes.every((r) => r[1]! > 0 && r[3]! > 0), 'each with req/s above 0, keep-alive and new per request');
  t.same(await snapshot(), before, 'bench/results is untouched');
});

t.test('node-processes --quick: req/s through 3 nodes in one process and as processes, start-up and restart time, memory per node process', async (t) => {
  const { code, stdout, stderr } = await runQuick(t, 'node-processes.ts', { BENCH_BLOCK: PROCESSES_BLOCK });
  t.equal(code, 0, `exits 0${code ? `; stderr: ${stderr}` : ''}`);
  t.match(stdout, /quick mode: figures not worth quoting/);
  const rows = stdout.split('\n').filter((l) => /^\| (in-process|processes),/.test(l)).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(rows.map((r) => `${r[0]}, ${r[1]}`), ['keep-alive', 'new per request'].flatMap((mode) =>
    ['in-process, node1', 'in-process, 3 nodes', 'processes, node1', 'processes, 3 nodes'].map((route) => `${route}, ${mode}`)), 'a row for each cluster, way in and mode');
  for (const row of rows) {
    t.ok(Number(row[2]) > 0, `${row[0]} (${row[1]}): req/s ${row[2]} is a number above 0`);
    t.match(row[6], /^\d+\.\d \(/, `${row[0]} (${row[1]}): CPU per request`);
  }
  t.match(stdout, /spawn to the first 200 through node1:8080: \d+ \(\d+–\d+\) ms/, 'start-up time');
  // A restart that fails is the report's to say (with up's last line), not the harness's failure.
  t.match(stdout, /again on the same data directory .* spawn to the first 200: (\d+ \(\d+–\d+\) ms|none \(failed in 1 of 1: .+\))$/m, 'restart time, or why it failed');
  t.match(stdout, /each idle node process \(3 over the runs.*RSS [\d.]+ \([\d.]+–[\d.]+\) MiB/, 'the memory of each of the 3 node processes');
  t.match(stdout, /up, the supervisor: RSS [\d.]+/, "the supervisor's memory");
});
