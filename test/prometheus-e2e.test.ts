// The nodes' /metrics as a real Prometheus sees them: Prometheus 2 (Debian's package) scrapes the three
// nodes every second, and its query API gives back exactly the traffic sent through the routing mesh:
// 30 connections through node2 and 12 through node3 (none through node1), 42 in all, node2's spread 10
// per task over the three tasks the engine API names; every target is up; and the manager (node1, and
// it alone) says the service has 3 running tasks.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { api, published, serviceSpec, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { httpGet } from './support/net.js';
import { requireTool } from './support/tools.js';

const BLOCK = 107; // nodes 127.107.0.x, tasks 127.108/16, VIPs 127.109/16 (not 240-248: the unprivileged re-run of cli-e2e is there)
const METRICS_PORT = 9323; // the cluster's default
const PROMETHEUS = `127.${BLOCK}.0.200:9090`;
const WEB_PORT = 9501;

/** One series of an instant query's answer (the API gives values as strings). */
interface Series {
  metric: Record<string, string>;
  value: [number, string];
}

/** A running Prometheus and what it has said so far (for failure messages). */
interface Prometheus {
  child: ChildProcess;
  output(): string;
}

/** A temporary directory of the test's own, removed when the test ends. */
async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'routemesh-prometheus-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }).catch(() => undefined));
  return dir;
}

function prometheusConfig(targets: string[]): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    'scrape_configs:',
    '  - job_name: routemesh',
    '    static_configs:',
    `      - targets: [${targets.map((target) => `'${target}'`).join(', ')}]`,
    '',
  ].join('\n');
}

/** SIGTERM, then SIGKILL if it has not exited in 5 s; resolves once it has exited. Never throws. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit').catch(() => undefined);
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(killer);
}

/** Starts Prometheus on `dir`'s config; stopped (and awaited) when the test ends, before `dir` goes. */
async function startPrometheus(t: Test, dir: string): Promise<Prometheus> {
  const child = spawn('prometheus', [
    `--config.file=${path.join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=${PROMETHEUS}`,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stop(child));
  let output = '';
  const keep = (chunk: Buffer) => { output = (output + String(chunk)).slice(-8000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  try {
    await once(child, 'spawn');
  } catch (error) {
    throw new Error(`prometheus could not be started: ${(error as Error).message}`);
  }
  return { child, output: () => output };
}

/** An instant query through Prometheus's HTTP API. */
async function query(promql: string): Promise<Series[]> {
  const response = await fetch(`http://${PROMETHEUS}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await response.json() as { status: string; error?: string; data?: { result: Series[] } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error ?? `HTTP ${response.status}`}`);
  return body.data!.result;
}

/** The answer as { <value of `label`>: value }, e.g. { node2: 30, node3: 12 } for `sum by (node)`. */
function byLabel(series: Series[], label: string): Record<string, number> {
  return Object.fromEntries(series.map((s) => [s.metric[label] ?? '', Number(s.value[1])]));
}

/** The one value of a query that answers with a single series (a sum, a count). */
async function scalar(promql: string): Promise<number | undefined> {
  const series = await query(promql);
  return series.length === 1 ? Number(series[0]!.value[1]) : undefined;
}

t.test('Prometheus scrapes every node and counts what the mesh handed to each task', async (t) => {
  if (!requireTool(t, 'prometheus', 'prometheus')) return;
  const cluster = await testCluster(t, BLOCK);
  const [node1, node2, node3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]];
  const manager = node1.apiUrl;
  for (const node of cluster.nodes) {
    t.equal(node.metricsUrl, `http://${node.address}:${METRICS_PORT}/metrics`, `${node.hostname} serves its metrics on ${METRICS_PORT}`);
  }

  t.equal((await api(manager, 'POST', '/services/create',
    serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } }, ...published(80, WEB_PORT) }))).status, 201, 'web created');
  const tasks = await waitForRunning(manager, 'web', 3);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  // 30 connections through node2, 12 through node3, each one new (httpGet has no keep-alive).
  for (const [node, count] of [[node2, 30], [node3, 12]] as const) {
    let answered = 0;
    for (let i = 0; i < count; i++) if ((await httpGet(node.address, WEB_PORT)).status === 200) answered++;
    t.equal(answered, count, `${count} requests through ${node.hostname}:${WEB_PORT}, all answered`);
  }

  const dir = await tempDir(t);
  const targets = cluster.nodes.map((n) => `${n.address}:${METRICS_PORT}`);
  await writeFile(path.join(dir, 'prometheus.yml'), prometheusConfig(targets));
  const prometheus = await startPrometheus(t, dir);

  // Prometheus started after the traffic ended: a target's first scrape has all of that node's counts.
  // (`up` is written with the samples of the same scrape: one `up` series per node means every node is in.)
  let last = 'no answer yet';
  await waitFor('Prometheus to have scraped every node', async () => {
    if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited (${prometheus.child.exitCode})`);
    try {
      const up = await query('up{job="routemesh"}');
      last = JSON.stringify(byLabel(up, 'instance'));
      return up.length === targets.length;
    } catch (error) {
      last = (error as Error).message; // not listening yet, most likely
      return undefined;
    }
  }, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; last answer: ${last}; prometheus said:\n${prometheus.output()}`);
  });

  const byNode = byLabel(await query('sum by (node) (routemesh_connections_total{service="web"})'), 'node');
  t.same(byNode, { node2: 30, node3: 12 }, 'by node: 30 through node2, 12 through node3, none through node1');
  t.equal(await scalar('sum(routemesh_connections_total{service="web"})'), 42, '42 in all');

  const up = byLabel(await query('up{job="routemesh"}'), 'instance');
  t.same(up, Object.fromEntries(targets.map((target) => [target, 1])), 'every node\'s target is up');
  t.equal(await scalar('count(up == 1)'), 3, 'count(up == 1) is 3');

  const throughNode2 = await query('routemesh_connections_total{node="node2",service="web"}');
  t.same(throughNode2.map((s) => [s.metric.port, s.metric.protocol]), [['9501', 'tcp'], ['9501', 'tcp'], ['9501', 'tcp']],
    'node2: one series per task, on 9501/tcp');
  const perTask = byLabel(throughNode2, 'task');
  t.same(Object.keys(perTask).sort(), tasks.map((task) => task.Name as string).sort(), 'naming the three tasks the engine API names');
  t.equal(Object.values(perTask).reduce((a, b) => a + b, 0), 30, 'adding up to 30');
  t.same(Object.values(perTask), [10, 10, 10], `round robin: 10 each (${JSON.stringify(perTask)})`);

  const running = await query('routemesh_tasks{service="web",state="running"}');
  t.same(running.map((s) => [s.metric.instance, Number(s.value[1])]), [[`${node1.address}:${METRICS_PORT}`, 3]],
    'the manager (node1), and no other node, says 3 tasks of web are running');

  // Every query of examples/grafana-dashboard.json is one this Prometheus takes.
  const dashboard = JSON.parse(await readFile(new URL('../examples/grafana-dashboard.json', import.meta.url), 'utf8')) as
    { panels: { title: string; targets: { expr: string }[] }[] };
  t.equal(dashboard.panels.flatMap((panel) => panel.targets).length, 9, 'nine queries in eight panels');
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets) {
      const promql = expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*');
      await t.resolves(query(promql), `dashboard panel "${panel.title}": its query runs`);
    }
  }
});

