// `service logs`, end to end: the engine streams each task's output in Docker's multiplexed framing, each
// line led by the details that name its node, service and task (timestamps first when asked); `tail`
// counts per task; `follow` goes on with new lines until the client leaves; and both the routemesh CLI and
// the real docker CLI print `simple.1.<task>@node2    | request arrived.` from it.
import { once } from 'node:events';
import http from 'node:http';
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, docker, routemesh } from './support/cli.js';
import { deadline } from './support/dns.js';
import { httpGet } from './support/net.js';
import { requireTool } from './support/tools.js';

const BLOCK = 120; // nodes 127.120.0.x, tasks 127.121/16, VIPs 127.122/16

interface Frame {
  stream: number;
  text: string;
}

/** The stdcopy frames of a whole body. */
function frames(body: Buffer): Frame[] {
  const out: Frame[] = [];
  for (let at = 0; at + 8 <= body.length;) {
    const length = body.readUInt32BE(at + 4);
    out.push({ stream: body[at]!, text: body.subarray(at + 8, at + 8 + length).toString('utf8') });
    at += 8 + length;
  }
  return out;
}

function logs(base: string, service: string, query: string): Promise<{ status: number; type: string; frames: Frame[] }> {
  return new Promise((resolve, reject) => {
    http.get(`${base}/v1.50/services/${service}/logs?${query}`, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({
        status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', frames: frames(Buffer.concat(chunks)),
      }));
    }).on('error', reject);
  });
}

t.test('service logs: frames, details, timestamps, tail and follow; both CLIs print them', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const base = cluster.nodes[0]!.apiUrl;
  await api(base, 'POST', '/services/create', {
    Name: 'simple', TaskTemplate: { ContainerSpec: { Image: 'madvirus/simplenode:0.1' } }, Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 5000, PublishedPort: 8000 }] },
  });
  const tasks = await waitForRunning(base, 'simple', 3);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));
  for (let i = 0; i < 3; i++) await httpGet(cluster.nodes[1]!.address, 8000); // one per task: round robin

  const all = await logs(base, 'simple', 'stdout=1&stderr=1&details=1&tail=all');
  t.equal(all.status, 200);
  t.equal(all.type, 'application/vnd.docker.multiplexed-stream');
  const details = new Set(tasks.map((task) => `com.docker.swarm.node.id=${task.NodeID},com.docker.swarm.service.id=${task.ServiceID},com.docker.swarm.task.id=${task.ID} request arrived.\n`));
  const requestLines = all.frames.filter((f) => f.text.endsWith('request arrived.\n'));
  t.same(new Set(requestLines.map((f) => f.text)), details, 'one line from each task, led by its node, service and task');
  t.ok(requestLines.every((f) => f.stream === 1), 'on stdout');

  const stamped = await logs(base, 'simple', 'stdout=1&stderr=1&details=1&timestamps=1&tail=1');
  t.equal(stamped.frames.length, 3, 'tail counts per task: one line from each of the three');
  t.ok(stamped.frames.every((f) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z com\.docker\.swarm\.node\.id=/.test(f.text)), 'the timestamp first, then the details');
  const times = stamped.frames.map((f) => Date.parse(f.text.split(' ')[0]!));
  t.same(times, [...times].sort((a, b) => a - b), 'in the order they were said');
  t.same((await logs(base, 'simple', 'stdout=1&tail=0')).frames, [], 'tail=0: nothing');
  t.equal((await logs(base, 'simple', 'tail=all')).status, 400, 'no stream asked for: refused');

  // follow: a new line arrives on the open response; the client leaving ends the following.
  const followed: Frame[] = [];
  const request = http.get(`${base}/v1.50/services/simple/logs?stdout=1&details=1&follow=1&tail=0`, { agent: false }, (res) => {
    res.on('data', (c: Buffer) => followed.push(...frames(c)));
  });
  request.on('error', () => {});
  t.teardown(() => { request.destroy(); });
  await deadline('the follow response', once(request, 'response'));
  await httpGet(cluster.nodes[2]!.address, 8000);
  await waitFor('the new line to be followed', () => followed.some((f) => f.text.endsWith('request arrived.\n')));
  t.equal(followed.length, 1, 'only the new line');

  const env = cliEnv(`tcp://${cluster.nodes[0]!.address}:2375`);
  const ours = await routemesh(['service', 'logs', 'simple'], env);
  t.equal(ours.code, 0, ours.stderr);
  t.match(ours.stdout, /^simple\.[1-3]\.[0-9a-z]{12}@node[1-3] +\| request arrived\.$/m, 'routemesh prints the task and node before each line');

  await t.test('the real docker CLI prints the same lines', async (t) => {
    if (!requireTool(t, 'docker', 'docker.io')) return;
    const fromDocker = await docker(cluster.nodes[0]!.address, 'service', 'logs', 'simple');
    t.equal(fromDocker.code, 0, fromDocker.stderr);
    const lines = fromDocker.stdout.trimEnd().split('\n').filter((l) => l.endsWith('request arrived.'));
    t.equal(lines.length, 4, 'all four lines');
    t.ok(lines.every((l) => /^simple\.[1-3]\.[0-9a-z]{12}@node[1-3] +\| request arrived\.$/.test(l)), lines.join('\n'));
  });
});
