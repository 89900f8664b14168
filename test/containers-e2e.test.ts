// Containers on a node, through the real docker CLI (28.2.2): `docker run` in the foreground (its output
// and exit code), detached (ps, logs [-f], inspect, stop, kill, rm [-f]), --rm, a real server on the host
// network, the refusals (an image routemesh lacks, -i, a network without container networking), the swarm's
// tasks listed as Swarm names their containers, and Docker-shaped errors for what routemesh does not serve.
// Last, a standalone container on a network, through a test double of ContainerNetworking (the networks
// part implements the real one): its address, `-p P:T` forwarding, and the events it records.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { api, rawApi, serviceSpec, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { httpGet } from './support/net.js';
import { docker, dockerEnv, run } from './support/cli.js';
import { missingTool } from './support/tools.js';
import { Runtime } from '../src/runtime/index.js';
import { NodeContainers } from '../src/engine/containers/index.js';
import { parseCreateRequest } from '../src/engine/containers/index.js';
import type { ContainerAttachment, ContainerNetworking } from '../src/engine/ContainerNetworking.js';
import type { EngineEvent } from '../src/engine/EventSink.js';
import { ApiError } from '../src/engine/api/index.js';

const BLOCK = testBlock(128); // nodes 127.128.0.x, tasks 127.129/16, VIPs 127.130/16 (its 127.130.200.x: the network double's)

const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { nodes: 2 });
const [n1 = '', n2 = ''] = cluster?.nodes.map((n) => n.address) ?? [];
const base = cluster?.nodes[0]?.apiUrl ?? '';

/** A container's line of `docker ps -a`, by name: `Status|Image|Ports`. */
async function psLine(address: string, name: string): Promise<string | undefined> {
  const ps = await docker(address, 'ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}|{{.Image}}|{{.Ports}}');
  return ps.stdout.trim() || undefined;
}

t.test('foreground docker run streams the output and returns the exit code; --rm removes it', { skip }, async (t) => {
  const fg = await docker(n1, 'run', '--network', 'host', '--name', 'fg', 'routemesh/exec', 'sh', '-c', 'echo hi; echo oops >&2; exit 3');
  t.equal(fg.code, 3, 'the exit code of the container is docker run\'s');
  t.equal(fg.stdout, 'hi\n');
  t.equal(fg.stderr, 'oops\n');
  t.match(await psLine(n1, 'fg'), /^Exited \(3\) .* ago\|routemesh\/exec\|$/);
  t.equal((await docker(n1, 'rm', 'fg')).code, 0);
  t.equal(await psLine(n1, 'fg'), undefined, 'removed');

  const once = await docker(n1, 'run', '--rm', '--net', 'host', '--name', 'once', '-e', 'GREETING=bye', 'routemesh/exec', 'sh', '-c', 'echo $GREETING; exit 0');
  t.equal(once.code, 0);
  t.equal(once.stdout, 'bye\n');
  t.equal(await psLine(n1, 'once'), undefined, '--rm removed it once it exited');
});

