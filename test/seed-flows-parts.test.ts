// Seed 001's commands that use issue 16's parts (test/fixtures/seed-commands.ts names each one's): the
// event feed, stats, system df and ps, secrets, configs, networks with docker run, volumes and mounts.
// Each runs on a swarm of its own, formed by the test cluster (the swarm commands themselves are
// test/seed-flows-reference.test.ts), nodes 127.97.0.x, tasks 127.98/16, VIPs 127.99/16.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { docker } from './support/cli.js';
import { isRoot, printed, rows, seedFlow } from './support/seeds.js';
import type { SeedFlow } from './support/seeds.js';
import { missingTool } from './support/tools.js';

const BLOCK = 97;
const skip = missingTool('docker', 'docker.io');
const TIME = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(?:Z|[+-]\\d\\d:\\d\\d)';
const CONVERGED = /^[0-9a-z]{25}\n[^]*verify: Service [0-9a-z]{25} converged\n$/;

async function swarm(t: Test): Promise<{ seed: SeedFlow; n1: string; manager: string; engines: string[] }> {
  const cluster = await testCluster(t, BLOCK);
  const engines = cluster.nodes.map((n) => n.apiUrl);
  return { seed: seedFlow(cluster.nodes.map((n) => n.address)), n1: cluster.nodes[0]!.address, manager: engines[0]!, engines };
}