t.test('Prometheus\'s dockerswarm_sd, pointed at a manager, discovers the nodes, services and tasks', async (t) => {
  if (!requireTool(t, 'prometheus', 'prometheus')) return;
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!;
  t.equal((await api(manager.apiUrl, 'POST', '/services/create',
    serviceSpec('web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } }, ...published(80, WEB_PORT) }))).status, 201);
  const tasks = await waitForRunning(manager.apiUrl, 'web', 3);
  const dir = await tempDir(t);
  const job = (role: string, port?: number) => [
    `  - job_name: swarm-${role}`,
    '    dockerswarm_sd_configs:',
    `      - host: tcp://${manager.address}:2375`,
    `        role: ${role}`,
    ...(port ? [`        port: ${port}`] : []),
    '        refresh_interval: 1s',
  ];
  await writeFile(path.join(dir, 'prometheus.yml'), ['global:', '  scrape_interval: 1s', 'scrape_configs:',
    ...job('nodes', METRICS_PORT), ...job('services'), ...job('tasks'), ''].join('\n'));
  const prometheus = await startPrometheus(t, dir);

  interface Target { scrapePool: string; discoveredLabels: Record<string, string> }
  let last = 'no answer yet';
  const targets = await waitFor('every role to be discovered', async () => {
    if (prometheus.child.exitCode !== null) throw new Error(`prometheus exited (${prometheus.child.exitCode})`);
    try {
      const body = await (await fetch(`http://${PROMETHEUS}/api/v1/targets`)).json() as { data: { activeTargets: Target[] } };
      const active = body.data.activeTargets;
      last = JSON.stringify(active.map((a) => a.scrapePool));
      const count = (pool: string) => active.filter((a) => a.scrapePool === pool).length;
      return count('swarm-nodes') === 3 && count('swarm-services') === 1 && count('swarm-tasks') === 3 ? active : undefined;
    } catch (error) {
      last = (error as Error).message;
      return undefined;
    }
  }, 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; last answer: ${last}; prometheus said:\n${prometheus.output()}`);
  });
  const of = (pool: string, label: string) => targets.filter((a) => a.scrapePool === pool).map((a) => a.discoveredLabels[label]).sort();
  t.same(of('swarm-nodes', '__meta_dockerswarm_node_hostname'), ['node1', 'node2', 'node3']);
  t.same(of('swarm-nodes', '__address__'), cluster.nodes.map((n) => `${n.address}:${METRICS_PORT}`).sort(), 'nodes at their metrics port');
  t.same(of('swarm-services', '__meta_dockerswarm_service_name'), ['web']);
  t.same(of('swarm-tasks', '__meta_dockerswarm_task_id'), tasks.map((task) => task.ID as string).sort());
  t.same(of('swarm-tasks', '__meta_dockerswarm_network_name'), ['ingress', 'ingress', 'ingress'], 'on the ingress network');
});