t.test('a detached server on the host network: ps, logs, logs -f, inspect, rm refused while it runs, stop, rm', { skip }, async (t) => {
  const server = "require('http').createServer((q, s) => { console.log('got ' + q.url); s.end('hello from ' + process.env.HOSTNAME); }).listen(process.env.PORT, process.env.HOST, () => console.log('listening'))";
  // tap puts its hooks into the NODE_OPTIONS of every process this test starts, and they fail at exit in a
  // task run as nobody: the container's node runs without them, so its exit code is its own.
  const started = await docker(n1, 'run', '-d', '--network', 'host', '--name', 'srv', '--expose', '8080', 'routemesh/exec', 'env', '-u', 'NODE_OPTIONS', 'node', '-e', server);
  t.equal(started.code, 0, started.stderr);
  t.match(started.stdout, /^[0-9a-f]{64}\n$/, 'docker run -d prints the container ID');
  t.teardown(() => docker(n1, 'rm', '-f', 'srv'));
  await waitFor('the server to listen', async () => (await docker(n1, 'logs', 'srv')).stdout.includes('listening'));
  const answer = await httpGet(n1, 8080, '/x');
  t.equal(answer.body, `hello from ${cluster!.nodes[0]!.hostname}`, 'it binds the node\'s own address, with the host\'s hostname');
  t.match(await psLine(n1, 'srv'), /^Up .*\|routemesh\/exec\|$/);
  t.match((await docker(n1, 'logs', 'srv')).stdout, /listening\ngot \/x\n/);
  const inspect = await docker(n1, 'inspect', '-f', '{{.State.Running}} {{.HostConfig.NetworkMode}} {{.Name}} {{.Path}} {{.Config.Image}}', 'srv');
  t.equal(inspect.stdout, 'true host /srv env routemesh/exec\n');
  const pid = Number((await docker(n1, 'inspect', '-f', '{{.State.Pid}}', started.stdout.trim().slice(0, 12))).stdout);
  t.ok(pid > 0 && pid !== process.pid, 'its own process, found by an ID prefix');

  const rm = await docker(n1, 'rm', 'srv');
  t.equal(rm.code, 1);
  t.equal(rm.stderr, 'Error response from daemon: cannot remove container "/srv": container is running: stop the container before removing or force remove\n');

  // Following: the stream ends once the container stops.
  const follower = spawn('docker', ['logs', '-f', 'srv'], { env: dockerEnv(n1) });
  t.teardown(() => { follower.kill(); });
  let followed = '';
  follower.stdout.on('data', (chunk: Buffer) => { followed += chunk.toString(); });
  const followEnded = new Promise<number | null>((resolve) => follower.once('exit', resolve));
  await waitFor('logs -f to show the backlog', () => followed.includes('listening'));
  await httpGet(n1, 8080, '/followed');
  await waitFor('logs -f to show a new line', () => followed.includes('got /followed'));
  const stop = await docker(n1, 'stop', '-t', '5', 'srv');
  t.equal(stop.code, 0, stop.stderr);
  t.equal(stop.stdout, 'srv\n');
  t.equal(await followEnded, 0, 'logs -f ends when the container stops');
  t.match(await psLine(n1, 'srv'), /^Exited \(143\) /, 'SIGTERM ended it');
  t.equal((await docker(n1, 'stop', 'srv')).code, 0, 'stopping a stopped container is no error (304)');
  t.equal((await docker(n1, 'rm', 'srv')).code, 0);
  const gone = await docker(n1, 'container', 'inspect', 'srv');
  t.equal(gone.code, 1);
  t.equal(gone.stderr, 'Error response from daemon: No such container: srv\n');
});

t.test('names, kill, rm -f, restart', { skip }, async (t) => {
  t.equal((await docker(n1, 'run', '-d', '--net', 'host', '--name', 'kk', 'routemesh/exec', 'sleep', '100')).code, 0);
  t.teardown(() => docker(n1, 'rm', '-f', 'kk'));
  const again = await docker(n1, 'run', '-d', '--net', 'host', '--name', 'kk', 'routemesh/exec', 'sleep', '100');
  t.equal(again.code, 125);
  t.match(again.stderr, /Conflict\. The container name "\/kk" is already in use by container "[0-9a-f]{64}"\. You have to remove \(or rename\) that container to be able to reuse that name\./);
  const restart = await docker(n1, 'restart', '-t', '0', 'kk');
  t.equal(restart.code, 0, restart.stderr);
  t.match(await psLine(n1, 'kk'), /^Up /);
  t.equal((await docker(n1, 'kill', 'kk')).stdout, 'kk\n');
  t.match(await psLine(n1, 'kk'), /^Exited \(137\) /, 'SIGKILL ended it');
  const killAgain = await docker(n1, 'kill', 'kk');
  t.equal(killAgain.code, 1);
  t.match(killAgain.stderr, /cannot kill container: [0-9a-f]{64}: container [0-9a-f]{64} is not running/);
  const hup = await docker(n1, 'kill', '--signal', 'HUP', 'kk');
  t.match(hup.stderr, /routemesh sends containers SIGKILL or SIGTERM \(or SIGINT, taken as SIGTERM\) only, not HUP/);

  const random = await docker(n1, 'run', '-d', '--net', 'host', 'routemesh/exec', 'sleep', '100');
  const name = (await docker(n1, 'inspect', '-f', '{{.Name}}', random.stdout.trim())).stdout.trim();
  t.match(name, /^\/[a-z]+_[a-z]+\d?$/, 'a container run without --name gets a name as Docker makes them');
  const rmf = await docker(n1, 'rm', '-f', name.slice(1));
  t.equal(rmf.code, 0, rmf.stderr);
  t.equal(await psLine(n1, name.slice(1)), undefined);
});

