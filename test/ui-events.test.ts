// The dashboard's data, without a browser: /ui/ serves its page and files (nothing from elsewhere, no
// inline script), /ui/state a snapshot, and /ui/events server-sent events (a snapshot, then a batch per
// change, each with an id) that resume after Last-Event-ID, or start over with a snapshot when the id is
// unknown. A worker sends the browser to the managers. Nodes 127.154.0.x, tasks 127.155/16, VIPs 127.156/16.
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { httpGet } from './support/net.js';
import { api, published, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';

const BLOCK = testBlock(154);

interface ServerEvent {
  event: string;
  id: string;
  data: any;
}

/** An event stream read as EventSource reads it: its events, as they come, until closed. */
function subscribe(t: Test, url: string, lastEventId?: string) {
  const events: ServerEvent[] = [];
  let head: http.IncomingMessage | undefined;
  const request = http.get(url, { agent: false, headers: lastEventId ? { 'last-event-id': lastEventId } : {} }, (res) => {
    head = res;
    res.setEncoding('utf8');
    let buffered = '';
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const fields = Object.fromEntries(block.split('\n').filter((line) => !line.startsWith(':')).map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon), line.slice(colon + 1).trimStart()];
        }));
        if (fields.event) events.push({ event: fields.event, id: fields.id, data: JSON.parse(fields.data) });
      }
    });
  });
  request.on('error', () => {});
  t.teardown(() => request.destroy());
  return { events, head: () => head, close: () => request.destroy() };
}


const myWeb = (replicas: number) => serviceSpec('my-web', 'traefik/whoami', { Mode: { Replicated: { Replicas: replicas } }, ...published(80, 8080) });

