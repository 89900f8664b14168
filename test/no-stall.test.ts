// No request may stall the cluster: thousands of replicas are created and removed in slices while the
// engine API and every node's published port keep answering; a count the cluster cannot hold is refused;
// `up` stops on a signal in the middle of it; the CLI tells "nothing listens" from "no answer in time".
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import type { Cluster } from '../src/engine/index.js';
import { EngineClient } from '../src/cli/EngineClient.js';
import { api, published, serviceSpec, testBlock, testCluster, waitFor } from './support/cluster.js';
import { upProcess } from './support/cli.js';

const BLOCK = testBlock(32);
const UP_BLOCK = testBlock(35);
/** Enough that creating or removing them takes many turns of the event loop, few enough to stay quick. */
const REPLICAS = 3000;
const PORT = 8480;

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function running(cluster: Cluster): number {
  return cluster.engines[0]!.requireManager().store.tasks().filter((task) => task.Status.State === 'running').length;
}

t.test('while thousands of tasks start and stop, /_ping and every node\'s published port answer', async (t) => {
  const cluster = await testCluster(t, BLOCK, { metricsPort: undefined });
  const base = cluster.nodes[0]!.apiUrl;
  const created = await api(base, 'POST', '/services/create',
    serviceSpec('many', 'traefik/whoami', { Mode: { Replicated: { Replicas: REPLICAS } }, ...published(80, PORT) }));
  t.equal(created.status, 201);

  const ping = await get(`${base}/_ping`);
  const atPing = running(cluster);
  t.equal(ping.body, 'OK');
  t.ok(atPing < REPLICAS, `/_ping answered while the service converged (${atPing} of ${REPLICAS} running)`);
  for (const node of cluster.nodes) {
    // A task the manager counts as running reaches each node's mesh a moment later; until then the node
    // closes the connection at once (no task in its pool), as a router without a route would.
    const answer = await waitFor(`${node.hostname}'s published port to answer`,
      () => get(`http://${node.address}:${PORT}/`).catch(() => undefined), 20_000);
    const atAnswer = running(cluster);
    t.match(answer.body, /^Hostname: /, `${node.hostname}'s published port answered`);
    t.ok(atAnswer < REPLICAS, `... while the service converged (${atAnswer} of ${REPLICAS} running)`);
  }
  await waitFor(`${REPLICAS} tasks running`, () => running(cluster) === REPLICAS, 60_000);

  const manager = cluster.engines[0]!.requireManager();
  const service = manager.resolveService('many');
  const scaled = await api(base, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`,
    { ...service.Spec, Mode: { Replicated: { Replicas: 1 } } });
  t.equal(scaled.status, 200);
  const pingDown = await get(`${base}/_ping`);
  const keptAtPing = manager.store.tasks().filter((task) => task.DesiredState === 'running').length;
  t.equal(pingDown.body, 'OK');
  t.ok(keptAtPing > 1, `/_ping answered while the scale-down was still being applied (${keptAtPing} tasks not yet told to stop)`);
  const answer = await get(`http://${cluster.nodes[1]!.address}:${PORT}/`);
  t.match(answer.body, /^Hostname: /, 'the published port answered during the scale-down');
});

t.test('a replica count the cluster cannot hold is refused at create and at scale, naming the limit', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined, maxReplicas: 2000 });
  const base = cluster.nodes[0]!.apiUrl;
  for (const replicas of [1_000_000_000, 100_000]) {
    const refused = await api(base, 'POST', '/services/create', serviceSpec('huge', 'traefik/whoami', { Mode: { Replicated: { Replicas: replicas } } }));
    t.equal(refused.status, 400);
    t.equal(refused.body.message, `rpc error: code = InvalidArgument desc = replicas ${replicas} is more than this cluster can hold ` +
      `(65533 task addresses in 127.${BLOCK + 1}.0.0/16, and a cap of 2000 replicas per service): ask for 2000 or fewer, ` +
      'or start the cluster with a higher --max-replicas');
  }
  t.same((await api(base, 'GET', '/services')).body, [], 'nothing was created');

  t.equal((await api(base, 'POST', '/services/create', serviceSpec('web', 'traefik/whoami'))).status, 201);
  const web = (await api(base, 'GET', '/services/web')).body;
  const scaled = await api(base, 'POST', `/services/web/update?version=${web.Version.Index}`, { ...web.Spec, Mode: { Replicated: { Replicas: 2001 } } });
  t.equal(scaled.status, 400);
  t.match(scaled.body.message, /replicas 2001 is more than this cluster can hold .*a cap of 2000 replicas per service/);
  t.equal((await api(base, 'GET', '/services/web')).body.Spec.Mode.Replicated.Replicas, 1, 'the service kept its count');
});

// SIGTERM here: SIGINT and SIGHUP reach the same handler (Io's interrupts), and their own tests (cli-e2e,
// node-processes, exec-lifetime) stop `up` with them; busy or quiet is the handler's matter, not the signal's.
t.test('SIGTERM stops `up` within 5 s while thousands of tasks are being created', async (t) => {
  const up = await upProcess(t, ['--in-process', '--nodes', '2', '--subnet', `127.${UP_BLOCK}.0.0/24`, '--task-subnet', `127.${UP_BLOCK + 1}.0.0/16`,
    '--vip-subnet', `127.${UP_BLOCK + 2}.0.0/16`, '--dns', `127.${UP_BLOCK}.0.250`, '--dns-upstream', `127.${UP_BLOCK}.0.251`, '--metrics-port', 'off']);
  const { child } = up;
  const exited = up.exited.then(([code]) => code);
  const base = `http://127.${UP_BLOCK}.0.1:2375`;
  const created = await api(base, 'POST', '/services/create', serviceSpec('many', 'traefik/whoami', { Mode: { Replicated: { Replicas: 5000 } } }));
  t.equal(created.status, 201);
  const started = Date.now();
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([exited, new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still running after 5 s'), 5000); })]);
  clearTimeout(timer);
  t.equal(code, 0, `exited 0 in ${Date.now() - started} ms`);
});

t.test('the CLI says "Cannot connect" only when nothing listens; a silent engine is a timeout', async (t) => {
  const silent = net.createServer(() => { /* accepts, never answers */ });
  const sockets = new Set<net.Socket>();
  silent.on('connection', (socket) => { sockets.add(socket); });
  await new Promise<void>((resolve) => silent.listen(0, `127.${BLOCK}.0.200`, resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const { port } = silent.address() as net.AddressInfo;
  const busy = new EngineClient(`http://127.${BLOCK}.0.200:${port}`, { host: `tcp://127.${BLOCK}.0.200:${port}`, timeoutMs: 300 });
  t.teardown(() => busy.close());
  await t.rejects(busy.get('/services'), {
    code: 'ENGINE_TIMEOUT',
    message: `The routemesh engine at tcp://127.${BLOCK}.0.200:${port} did not answer within 0.3 s: it is running but busy or stuck.\n` +
      'Try again in a moment, or allow it longer with ROUTEMESH_TIMEOUT_MS.',
  });

  // Nothing listens on the port the silent server gave up.
  const free = net.createServer();
  await new Promise<void>((resolve) => free.listen(0, `127.${BLOCK}.0.201`, resolve));
  const closedPort = (free.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => free.close(() => resolve()));
  const down = new EngineClient(`http://127.${BLOCK}.0.201:${closedPort}`, { timeoutMs: 300 });
  t.teardown(() => down.close());
  await t.rejects(down.get('/services'), { code: 'ENGINE_UNREACHABLE', message: /^Cannot connect to the routemesh engine at .*: connection refused\.\nIs the cluster running\?/ });
});