t.test('what routemesh refuses, in Docker\'s shape, leaving nothing behind', { skip }, async (t) => {
  const before = (await api<any[]>(base, 'GET', '/containers/json?all=1')).body.length;
  const unknown = await docker(n1, 'run', '--net', 'host', 'nosuch/image');
  t.equal(unknown.code, 125);
  t.match(unknown.stderr, "Unable to find image 'nosuch/image:latest' locally");
  t.match(unknown.stderr, 'pull access denied for nosuch/image, repository does not exist in routemesh: routemesh pulls nothing, its images are built in: nginx:latest, traefik/whoami:latest');
  const stdin = await docker(n1, 'run', '-i', '--net', 'host', 'routemesh/exec', 'sh');
  t.equal(stdin.code, 125);
  t.match(stdin.stderr, 'routemesh does not give containers a terminal or stdin (docker run -i/-t): run without -it');
  const bridge = await docker(n1, 'run', '--rm', 'routemesh/exec', 'echo', 'hi');
  t.match(bridge, { code: 0, stdout: 'hi\n' }, `on the node's default bridge network, its address from the leader ${bridge.stderr}`);
  const udp = await docker(n1, 'run', '-p', '53:53/udp', '--net', 'host', 'routemesh/exec', 'echo');
  t.match(udp.stderr, 'routemesh publishes and exposes TCP ports of standalone containers only, not 53/udp');
  const notFound = await docker(n1, 'run', '--rm', '--net', 'host', 'routemesh/exec', 'nosuchprogram');
  t.equal(notFound.code, 127, 'a program that cannot run: 127, as docker run says it');
  t.match(notFound.stderr, "routemesh/exec cannot run 'nosuchprogram': executable file not found in $PATH");
  t.equal((await api<any[]>(base, 'GET', '/containers/json?all=1')).body.length, before, 'no container was left half-made, nor the --rm one that could not start');

  const pull = await docker(n1, 'pull', 'nginx');
  t.equal(pull.code, 0);
  t.match(pull.stdout, 'Status: Image is up to date for nginx:latest');

  const images = await docker(n1, 'image', 'ls');
  t.equal(images.code, 1);
  t.match(images.stderr, /^Error response from daemon: Listing images \(docker image ls\) is not supported by routemesh \(GET \/images\/json\): its images are built in, and docker system df -v lists them\. It serves a swarm node's engine API: /);
  const exec = await docker(n1, 'exec', 'nothing', 'ls');
  t.match(exec.stderr, 'No such container: nothing', 'exec looks the container up first');
  const context = mkdtempSync(path.join(os.tmpdir(), 'routemesh-build-'));
  t.teardown(() => rmSync(context, { recursive: true, force: true }));
  writeFileSync(path.join(context, 'Dockerfile'), 'FROM scratch\n');
  const build = await run('docker', ['build', context], { ...dockerEnv(n1), DOCKER_BUILDKIT: '0' });
  t.equal(build.code, 1);
  t.match(build.stderr, 'Building images (docker build) is not supported by routemesh (POST /build): its images are built in; run a program of your own with routemesh/exec');
  for (const [method, target] of [['GET', '/v1.50/no/such/route'], ['POST', '/v1.50/containers/x/pause'], ['PUT', '/v1.50/containers/json']] as const) {
    const answer = await rawApi(base, method, target, {});
    t.equal(answer.contentType, 'application/json', `${method} ${target}: JSON`);
    t.match(answer.body.message, /is not supported by routemesh/, `${method} ${target}: says so`);
    t.notMatch(answer.body.message, /page not found|not allowed/);
  }
  t.equal((await rawApi(base, 'PUT', '/v1.50/containers/json', {})).status, 405, 'a method a route lacks: 405');
  t.match((await rawApi(base, 'PUT', '/v1.50/containers/json', {})).body.message, /: it serves GET, DELETE there$/);
});

t.test("the swarm's tasks are each node's containers, named as Swarm names them", { skip }, async (t) => {
  t.equal((await api(base, 'POST', '/services/create', serviceSpec('my-web', 'traefik/whoami', { Mode: { Replicated: { Replicas: 3 } } }))).status, 201);
  // A name with a hyphen: the tasks filter also takes an ID prefix, and a one-letter name matches my-web's ID one time in 36.
  const global = serviceSpec('every-node', 'routemesh/exec', { Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: ['sh', '-c', 'echo from-task; sleep 1000'] } } });
  t.equal((await api(base, 'POST', '/services/create', global)).status, 201);
  t.teardown(async () => {
    await api(base, 'DELETE', '/services/my-web');
    await api(base, 'DELETE', '/services/every-node');
  });
  const tasks = await waitForRunning(base, 'my-web', 3);
  const globalTasks = await waitForRunning(base, 'every-node', 2);
  let listed = 0;
  for (const node of cluster!.nodes) {
    const ps = await docker(node.address, 'ps', '--filter', 'label=com.docker.swarm.service.name=my-web', '--format', '{{.Names}}|{{.Image}}|{{.Label "com.docker.swarm.task.id"}}|{{.Label "com.docker.swarm.node.id"}}');
    const mine = tasks.filter((task) => task.NodeID === node.nodeId);
    const expected = mine.map((task) => `my-web.${task.Slot}.${task.ID}|${task.Spec.ContainerSpec.Image}|${task.ID}|${node.nodeId}`).sort();
    t.same(ps.stdout.trim().split('\n').filter(Boolean).sort(), expected, `${node.hostname} lists its own tasks of my-web`);
    listed += mine.length;
    const g = globalTasks.find((task) => task.NodeID === node.nodeId);
    const gName = `every-node.${node.nodeId}.${g.ID}`;
    t.equal((await docker(node.address, 'ps', '-q', '--filter', `name=^${gName}$`, '--no-trunc')).stdout.trim().length, 64, `${node.hostname}: a global task's container is <service>.<node id>.<task id>`);
    // Running is said as the program starts; its line reaches the log a moment later.
    const logged = await waitFor(`${gName}'s line`, async () => (await docker(node.address, 'logs', gName)).stdout || undefined);
    t.equal(logged, 'from-task\n', 'docker logs reads a task container\'s output');
    t.equal((await docker(node.address, 'inspect', '-f', '{{index .Config.Labels "com.docker.swarm.service.name"}} {{.State.Status}}', gName)).stdout, 'every-node running\n');
  }
  t.equal(listed, 3, 'every task is listed once, on its own node');
  const other = tasks.find((task) => task.NodeID === cluster!.nodes[1]!.nodeId) ?? tasks[0];
  const stop = await docker(n2, 'stop', `my-web.${other.Slot}.${other.ID}`);
  t.equal(stop.code, 1);
  t.match(stop.stderr, 'is a task of service my-web, which the swarm runs: change it with docker service scale/update/rm my-web');
});