t.test('the page and its files, as a browser gets them', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 2, metricsPort: undefined });
  const base = cluster.nodes[0]!.apiUrl;
  const redirect = await new Promise<http.IncomingMessage>((resolve) => http.get(`${base}/ui`, { agent: false }, resolve));
  t.equal(redirect.statusCode, 301);
  t.equal(redirect.headers.location, '/ui/');
  redirect.resume();
  const page = await fetch(`${base}/ui/`);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-type'), /^text\/html/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/, 'nothing but its own files and events');
  const html = await page.text();
  t.match(html, /<main id="dashboard" data-connected="false">/);
  t.notMatch(html, /<script(?![^>]*\ssrc=)[^>]*>|https?:\/\//, 'no inline script, nothing fetched from elsewhere');
  for (const [file, type] of [['app.js', /^text\/javascript/], ['style.css', /^text\/css/]] as const) {
    const res = await fetch(`${base}/ui/${file}`);
    t.equal(res.status, 200, file);
    t.match(res.headers.get('content-type'), type);
    t.notMatch(await res.text(), /https?:\/\//, `${file} fetches nothing from elsewhere`);
  }
  // Sent as written (fetch would make it /package.json before sending it).
  const escape = await new Promise<number>((resolve, reject) => {
    http.get(`${base}/ui/`, { path: '/ui/../package.json', agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
  t.equal(escape, 404, 'only its own files');
  t.equal((await api(cluster.nodes[1]!.apiUrl, 'GET', '/ui/state')).status, 503, 'a worker serves no dashboard');
  t.match((await api(cluster.nodes[1]!.apiUrl, 'GET', '/ui/state')).body.message, `the dashboard is served by the swarm's managers: http://127.${BLOCK}.0.1:`);
});

t.test('a snapshot, then a batch per change; Last-Event-ID resumes after it, an unknown one starts over', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 3, metricsPort: undefined });
  const base = cluster.nodes[0]!.apiUrl;
  t.equal((await api(base, 'POST', '/services/create', myWeb(6))).status, 201);
  await waitFor('6 tasks running in the snapshot', async () => {
    const { body } = await api(base, 'GET', '/ui/state');
    return body.tasks.filter((task: any) => task.state === 'running').length === 6;
  });

  const first = subscribe(t, `${base}/ui/events`);
  await waitFor('the snapshot', () => first.events.length >= 1);
  t.equal(first.head()!.headers['content-type'], 'text/event-stream');
  const [snapshot] = first.events;
  t.equal(snapshot!.event, 'snapshot');
  t.equal(snapshot!.id, snapshot!.data.id);
  t.same(snapshot!.data.nodes.map((n: any) => n.hostname), ['node1', 'node2', 'node3'], 'nodes in the CLI\'s order');
  t.match(snapshot!.data.nodes[0], { hostname: 'node1', role: 'manager', leader: true, state: 'ready', availability: 'active', address: `127.${BLOCK}.0.1` });
  t.match(snapshot!.data.services, [{ name: 'my-web', mode: 'replicated', replicas: 6, image: 'traefik/whoami', ports: [{ published: 8080, target: 80, protocol: 'tcp' }] }]);
  t.equal(snapshot!.data.tasks.filter((task: any) => task.desiredState === 'running').length, 6);

  // A scale: its changes come as batches, each naming the tasks it changed and the order of services.
  const service = (await api(base, 'GET', '/services/my-web')).body;
  t.equal((await api(base, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, { ...service.Spec, Mode: { Replicated: { Replicas: 3 } } })).status, 200);
  const stopped = (events: ServerEvent[]) => new Set(events.flatMap((e) => e.event === 'changes'
    ? e.data.changes.filter((c: any) => c.kind === 'task' && (c.op === 'delete' || c.object.desiredState !== 'running')).map((c: any) => c.id ?? c.object.id) : []));
  await waitFor('three tasks told to stop', () => stopped(first.events).size === 3);
  const lines = (events: ServerEvent[]) => events.flatMap((e) => (e.event === 'changes' ? e.data.timeline : e.data.timeline ?? []).map((l: any) => l.text));
  await waitFor('the scale on the timeline', () => lines(first.events).includes('service my-web scaled from 6 to 3'));
  t.ok(lines([snapshot!]).includes('service my-web created: traefik/whoami, 6 replicas'), 'the snapshot has what came before');
  t.equal(lines(first.events).filter((l) => /^task my-web\.\d+ started on node\d$/.test(l)).length, 6, 'each task\'s start, once');
  await waitFor('the tasks stopped on the timeline', () => lines(first.events).filter((l) => /^task my-web\.\d+ stopped on node\d$/.test(l)).length === 3);
  const batches = first.events.slice(1);
  t.ok(batches.every((e) => e.event === 'changes' && e.id === e.data.id && e.data.order.services.length === 1), 'each batch with its id and the order');
  t.ok(batches.every((e, i) => i === 0 || Number(e.id.split('-')[1]) === Number(batches[i - 1]!.id.split('-')[1]) + 1), 'numbered one after the other');

  // A page whose stream broke after the first batch comes back with its id: it gets what it missed, no snapshot.
  t.ok(batches.length >= 2, `batches came after the first (${batches.length}), so there is something to miss`);
  const resumed = subscribe(t, `${base}/ui/events`, batches[0]!.id);
  await waitFor('the missed batches', () => resumed.events.length >= batches.length - 1);
  t.same(resumed.events.slice(0, batches.length - 1).map((e) => e.id), batches.slice(1).map((e) => e.id), 'exactly those after it');
  t.notOk(resumed.events.some((e) => e.event === 'snapshot'), 'no snapshot');

  const unknown = subscribe(t, `${base}/ui/events`, 'deadbeef-3');
  await waitFor('a snapshot for an unknown id', () => unknown.events.length >= 1);
  t.equal(unknown.events[0]!.event, 'snapshot');

  // The mesh: each node reads its own pools out (GET /routemesh/mesh), and the stream carries every node's read.
  const tasks = await waitForRunning(base, 'my-web', 3);
  await Promise.all(tasks.map((task) => waitFor(`${task.Name} to answer`, () => httpGet(task.Endpoint.Addr, task.Endpoint.Ports[0].ListenPort).then(() => true, () => undefined))));
  const [node1, node2] = cluster.nodes;
  const counts = (report: any) => Object.fromEntries(report.pools.filter((p: any) => p.service === 'my-web').flatMap((p: any) => p.members.map((m: any) => [m.task, [m.state, m.recent]])));
  const serving = (recent: number) => Object.fromEntries(tasks.map((task) => [task.ID, ['serving', recent]]));
  await waitFor('node1\'s pool to hold the three, serving', async () => JSON.stringify(counts((await api(node1!.apiUrl, 'GET', '/routemesh/mesh')).body)) === JSON.stringify(serving(0)) || undefined);
  for (let i = 0; i < 30; i++) await httpGet(node1!.address, 8080);
  const { body: report } = await api(node1!.apiUrl, 'GET', '/routemesh/mesh');
  t.match(report, { node: 'node1', windowSeconds: 60, pools: [{ service: 'my-web', targetPort: 80, protocol: 'tcp', mode: 'tcp', algorithm: 'round-robin', counts: 'connections', local: false }] });
  t.same(counts(report), serving(10), '30 connections through node1: round robin gave each task 10, as node1 says');
  const worker = await api(node2!.apiUrl, 'GET', '/routemesh/mesh');
  t.equal(worker.status, 200, 'a worker answers for its own pools');
  t.same(counts(worker.body), serving(0), 'node2 balanced none of them');
  const reads = (events: ServerEvent[]) => events.flatMap((e) => (e.event === 'changes' ? e.data.mesh : []));
  const node1Read = await waitFor('the stream to carry node1\'s read', () =>
    reads(first.events).find((m: any) => m.hostname === 'node1' && JSON.stringify(counts(m.report)) === JSON.stringify(serving(10))));
  t.equal(node1Read.nodeId, node1!.nodeId);
  await waitFor('and node2\'s and node3\'s', () => ['node2', 'node3'].every((name) => reads(first.events).some((m: any) => m.hostname === name && m.report)));
});

t.test('every stream ends when its node leaves the swarm (a browser\'s EventSource then tries again)', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined });
  const base = cluster.nodes[0]!.apiUrl;
  const stream = subscribe(t, `${base}/ui/events`);
  await waitFor('the snapshot', () => stream.events.length >= 1);
  let ended = false;
  stream.head()!.on('end', () => { ended = true; });
  t.equal((await api(base, 'POST', '/swarm/leave?force=1')).status, 200);
  await waitFor('the stream to end', () => ended);
  t.equal((await api(base, 'GET', '/ui/state')).status, 503, 'outside a swarm, no dashboard');
  const mesh = await api(base, 'GET', '/routemesh/mesh');
  t.equal(mesh.status, 503, 'and no pools');
  t.match(mesh.body.message, /not part of a swarm, so it balances nothing: "docker swarm init" or "docker swarm join" it first/);
});
