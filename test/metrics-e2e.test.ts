// Metrics end to end, read from the nodes' /metrics as Prometheus would: counters agree exactly with the
// traffic sent (connections per task and node, http requests, UDP flows, failures, DNS queries); the
// cluster's state comes from the manager, the process's and DNS's from node1 only; no label value is a
// client's address or a request's path; promtool finds nothing wrong with any node's page.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { httpGet, whoamiHost } from './support/net.js';
import { dig } from './support/dns.js';
import { requireTool } from './support/tools.js';

const BLOCK = 237; // nodes 127.237.0.x, tasks 127.238/16, VIPs 127.239/16

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The exposition text, parsed into samples (enough of the format for what routemesh and prom-client write). */
function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(url: string): Promise<{ text: string; samples: Sample[] }> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get(url, { agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve(body));
    }).on('error', reject);
  });
  return { text, samples: parse(text) };
}

/** The sum of `name` over the samples whose labels include `where`. */
function sum(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

/** Creates a service, and says so at once if the manager refused it (not as a wait that times out). */
async function create(t: Test, manager: string, spec: Record<string, unknown>): Promise<void> {
  const created = await api(manager, 'POST', '/services/create', spec);
  t.equal(created.status, 201, `${spec.Name} created${created.status === 201 ? '' : `: ${JSON.stringify(created.body)}`}`);
}

function service(name: string, image: string, replicas: number, port: { published: number; target: number; protocol?: string }, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}) {
  return {
    Name: name, Labels: labels,
    TaskTemplate: { ContainerSpec: { Image: image, ...extra } },
    Mode: { Replicated: { Replicas: replicas } },
    EndpointSpec: { Ports: [{ Protocol: port.protocol ?? 'tcp', TargetPort: port.target, PublishedPort: port.published }] },
  };
}

t.test('counters agree with the traffic, per node, service and task', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  const [node1, node2, node3] = cluster.nodes.map((n) => n.address) as [string, string, string];
  await create(t, manager, service('web', 'traefik/whoami', 3, { published: 9401, target: 80 }));
  await create(t, manager, service('api', 'traefik/whoami', 2, { published: 9402, target: 80 }, { 'routemesh.lb.mode': 'http' }));
  await create(t, manager, service('echo', 'routemesh/echo', 2, { published: 9403, target: 7, protocol: 'udp' }));
  await create(t, manager, service('none', 'traefik/whoami', 0, { published: 9404, target: 80 }));
  const webTasks = await waitForRunning(manager, 'web', 3);
  await waitForRunning(manager, 'api', 2);
  await waitForRunning(manager, 'echo', 2);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  // 30 connections through node2, 12 through node3: each on a connection of its own.
  const servedBy = new Map<string, number>();
  for (const [host, count] of [[node2, 30], [node3, 12]] as const) {
    for (let i = 0; i < count; i++) {
      const hostname = await whoamiHost(host, 9401);
      const key = `${host} ${hostname}`;
      servedBy.set(key, (servedBy.get(key) ?? 0) + 1);
    }
  }
  // 20 requests on one kept-alive connection in http mode.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 20; i++) {
    await new Promise<void>((resolve, reject) => http.get({ host: node2, port: 9402, agent }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject));
  }
  // 5 UDP flows through node3, each answered once.
  for (let i = 0; i < 5; i++) {
    const socket = dgram.createSocket('udp4');
    t.teardown(() => socket.close());
    await new Promise<void>((resolve) => socket.bind(0, '127.237.0.77', resolve));
    await waitFor('an echo', () => new Promise<boolean | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 200);
      socket.once('message', () => { clearTimeout(timer); resolve(true); });
      socket.send('ping', 9403, node3);
    }));
  }
  // One connection to a service with no task: closed at once.
  await t.rejects(httpGet(node2, 9404));

  const [m1, m2, m3] = await Promise.all(cluster.nodes.map((n) => scrape(n.metricsUrl!)));
  const web = { service: 'web', port: '9401', protocol: 'tcp' };
  t.equal(sum(m2!.samples, 'routemesh_connections_total', { ...web, node: 'node2' }), 30, 'node2 handed exactly 30 connections of web to tasks');
  t.equal(sum(m3!.samples, 'routemesh_connections_total', { ...web, node: 'node3' }), 12, 'node3 exactly 12');
  t.equal(sum(m1!.samples, 'routemesh_connections_total', web), 0, 'node1 none');
  // Per task, the counter says what the tasks' own answers say.
  for (const task of webTasks) {
    const hostname = task.Hostname ?? task.ID.slice(0, 12);
    for (const [node, host, samples] of [['node2', node2, m2!.samples], ['node3', node3, m3!.samples]] as const) {
      t.equal(sum(samples, 'routemesh_connections_total', { ...web, node, task: task.Name }), servedBy.get(`${host} ${hostname}`) ?? 0, `${node} → ${task.Name}`);
    }
  }
  t.equal(sum(m2!.samples, 'routemesh_http_requests_total', { service: 'api', code: '2xx' }), 20, 'http mode: 20 requests, each counted once');
  t.equal(sum(m2!.samples, 'routemesh_http_request_duration_seconds_count', { service: 'api' }), 20, 'and timed once');
  t.equal(sum(m2!.samples, 'routemesh_connections_total', { service: 'api' }), 0, 'http mode counts requests, not connections');
  t.equal(sum(m3!.samples, 'routemesh_connections_total', { service: 'echo', protocol: 'udp' }), 5, 'five UDP flows');
  t.equal(sum(m2!.samples, 'routemesh_balancing_failures_total', { service: 'none', reason: 'no_backend' }), 1, 'one client with no task to go to');
  t.ok(sum(m2!.samples, 'routemesh_bytes_total', { service: 'web', direction: 'out' }) > 0, 'bytes out counted');
  t.equal(sum(m2!.samples, 'routemesh_pool_members', { service: 'web', state: 'serving' }), 3, 'three tasks serving in node2\'s pool of web');
  t.equal(sum(m2!.samples, 'routemesh_active_connections', { service: 'web' }), 0, 'none open now');

  // The manager knows the cluster; a worker does not say.
  t.equal(sum(m1!.samples, 'routemesh_tasks', { service: 'web', state: 'running' }), 3);
  t.equal(sum(m1!.samples, 'routemesh_nodes', { state: 'ready' }), 3);
  t.equal(m2!.samples.filter((s) => s.name === 'routemesh_tasks').length, 0, 'a worker exports no cluster state');
  // The process and the DNS server: on node1 only.
  t.ok(m1!.samples.some((s) => s.name === 'process_cpu_seconds_total'), 'node1 has the process');
  t.notOk([...m2!.samples, ...m3!.samples].some((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_') || s.name.startsWith('routemesh_dns_')),
    'the other nodes do not repeat it');
});