t.test('a container on a network (ContainerNetworking double): its address, -p forwarding, events', { skip }, async (t) => {
  const address = `127.${BLOCK}.0.200`;
  const attachments: string[] = [];
  const networking: ContainerNetworking = {
    async attach(request): Promise<ContainerAttachment> {
      if (request.network !== 'mynet') throw new ApiError(404, `network ${request.network} not found`);
      attachments.push(request.containerId);
      return { networkId: 'n'.repeat(25), networkName: 'mynet', address: `127.${BLOCK + 2}.200.5`, shownAddress: '159.0.0.5', prefixLength: 24, gateway: '159.0.0.1', aliases: request.aliases };
    },
    async detach(containerId) {
      attachments.splice(attachments.indexOf(containerId), 1);
    },
  };
  const events: EngineEvent[] = [];
  const containers = new NodeContainers({
    runtime: new Runtime(), hostname: 'nodeX', address, networking, events: { record: (event) => events.push(event) },
    tasks: () => ({ tasks: [], service: () => undefined }),
  });
  t.teardown(() => containers.close());
  const server = "require('http').createServer((q, s) => s.end('at ' + process.env.HOST + ':' + process.env.PORT)).listen(process.env.PORT, process.env.HOST)";
  const config = parseCreateRequest({
    Image: 'routemesh/exec', Cmd: ['node', '-e', server],
    HostConfig: { NetworkMode: 'mynet', PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '18080' }] } },
    NetworkingConfig: { EndpointsConfig: { mynet: { Aliases: ['api'] } } },
  });
  const { Id } = containers.create('netc', config);
  const container = containers.standalone('netc');
  await container.start();
  t.same(attachments, [Id], 'attached through ContainerNetworking');
  const answer = await waitFor('the published port to answer', () => httpGet(address, 18080, '/').catch(() => undefined));
  t.equal(answer.body, `at 127.${BLOCK + 2}.200.5:8080`, '-p 18080:8080 on the node reaches the container at its own address');
  t.same(container.networks.mynet, { NetworkID: 'n'.repeat(25), IPAddress: '159.0.0.5', IPPrefixLen: 24, Gateway: '159.0.0.1', Aliases: ['api'], BindAddress: `127.${BLOCK + 2}.200.5` });
  t.same(container.ports, [{ IP: address, PrivatePort: 8080, PublicPort: 18080, Type: 'tcp' }]);
  await t.rejects(() => { containers.create('bad', { ...config, network: 'nosuch', publish: [] }); return containers.standalone('bad').start(); }, { status: 404, message: 'network nosuch not found' });
  await containers.standalone('bad').remove(false);
  const waited = container.wait('next-exit');
  await container.kill('KILL');
  t.same(await waited, { StatusCode: 137 });
  t.same(attachments, [], 'detached once it exited');
  await t.rejects(httpGet(address, 18080, '/'), 'the published port is closed with it');
  await container.remove(false);
  const mine = events.filter((e) => e.Actor.ID === Id).map((e) => `${e.Action}${e.Actor.Attributes.exitCode ? `:${e.Actor.Attributes.exitCode}` : ''}${e.Actor.Attributes.signal ? `:${e.Actor.Attributes.signal}` : ''}`);
  t.same(mine, ['create', 'start', 'kill:9', 'die:137', 'destroy']);
  t.ok(events.every((e) => e.Type === 'container' && e.scope === 'local' && e.Actor.Attributes.image === 'routemesh/exec'));
});