/** A file of the test's own holding `text`, removed when the test ends. */
function tempFile(t: Test, name: string, text: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'routemesh-seed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Waits until `docker service logs <service>` shows `text`. */
async function logsShow(n1: string, service: string, text: string): Promise<boolean> {
  return waitFor(`${service}'s output to show ${JSON.stringify(text)}`, async () => (await docker(n1, 'service', 'logs', service)).stdout.includes(text) || undefined);
}

t.test('seed 001: docker events, its type filters, docker system events', { skip }, async (t) => {
  const { seed, n1 } = await swarm(t);
  const all = seed.follow(t, '001-01');
  const system = seed.follow(t, '001-04');
  const images = seed.follow(t, '001-02');
  const volumes = seed.follow(t, '001-03');
  // A follower prints only what happens once it is subscribed: the label changes until both have printed one.
  let n = 0;
  const nodeUpdate = new RegExp(`^${TIME} node update [0-9a-z]{25} \\((?:.*, )?name=node2(?:, .*)?\\)$`, 'm');
  await waitFor('docker events and docker system events to print a node update', async () => {
    const label = await docker(n1, 'node', 'update', '--label-add', `seen=${++n}`, 'node2');
    if (label.code !== 0) throw new Error(`node update failed: ${label.stderr}`);
    return (nodeUpdate.test(all.stdout()) && nodeUpdate.test(system.stdout())) || undefined;
  });
  t.pass('docker events and docker system events follow the feed in Docker\'s text form');
  let v = 0;
  await waitFor('a volume create to reach the type=volume follower', async () => {
    const made = await docker(n1, 'volume', 'create', `seedvol-${++v}`);
    if (made.code !== 0) throw new Error(`volume create failed: ${made.stderr}`);
    return /volume create/.test(volumes.stdout()) || undefined;
  });
  t.match(volumes.stdout(), new RegExp(`^${TIME} volume create seedvol-\\d+ \\((?:.*, )?driver=local(?:, .*)?\\)$`, 'm'), 'in Docker\'s text form');
  t.notMatch(volumes.stdout(), /node update/, '--filter type=volume shows no node events');
  t.equal(images.stdout(), '', '--filter type=image prints nothing: routemesh has no image events');
  t.same([all.child.exitCode, system.child.exitCode, images.child.exitCode, volumes.child.exitCode], [null, null, null, null], 'all four follow until stopped');
  t.equal(all.stderr() + system.stderr() + images.stderr() + volumes.stderr(), '', 'with nothing on stderr');
});

t.test('seed 001: docker ps, docker stats (streaming and --no-stream), docker system df on a node', { skip }, async (t) => {
  const { seed, n1, manager } = await swarm(t);
  const onNode1 = { Placement: { Constraints: ['node.hostname == node1'] } };
  for (const [name, spec] of [['my-web', { Image: 'nginx' }], ['busy', { Image: 'routemesh/exec', Command: ['sleep', '600'] }]] as const) {
    t.equal((await api(manager, 'POST', '/services/create', { Name: name, TaskTemplate: { ContainerSpec: spec, ...onNode1 }, Mode: { Replicated: { Replicas: 1 } } })).status, 201);
  }
  const names = [`my-web.1.${(await waitForRunning(manager, 'my-web', 1))[0].ID}`, `busy.1.${(await waitForRunning(manager, 'busy', 1))[0].ID}`];

  const ps = await seed.run('001-08');
  t.equal(ps.code, 0, ps.stderr);
  t.match(ps.stdout, /^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES\n/);
  const listed = rows(ps.stdout);
  t.same(listed.map((row) => row.at(-1)).sort(), [...names].sort(), 'node1\'s docker ps lists its two tasks, named as Swarm names their containers');
  t.ok(listed.every((row) => /^[0-9a-f]{12}$/.test(row[0]!) && /^Up /.test(row[4]!)), 'each with its container ID, Up');

  const once = await seed.run('001-06');
  t.equal(once.code, 0, once.stderr);
  t.match(once.stdout, /^CONTAINER ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET I\/O +BLOCK I\/O +PIDS\n/);
  const stat = new RegExp(`^[0-9a-f]{12} +${names[1]!.replace('.', '\\.')} +\\d+\\.\\d\\d% +[\\d.]+[KMG]?i?B \\/ [\\d.]+[KMG]?i?B +\\d+\\.\\d\\d% +\\S+ \\/ \\S+ +\\S+ \\/ \\S+ +([1-9]\\d*)$`, 'm');
  t.match(once.stdout, stat, 'the exec task\'s row: CPU, memory, network, block I/O and at least one PID');
  t.equal(rows(once.stdout).length, 2, 'one row per running container of node1');

  const streaming = seed.follow(t, '001-05');
  await printed(streaming, new RegExp(names[0]!.replace('.', '\\.')), 'docker stats to show my-web\'s container');
  t.equal(streaming.child.exitCode, null, 'docker stats streams until stopped');

  const df = await seed.run('001-07');
  t.equal(df.code, 0, df.stderr);
  t.match(df.stdout, /^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\n/);
  const table = Object.fromEntries(rows(df.stdout).map((row) => [row[0], row.slice(1)]));
  t.same(Object.keys(table), ['Images', 'Containers', 'Local Volumes', 'Build Cache']);
  t.same(table.Containers?.slice(0, 2), [String(listed.length), String(listed.length)], 'Containers: as many as docker ps lists, all active');
  t.ok(Number(table.Images?.[0]) >= 2, 'Images: nginx and routemesh/exec at least');
});

t.test('seed 001: docker secret create, and tasks reading the secret at /run/secrets/<target>', { skip: skip || (!isRoot && 'a task sees /run/secrets only as root') }, async (t) => {
  const { seed, n1, manager } = await swarm(t);
  // A whole line: as dockerd's log copier, routemesh logs a line once it ends (or the task does).
  seed.vars.secretFile = tempFile(t, 'password', 's3cret-seed\n');
  const created = await seed.run('001-23');
  t.match(created, { code: 0, stdout: /^[0-9a-z]{25}\n$/ }, `secret create prints the ID ${created.stderr}`);
  const { body: secret } = await api(manager, 'GET', '/secrets/test');
  t.match(secret, { ID: created.stdout.trim(), Spec: { Name: 'test' } });
  t.equal(secret.Spec?.Data, undefined, 'the API never returns a secret\'s value');

  const app = await seed.run('001-24');
  t.match(app, { code: 0, stdout: CONVERGED }, app.stderr);
  t.ok(await logsShow(n1, 'app', 's3cret-seed'), 'the task read the secret at /run/secrets/app_pass, named by APP_PASSWORD_FILE');
  const mysql = await seed.run('001-25');
  t.match(mysql, { code: 0, stdout: CONVERGED }, mysql.stderr);
  t.ok(await logsShow(n1, mysql.stdout.split('\n')[0]!, 's3cret-seed'), 'MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_pass names the secret, as in the seed');
});

t.test('seed 001: docker config create, and a task reading the config at its target', { skip: skip || (!isRoot && 'a task sees a config target only as root') }, async (t) => {
  const { seed, n1, manager } = await swarm(t);
  const text = 'listen 8080\n';
  seed.vars.configFile = tempFile(t, 'seed.conf', text);
  const created = await seed.run('001-26');
  t.match(created, { code: 0, stdout: /^[0-9a-z]{25}\n$/ }, `config create prints the ID ${created.stderr}`);
  t.match((await api(manager, 'GET', '/configs/seedconf')).body, { ID: created.stdout.trim(), Spec: { Name: 'seedconf', Data: Buffer.from(text).toString('base64') } },
    'config inspect shows the value base64-encoded');
  const conf = await seed.run('001-27');
  t.match(conf, { code: 0, stdout: CONVERGED }, conf.stderr);
  t.ok(await logsShow(n1, 'conf', 'listen 8080'), 'the task read the config at /seed.conf');
});

t.test('seed 001: network create --subnet 159.0.0.0/24 -d overlay and -d bridge, docker run --net on each', { skip }, async (t) => {
  const { seed, n1, manager } = await swarm(t);
  const overlay = await seed.run('001-36');
  t.match(overlay, { code: 0, stdout: /^[0-9a-z]{25}\n$/ }, `network create -d overlay prints the ID ${overlay.stderr}`);
  t.match((await api(manager, 'GET', '/networks/mynet')).body, { Name: 'mynet', Driver: 'overlay', Scope: 'swarm', Attachable: false, IPAM: { Config: [{ Subnet: '159.0.0.0/24' }] } },
    'mynet: overlay, swarm scope, the subnet as given');
  const bridge = await seed.run('001-37');
  t.match(bridge, { code: 0, stdout: /^[0-9a-f]{64}\n$/ }, `network create -d bridge prints the ID ${bridge.stderr}`);
  t.match((await api(manager, 'GET', '/networks/mybr')).body, { Name: 'mybr', Driver: 'bridge', Scope: 'local', IPAM: { Config: [{ Subnet: '159.0.0.0/24' }] } });
  const ls = rows((await docker(n1, 'network', 'ls')).stdout).map((row) => row.slice(1).join(' '));
  t.ok(['mynet overlay swarm', 'mybr bridge local', 'ingress overlay swarm'].every((line) => ls.includes(line)), `network ls lists both beside ingress: ${ls.join('; ')}`);

  // The seed's mynet has no --attachable: Docker refuses a standalone container on it, and so does routemesh.
  const refused = await seed.run('001-38');
  t.equal(refused.code, 125);
  t.match(refused.stderr, /^docker: Error response from daemon: Could not attach to network mynet: rpc error: code = PermissionDenied desc = network mynet not manually attachable\.?\n/m);

  const running = seed.follow(t, '001-39');
  const container = await waitFor('the container on mybr to run', async () => {
    const { body } = await api<any[]>(manager, 'GET', `/containers/json?filters=${encodeURIComponent('{"network":["mybr"]}')}`);
    return Array.isArray(body) ? body.find((c) => c.State === 'running' && /^nginx(:latest)?$/.test(c.Image)) : undefined;
  });
  const { body: inspected } = await api(manager, 'GET', `/containers/${container.Id}/json`);
  t.match(inspected.NetworkSettings.Networks.mybr.IPAddress, /^159\.0\.0\.\d+$/, 'its address on mybr is in the subnet as given');
  t.equal(running.child.exitCode, null, 'the foreground docker run goes on while the container runs');
  t.equal((await api(manager, 'POST', `/containers/${container.Id}/stop`)).status, 204);
  const code = await running.exited;
  t.equal(code, (await api(manager, 'GET', `/containers/${container.Id}/json`)).body.State.ExitCode, 'docker run returns the container\'s exit code once it stops');
});

t.test('seed 001: --mount type=volume and type=bind, applied for exec tasks', { skip: skip || (!isRoot && 'mounts need root') }, async (t) => {
  const { seed, n1, engines } = await swarm(t);
  seed.vars.hostDir = path.dirname(tempFile(t, 'hello', 'from the host\n'));
  chmodSync(seed.vars.hostDir, 0o755); // the task runs as nobody (a container as root): mkdtemp's 0700 would keep it out
  const [vol, bind] = await Promise.all([seed.run('001-40'), seed.run('001-41')]);
  t.match(vol, { code: 0, stdout: CONVERGED }, vol.stderr);
  t.match(bind, { code: 0, stdout: CONVERGED }, bind.stderr);
  // A volume is its node's, as in Docker: the one whose engine ran the task (the two services are made
  // at once, so which node that is varies).
  const volume = await waitFor('the volume on the node of its task', async () => {
    for (const engine of engines) {
      const { status, body } = await api(engine, 'GET', '/volumes/seedvol');
      if (status === 200) return body;
    }
    return undefined;
  });
  t.match(volume, { Name: 'seedvol', Driver: 'local', Mountpoint: /^\// }, 'the named volume was made on use');
  t.equal(await waitFor('the task to write into the volume', () => {
    try { return readFileSync(path.join(volume.Mountpoint, 'by-task'), 'utf8'); } catch { return undefined; }
  }), 'written\n', 'what the task wrote to /data is in the volume');
  t.ok(await logsShow(n1, 'bind', 'from the host'), 'the task read the host directory at /data');
});