t.test('DNS queries are counted by type and answer code', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  await create(t, manager, service('web', 'traefik/whoami', 1, { published: 9405, target: 80 }));
  await waitForRunning(manager, 'web', 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const url = cluster.nodes[0]!.metricsUrl!;
  const before = (await scrape(url)).samples;
  const { address, port } = cluster.dnsServer;
  await dig(address, port, ['web', 'A']);
  await dig(address, port, ['web', 'A']);
  await dig(address, port, ['x.tasks.web', 'A']);
  await dig(address, port, ['elsewhere.example', 'A']); // forwarded: no upstream, so SERVFAIL
  const after = (await scrape(url)).samples;
  const delta = (name: string, where: Record<string, string>) => sum(after, name, where) - sum(before, name, where);
  t.equal(delta('routemesh_dns_queries_total', { type: 'A', rcode: 'NOERROR' }), 2);
  t.equal(delta('routemesh_dns_queries_total', { type: 'A', rcode: 'NXDOMAIN' }), 1);
  t.equal(delta('routemesh_dns_queries_total', { type: 'A', rcode: 'SERVFAIL' }), 1);
  t.equal(delta('routemesh_dns_forwarded_total', { rcode: 'SERVFAIL' }), 1, 'one was forwarded');
  t.equal(delta('routemesh_dns_answer_duration_seconds_count', {}), 4, 'each answer timed');
});

t.test('label values stay bounded: no client address, no request path', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  await create(t, manager, service('api', 'traefik/whoami', 2, { published: 9406, target: 80 }, { 'routemesh.lb.mode': 'http' }));
  await waitForRunning(manager, 'api', 2);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  const node = cluster.nodes[1]!;
  const labelSets = async () => new Set((await scrape(node.metricsUrl!)).samples.filter((s) => s.name.startsWith('routemesh_')).map((s) => `${s.name}${JSON.stringify(s.labels)}`));
  const get = (i: number) => new Promise<void>((resolve, reject) => {
    http.get({ host: node.address, port: 9406, path: `/client/${i}?q=${i}`, localAddress: `127.237.1.${i}`, agent: false }, (r) => { r.resume(); r.on('end', resolve); }).on('error', reject);
  });
  for (let i = 1; i <= 5; i++) await get(i);
  const settled = await labelSets();
  for (let i = 6; i <= 60; i++) await get(i);
  const later = await labelSets();
  t.same([...later].filter((s) => !settled.has(s)), [], '55 more clients and paths add no series');
  const text = [...later].join('\n');
  t.notMatch(text, /127\.237\.1\./, 'no client address');
  t.notMatch(text, /\/client\//, 'no path');
});

t.test("promtool finds nothing wrong in any node's page, the process's metrics included; /metrics is the only path", async (t) => {
  if (!requireTool(t, 'promtool', 'prometheus')) return;
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  await create(t, manager, service('web', 'traefik/whoami', 1, { published: 9407, target: 80 }));
  await waitForRunning(manager, 'web', 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  await httpGet(cluster.nodes[1]!.address, 9407);
  for (const node of cluster.nodes) {
    const { text } = await scrape(node.metricsUrl!);
    const lint = await new Promise<{ code: number; findings: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, findings: `${stdout}${stderr}` });
      });
      child.stdin!.end(text);
    });
    t.same(lint, { code: 0, findings: '' }, `${node.hostname}: promtool check metrics exits 0 and says nothing`);
  }
  t.ok((await scrape(cluster.nodes[0]!.metricsUrl!)).samples.some((s) => s.name === 'nodejs_active_handles'), "node1's page did hold the process's metrics");
  const missing = await new Promise<number>((resolve, reject) => {
    http.get(cluster.nodes[0]!.metricsUrl!.replace('/metrics', '/other'), { agent: false }, (r) => { r.resume(); resolve(r.statusCode ?? 0); }).on('error', reject);
  });
  t.equal(missing, 404);
});

t.test('metrics off: no node serves them', async (t) => {
  const cluster = await testCluster(t, BLOCK, { metricsPort: undefined });
  t.same(cluster.nodes.map((n) => n.metricsUrl), [undefined, undefined, undefined]);
  await t.rejects(scrape(`http://${cluster.nodes[0]!.address}:9323/metrics`), { code: 'ECONNREFUSED' });
});
