// The real docker CLI (28.2.2, client only) drives a bare routemesh cluster the way the seed tutorials drive
// three fresh VMs: `swarm init` on node1, `swarm join` sent to each joining node's own engine, then services
// (create, scale, ps, ls, inspect, update, rollback, rm, logs), nodes (drain, labels, promote/demote,
// inspect, leave, rm) and Swarm's error messages. Every command runs as
// `DOCKER_HOST=tcp://<node address>:2375 docker ...`; its exit code and the key lines of its output are
// checked against seed-transcript.md (IDs, tokens and times by pattern), and the state it leaves through
// the engine API or through the routing mesh.
// Without a TTY the CLI prints each `overall progress` / `verify` line again on every poll, so only the key
// lines are asserted. Services get `--update-monitor 500ms --rollback-monitor 500ms`: the CLI's verify wait
// is the service's monitor (5 s without one), and a monitor longer than two of the CLI's 200 ms polls keeps
// an update from completing between two polls, which makes the CLI return silently (SPEC.md §4).
import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import t from 'tap';
import type { Test } from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { connectAndWait, echoConnection, httpGet } from './support/net.js';
import { deadline } from './support/dns.js';
import { docker, dockerEnv, run } from './support/cli.js';
import type { CliResult } from './support/cli.js';
import { missingTool, requireTool } from './support/tools.js';

const BLOCK = 193; // nodes 127.193.0.x, tasks 127.194/16, VIPs 127.195/16
const SEED_003_BLOCK = 101; // the five-engine cluster of seed 003: 127.101-103

const NOT_IN_SWARM = 'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.';
const WORKER = "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.";
const LAST_MANAGER = 'You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.';
const BAD_TOKEN = 'rpc error: code = InvalidArgument desc = A valid join token is necessary to join this cluster';
const FAST = ['--update-monitor', '500ms', '--rollback-monitor', '500ms'];


/**
 * `docker ...args` on a terminal 150 columns wide (the CLI draws progress bars only past 110), through
 * util-linux's `script`; resolves with what the terminal shows at the end.
 */
async function dockerOnTerminal(address: string, ...args: string[]): Promise<CliResult & { screen: string[] }> {
  const quoted = ['docker', ...args].map((arg) => `'${arg.replace(/'/g, "'\\''")}'`).join(' ');
  const result = await run('script', ['-qfec', `stty cols 150 rows 50; exec ${quoted}`, '/dev/null'], dockerEnv(address));
  return { ...result, screen: screen(result.stdout) };
}

/** The lines a terminal shows after `output`: as much of VT100 as the CLI uses (CR, LF, cursor up/down, erase line). */
function screen(output: string): string[] {
  const rows = [''];
  let row = 0;
  let column = 0;
  for (const [token, count, op] of output.matchAll(/\x1b\[[?]?(\d*)[;\d]*([A-Za-z])|\r|\n|[^\x1b\r\n]+/g)) {
    if (token === '\r') column = 0;
    else if (token === '\n') row++;
    else if (op === 'A') row -= Number(count || 1);
    else if (op === 'B') row += Number(count || 1);
    else if (op === 'K') rows[row] = '';
    else if (op === undefined) {
      const line = rows[row]!.padEnd(column);
      rows[row] = line.slice(0, column) + token + line.slice(column + token.length);
      column += token.length;
    }
    while (rows.length <= row) rows.push('');
  }
  const shown = rows.map((line) => line.trimEnd());
  while (shown.at(-1) === '') shown.pop();
  return shown;
}

// Only the client is needed, no Docker daemon (Debian 12's docker.io brings both; Debian 13 has docker-cli).
const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { bare: true });

const lines = (text: string): string[] => text.trimEnd().split('\n');
const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A command Swarm refuses: exit code 1, and exactly its message on stderr. */
async function refused(t: Test, address: string, args: string[], stderr: string, what?: string): Promise<void> {
  const result = await docker(address, ...args);
  t.equal(result.code, 1, what ?? `docker ${args.join(' ')} is refused`);
  t.equal(result.stderr, stderr);
}

/** A service's tasks through the API: what the CLI's tables are checked against. */
async function tasksOf(base: string, service: string): Promise<any[]> {
  return (await api<any[]>(base, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: { [service]: true } }))}`)).body;
}

async function nodeIds(base: string): Promise<Record<string, string>> {
  const { body } = await api<any[]>(base, 'GET', '/nodes');
  return Object.fromEntries(body.map((n) => [n.Description.Hostname, n.ID]));
}

async function settled(): Promise<void> {
  await Promise.all(cluster!.engines.map((e) => e.mesh?.settled()));
}

/** nginx names its version on its error pages: which tasks a node's port 8080 reaches, over six connections. */
async function nginxVersions(address: string): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const { status, body } = await httpGet(address, 8080, '/no-such-page');
    seen.add(status === 404 ? /nginx\/([\d.]+)/.exec(body)?.[1] ?? body : `status ${status}`);
  }
  return seen;
}

t.test('forming the swarm like three fresh VMs: init, join-token, join on each engine, refused tokens, rotation, node ls', { skip }, async (t) => {
  const [n1, n2, n3] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;

  await refused(t, n1, ['node', 'ls'], `Error response from daemon: ${NOT_IN_SWARM}\n`, 'node ls before init fails');

  const init = await docker(n1, 'swarm', 'init', '--advertise-addr', n1);
  t.equal(init.code, 0, init.stderr);
  const initOut = /^Swarm initialized: current node \(([0-9a-z]{25})\) is now a manager\.\n\nTo add a worker to this swarm, run the following command:\n\n {4}docker swarm join --token (SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}) (\S+)\n\nTo add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions\.\n/.exec(init.stdout);
  t.ok(initOut, `swarm init prints the node, the worker join command and the manager hint:\n${init.stdout}`);
  if (!initOut) return;
  const [, node1Id, workerToken, joinAddr] = initOut as unknown as [string, string, string, string];
  t.equal(node1Id, cluster!.nodes[0]!.nodeId, "the ID printed is node1's");
  t.equal(joinAddr, `${n1}:2377`, 'the join command names node1:2377');
  const caPart = workerToken.slice(0, workerToken.lastIndexOf('-'));

  const quiet = await docker(n1, 'swarm', 'join-token', '-q', 'worker');
  t.equal(quiet.code, 0, quiet.stderr);
  t.equal(quiet.stdout, `${workerToken}\n`, 'join-token -q worker prints the same token alone');

  const managerHint = await docker(n1, 'swarm', 'join-token', 'manager');
  t.equal(managerHint.code, 0, managerHint.stderr);
  const managerOut = new RegExp(`^To add a manager to this swarm, run the following command:\\n\\n {4}docker swarm join --token (${escape(caPart)}-[0-9a-z]{25}) ${escape(n1)}:2377\\n`).exec(managerHint.stdout);
  t.ok(managerOut, `join-token manager prints the manager command:\n${managerHint.stdout}`);
  t.not(managerOut?.[1], workerToken, 'the manager token is not the worker token');

  // Wrong tokens, sent to node2's own engine: refused, and node2 stays out of the swarm.
  const malformed = await docker(n2, 'swarm', 'join', '--token', 'SWMTKN-1-bogus', `${n1}:2377`);
  t.equal(malformed.code, 1, 'a malformed token is refused');
  t.match(malformed.stderr, /^Error response from daemon: .*invalid join token\n$/);
  const forged = `${caPart}-${'a'.repeat(25)}`;
  await refused(t, n2, ['swarm', 'join', '--token', forged, `${n1}:2377`], `Error response from daemon: ${BAD_TOKEN}\n`, 'a well-formed token with the wrong secret is refused');
  t.equal((await api(cluster!.nodes[1]!.apiUrl, 'GET', '/info')).body.Swarm.LocalNodeState, 'inactive', 'node2 did not join');

  const join2 = await docker(n2, 'swarm', 'join', '--token', workerToken, `${n1}:2377`);
  t.equal(join2.code, 0, join2.stderr);
  t.equal(join2.stdout, 'This node joined a swarm as a worker.\n');

  const rotate = await docker(n1, 'swarm', 'join-token', '--rotate', 'worker');
  t.equal(rotate.code, 0, rotate.stderr);
  const rotated = new RegExp(`^Successfully rotated worker join token\\.\\n\\nTo add a worker to this swarm, run the following command:\\n\\n {4}docker swarm join --token (${escape(caPart)}-[0-9a-z]{25}) ${escape(n1)}:2377\\n`).exec(rotate.stdout);
  t.ok(rotated, `join-token --rotate worker prints the new command:\n${rotate.stdout}`);
  const newToken = rotated?.[1] ?? '';
  t.not(newToken, workerToken, 'the worker token changed');
  t.equal((await docker(n1, 'swarm', 'join-token', '-q', 'worker')).stdout, `${newToken}\n`, 'join-token -q prints the new one');

  await refused(t, n3, ['swarm', 'join', '--token', workerToken, `${n1}:2377`], `Error response from daemon: ${BAD_TOKEN}\n`, 'the token from before the rotation is refused');
  const join3 = await docker(n3, 'swarm', 'join', '--token', newToken, `${n1}:2377`);
  t.equal(join3.code, 0, join3.stderr);
  t.equal(join3.stdout, 'This node joined a swarm as a worker.\n');

  const ls = await docker(n1, 'node', 'ls');
  t.equal(ls.code, 0, ls.stderr);
  const ids = await nodeIds(manager);
  const rows = lines(ls.stdout);
  t.equal(rows.length, 4, ls.stdout);
  t.match(rows[0], /^ID {28}HOSTNAME {3}STATUS {4}AVAILABILITY {3}MANAGER STATUS {3}ENGINE VERSION$/);
  t.match(rows[1], new RegExp(`^${node1Id} \\* +node1 +Ready +Active +Leader +28\\.2\\.2$`), 'node1: this node, Leader');
  t.match(rows[2], new RegExp(`^${ids.node2} +node2 +Ready +Active {10,}28\\.2\\.2$`), 'node2: a Ready worker');
  t.match(rows[3], new RegExp(`^${ids.node3} +node3 +Ready +Active {10,}28\\.2\\.2$`), 'node3: a Ready worker');
});

t.test('services: create, scale to 6, ps, the mesh, ls, inspect --pretty, update, rollback, rm', { skip }, async (t) => {
  const [, , n3] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;
  const n1 = cluster!.nodes[0]!.address;

  const create = await docker(n1, 'service', 'create', '--name', 'my-web', '--publish', 'published=8080,target=80', '--replicas', '1', ...FAST, 'nginx');
  t.equal(create.code, 0, create.stderr);
  t.equal(create.stderr, '', 'no warning (the image digest was resolved)');
  const out = lines(create.stdout);
  const id = out[0]!;
  t.match(id, /^[0-9a-z]{25}$/, 'the service ID first');
  t.ok(out.includes('overall progress: 1 out of 1 tasks'), create.stdout);
  t.equal(out.at(-1), `verify: Service ${id} converged`, 'converged, named by ID as create does');
  t.equal((await api(manager, 'GET', '/services/my-web')).body.ID, id);

  const scale = await docker(n1, 'service', 'scale', 'my-web=6');
  t.equal(scale.code, 0, scale.stderr);
  const scaled = lines(scale.stdout);
  t.equal(scaled[0], 'my-web scaled to 6');
  t.ok(scaled.includes('overall progress: 6 out of 6 tasks'), scale.stdout);
  t.equal(scaled.at(-1), 'verify: Service my-web converged', 'converged, named as typed');

  const ps = await docker(n1, 'service', 'ps', 'my-web');
  t.equal(ps.code, 0, ps.stderr);
  const [header, ...rows] = lines(ps.stdout);
  t.match(header, /^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS$/);
  t.equal(rows.length, 6, ps.stdout);
  const parsed = rows.map((r) => /^[0-9a-z]{12} +(my-web\.\d) +nginx:latest +(node[1-3]) +Running +Running /.exec(r));
  t.ok(parsed.every(Boolean), `six Running rows:\n${ps.stdout}`);
  t.same(parsed.map((m) => m?.[1]).sort(), ['my-web.1', 'my-web.2', 'my-web.3', 'my-web.4', 'my-web.5', 'my-web.6']);
  for (const node of ['node1', 'node2', 'node3']) t.equal(parsed.filter((m) => m?.[2] === node).length, 2, `two tasks on ${node}`);

  await settled();
  const page = await httpGet(n3, 8080);
  t.equal(page.status, 200, "node3's port 8080 reaches the service through the mesh");
  t.match(page.body, /<h1>Welcome to nginx!<\/h1>/);

  const ls = await docker(n1, 'service', 'ls');
  t.equal(ls.code, 0, ls.stderr);
  t.match(lines(ls.stdout), [/^ID +NAME +MODE +REPLICAS +IMAGE +PORTS$/, new RegExp(`^${id.slice(0, 12)} +my-web +replicated +6/6 +nginx:latest +\\*:8080->80/tcp$`)]);
  t.equal(lines(ls.stdout).length, 2, ls.stdout);

  const pretty = await docker(n1, 'service', 'inspect', '--pretty', 'my-web');
  t.equal(pretty.code, 0, pretty.stderr);
  for (const line of [`ID:\t\t${id}`, 'Name:\t\tmy-web', 'Service Mode:\tReplicated', ' Replicas:\t6', 'Ports:', ' PublishedPort = 8080', '  Protocol = tcp', '  TargetPort = 80']) {
    t.ok(lines(pretty.stdout).includes(line), `inspect --pretty: ${JSON.stringify(line)}`);
  }
  t.match(pretty.stdout, /^ Image:\t\tnginx:latest@sha256:[0-9a-f]{64}$/m);
  t.match(pretty.stdout, /^  PublishMode = ingress ?$/m);

  const update = await docker(n1, 'service', 'update', '--update-parallelism', '1', '--update-delay', '100ms', '--update-order', 'start-first', '--image', 'nginx:1.25', 'my-web');
  t.equal(update.code, 0, update.stderr);
  const updated = lines(update.stdout);
  t.equal(updated[0], 'my-web');
  t.ok(updated.includes('overall progress: 6 out of 6 tasks'), update.stdout);
  t.equal(updated.at(-1), 'verify: Service my-web converged');
  await waitFor('the update to complete', async () => (await api(manager, 'GET', '/services/my-web')).body.UpdateStatus?.State === 'completed');
  await waitFor("node3's port 8080 to reach only nginx 1.25 tasks", async () => [...await nginxVersions(n3)].join() === '1.25.5');
  const prettyUpdated = await docker(n1, 'service', 'inspect', '--pretty', 'my-web');
  t.match(prettyUpdated.stdout, /^UpdateStatus:\n State:\t\tcompleted\n Started:\t.+\n Completed:\t.+\n Message:\tupdate completed$/m, 'inspect --pretty: the update completed');
  t.match(prettyUpdated.stdout, /^ Update order: +start-first$/m);
  const psUpdated = await docker(n1, 'service', 'ps', 'my-web');
  t.equal(psUpdated.stdout.match(/^[0-9a-z]{12} +my-web\.\d +nginx:1\.25 +node\d +Running +Running /gm)?.length, 6, psUpdated.stdout);
  t.equal(psUpdated.stdout.match(/^[0-9a-z]{12} +\\_ my-web\.\d +nginx:latest +node\d +Shutdown /gm)?.length, 6, 'the old tasks, indented under their slots');

  const rollback = await docker(n1, 'service', 'rollback', 'my-web');
  t.equal(rollback.code, 0, rollback.stderr);
  const rolled = lines(rollback.stdout);
  t.equal(rolled[0], 'my-web');
  t.ok(rolled.includes('rollback: manually requested rollback'), rollback.stdout);
  t.ok(rolled.includes('overall progress: rolling back update: 6 out of 6 tasks'), rollback.stdout);
  t.ok(rolled.includes('verify: Service my-web converged'), rollback.stdout);
  await waitFor('the rollback to complete', async () => (await api(manager, 'GET', '/services/my-web')).body.UpdateStatus?.State === 'rollback_completed');
  // Swarm counts every task in state running, so REPLICAS reads more than 6/6 until the replaced tasks have stopped.
  await waitFor('service ls to show 6/6 on nginx:latest', async () =>
    / +my-web +replicated +6\/6 +nginx:latest +\*:8080->80\/tcp\n/.test((await docker(n1, 'service', 'ls')).stdout));
  await waitFor("node3's port 8080 to reach only nginx:latest (1.27.3) tasks again", async () => [...await nginxVersions(n3)].join() === '1.27.3');
  const inspect = await docker(n1, 'service', 'inspect', 'my-web');
  t.equal(inspect.code, 0, inspect.stderr);
  const [service] = JSON.parse(inspect.stdout) as any[];
  t.match(service, {
    ID: id,
    Spec: {
      Name: 'my-web',
      TaskTemplate: { ContainerSpec: { Image: /^nginx:latest@sha256:[0-9a-f]{64}$/, StopGracePeriod: 10_000_000_000 }, RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 } },
      Mode: { Replicated: { Replicas: 6 } },
    },
    PreviousSpec: { TaskTemplate: { ContainerSpec: { Image: /^nginx:1\.25@sha256:/ } } },
    Endpoint: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }], VirtualIPs: [{ Addr: /^127\.195\.\d+\.\d+\/16$/ }] },
    UpdateStatus: { State: 'rollback_completed', Message: 'rollback completed' },
  }, 'inspect (with defaults): the rolled-back spec, the one it replaced, the VIP from 127.195/16');
  t.match((await docker(n1, 'service', 'inspect', '--pretty', 'my-web')).stdout, /^UpdateStatus:\n State:\t\trollback_completed\n Started:\t.+\n Message:\trollback completed$/m, 'inspect --pretty: the rollback completed');

  const rm = await docker(n1, 'service', 'rm', 'my-web');
  t.equal(rm.code, 0, rm.stderr);
  t.equal(rm.stdout, 'my-web\n');
  t.same((await api(manager, 'GET', '/services')).body, [], 'no service left');
  t.equal(lines((await docker(n1, 'service', 'ls')).stdout).length, 1, 'service ls: the header alone');
  for (const node of cluster!.nodes) {
    await waitFor(`port 8080 of ${node.hostname} to close`, async () => (await connectAndWait(node.address, 8080, 200)) === 'refused');
  }
});

t.test("errors with Swarm's messages", { skip }, async (t) => {
  const [n1, n2] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;

  const create = await docker(n1, 'service', 'create', '--detach', '--name', 'my-web', '--publish', 'published=8080,target=80', ...FAST, 'nginx');
  t.equal(create.code, 0, create.stderr);
  const id = create.stdout.trim();
  t.match(id, /^[0-9a-z]{25}$/, '--detach: the ID alone');

  await refused(t, n1, ['service', 'create', '--name', 'my-web', 'nginx'], 'Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service my-web already exists\n', 'a second service named my-web is refused');

  await refused(t, n1, ['service', 'create', '--name', 'other', '--publish', 'published=8080,target=80', 'nginx'], `Error response from daemon: rpc error: code = InvalidArgument desc = port '8080' is already in use by service 'my-web' (${id}) as an ingress port\n`, 'a published port another service holds is refused');
  t.same((await api<any[]>(manager, 'GET', '/services')).body.map((s) => s.Spec.Name), ['my-web'], 'neither refused service was created');

  await refused(t, n2, ['node', 'ls'], `Error response from daemon: ${WORKER}\n`, 'node ls on a worker is refused');

  await refused(t, n1, ['swarm', 'leave'], `Error response from daemon: ${LAST_MANAGER}\n`, 'the last manager does not leave without --force');
  t.equal((await docker(n1, 'node', 'ls')).code, 0, 'node1 is still the manager');

  await refused(t, n1, ['service', 'rollback', 'my-web'], `Error response from daemon: rpc error: code = FailedPrecondition desc = service ${id} does not have a previous spec\n`, 'a service never updated has nothing to roll back to');

  const ids = await nodeIds(manager);
  await refused(t, n1, ['node', 'rm', 'node3'], `Error response from daemon: rpc error: code = FailedPrecondition desc = node ${ids.node3} is not down and can't be removed\n`, 'a node that is not down is not removed');
  t.match((await docker(n1, 'node', 'ls')).stdout, / node3 +Ready +Active /, 'node3 is still listed, Ready');

  await refused(t, n1, ['node', 'rm', 'node1'], `Error response from daemon: rpc error: code = FailedPrecondition desc = node ${ids.node1} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal\n`, 'a manager is not removed');
  await refused(t, n1, ['node', 'demote', 'node1'], 'Error response from daemon: rpc error: code = FailedPrecondition desc = attempting to demote the last manager of the swarm\n', 'the last manager is not demoted');

  const ALREADY = 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.\n';
  await refused(t, n1, ['swarm', 'init', '--advertise-addr', n1], ALREADY, 'init on a node in a swarm is refused');
  const token = (await docker(n1, 'swarm', 'join-token', '-q', 'worker')).stdout.trim();
  await refused(t, n2, ['swarm', 'join', '--token', token, `${n1}:2377`], ALREADY, 'join on a node in a swarm is refused');

  // Unknown names, each with the message the CLI prints for it.
  await refused(t, n1, ['service', 'scale', 'nosuch=2'], 'nosuch: Error response from daemon: service nosuch not found\n');
  await refused(t, n1, ['service', 'ps', 'nosuch'], 'no such service: nosuch\n');
  const inspect = await docker(n1, 'service', 'inspect', 'nosuch');
  t.equal(inspect.code, 1);
  t.equal(inspect.stdout, '[]\n');
  t.equal(inspect.stderr, 'Error: no such service: nosuch\n');
  await refused(t, n1, ['node', 'inspect', 'nosuch'], 'Error response from daemon: node nosuch not found\n');
  await refused(t, n1, ['service', 'rm', 'nosuch'], 'Error response from daemon: service nosuch not found\n');

  const rm = await docker(n1, 'service', 'rm', 'my-web');
  t.equal(rm.stdout, 'my-web\n', rm.stderr);
});

t.test('nodes: drain, labels, promote/demote, inspect --pretty, a worker leaving and being removed', { skip }, async (t) => {
  const [n1, n2, n3] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;
  const ids = await nodeIds(manager);

  const create = await docker(n1, 'service', 'create', '--detach', '--name', 'web', '--replicas', '6', 'nginx');
  t.equal(create.code, 0, create.stderr);
  const tasks = await waitForRunning(manager, 'web', 6);
  t.equal(tasks.filter((task) => task.NodeID === ids.node3).length, 2, 'node3 runs two of the six tasks');

  const drain = await docker(n1, 'node', 'update', '--availability', 'drain', 'node3');
  t.equal(drain.code, 0, drain.stderr);
  t.equal(drain.stdout, 'node3\n');
  await waitFor('no task running on node3, six running elsewhere', async () => {
    const all = await tasksOf(manager, 'web');
    const running = all.filter((task) => task.Status.State === 'running');
    return running.length === 6 && running.every((task) => task.NodeID !== ids.node3);
  });
  const ps = await docker(n1, 'service', 'ps', '--filter', 'desired-state=running', 'web');
  t.equal(ps.code, 0, ps.stderr);
  const rows = lines(ps.stdout).slice(1);
  t.equal(rows.length, 6, ps.stdout);
  t.ok(rows.every((r) => /^[0-9a-z]{12} +web\.\d +nginx:latest +node[12] +Running +Running /.test(r)), `every task Running on node1 or node2:\n${ps.stdout}`);
  t.match((await docker(n1, 'node', 'ls')).stdout, new RegExp(`^${ids.node3} +node3 +Ready +Drain `, 'm'), 'node ls: node3 Drain');
  const active = await docker(n1, 'node', 'update', '--availability', 'active', 'node3');
  t.equal(active.stdout, 'node3\n', active.stderr);
  t.equal((await api(manager, 'GET', '/nodes/node3')).body.Spec.Availability, 'active');

  const label = await docker(n1, 'node', 'update', '--label-add', 'zone=east', 'node2');
  t.equal(label.code, 0, label.stderr);
  t.equal(label.stdout, 'node2\n');
  t.same((await api(manager, 'GET', '/nodes/node2')).body.Spec.Labels, { zone: 'east' });
  const east = await docker(n1, 'service', 'create', '--detach', '--name', 'east', '--constraint', 'node.labels.zone == east', '--replicas', '2', 'nginx');
  t.equal(east.code, 0, east.stderr);
  const eastTasks = await waitForRunning(manager, 'east', 2);
  t.ok(eastTasks.every((task) => task.NodeID === ids.node2), 'node.labels.zone == east: both tasks on node2');
  t.equal((await docker(n1, 'service', 'rm', 'east')).stdout, 'east\n');

  const pause = await docker(n1, 'node', 'update', '--availability', 'pause', 'node1');
  t.equal(pause.stdout, 'node1\n', pause.stderr);
  t.match((await docker(n1, 'node', 'ls')).stdout, new RegExp(`^${ids.node1} \\* +node1 +Ready +Pause +Leader `, 'm'), 'node ls: node1 Pause');
  t.equal((await docker(n1, 'node', 'update', '--availability', 'active', 'node1')).stdout, 'node1\n');

  const promote = await docker(n1, 'node', 'promote', 'node2');
  t.equal(promote.code, 0, promote.stderr);
  t.equal(promote.stdout, 'Node node2 promoted to a manager in the swarm.\n');
  t.match((await docker(n1, 'node', 'ls')).stdout, new RegExp(`^${ids.node2} +node2 +Ready +Active +Reachable +28\\.2\\.2$`, 'm'), 'node2 Reachable');
  const fromNode2 = await docker(n2, 'node', 'ls');
  t.equal(fromNode2.code, 0, `node2's own engine now answers node ls: ${fromNode2.stderr}`);
  t.match(fromNode2.stdout, new RegExp(`^${ids.node2} \\* +node2 `, 'm'), 'and marks node2 as itself');

  const pretty = await docker(n1, 'node', 'inspect', '--pretty', 'node2');
  t.equal(pretty.code, 0, pretty.stderr);
  for (const re of [
    new RegExp(`^ID:\\s+${ids.node2}$`), /^Labels:$/, /^ - zone=east$/, /^Hostname:\s+node2$/, /^Joined at:\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/,
    /^ State:\s+Ready$/, /^ Availability:\s+Active$/, new RegExp(`^ Address:\\s+${escape(n2)}$`), /^Manager Status:$/,
    new RegExp(`^ Address:\\s+${escape(n2)}:2377$`), /^ Raft Status:\s+Reachable$/, /^ Leader:\s+No$/, /^Engine Version:\s+28\.2\.2$/,
  ]) t.ok(lines(pretty.stdout).some((l) => re.test(l)), `inspect --pretty: ${re}`);
  // TLS Info: the swarm's root CA, whose PEM's SHA-256 is the digest part of the join tokens.
  const tls = /^TLS Info:\n TrustRoot:\n(-----BEGIN CERTIFICATE-----\n[^]+?-----END CERTIFICATE-----\n)\n Issuer Subject:\tMBMxETAPBgNVBAMTCHN3YXJtLWNh\n Issuer Public Key:\t([A-Za-z0-9+/]+=*)\n$/m.exec(pretty.stdout);
  t.ok(tls, `inspect --pretty: the TLS Info section\n${pretty.stdout}`);
  if (tls) {
    const ca = new X509Certificate(tls[1]!);
    t.equal(ca.subject, 'CN=swarm-ca');
    t.ok(ca.ca && ca.verify(ca.publicKey), 'TrustRoot: a self-signed CA certificate');
    t.ok(createPublicKey({ key: Buffer.from(tls[2]!, 'base64'), format: 'der', type: 'spki' }).equals(ca.publicKey), 'Issuer Public Key: its key');
    const digest = BigInt(`0x${createHash('sha256').update(tls[1]!).digest('hex')}`).toString(36).padStart(50, '0');
    const token = (await docker(n1, 'swarm', 'join-token', '-q', 'worker')).stdout.trim();
    t.equal(token.split('-')[2], digest, "the join token's digest part is the CA's");
  }

  const demote = await docker(n1, 'node', 'demote', 'node2');
  t.equal(demote.code, 0, demote.stderr);
  t.equal(demote.stdout, 'Manager node2 demoted in the swarm.\n');
  const demoteAgain = await docker(n1, 'node', 'demote', 'node2');
  t.equal(demoteAgain.code, 0, demoteAgain.stderr);
  t.equal(demoteAgain.stdout, `Node ${ids.node2} is already a worker.\n`);
  t.equal((await docker(n2, 'node', 'ls')).stderr, `Error response from daemon: ${WORKER}\n`, 'node2 is a worker again');

  const leave = await docker(n3, 'swarm', 'leave');
  t.equal(leave.code, 0, leave.stderr);
  t.equal(leave.stdout, 'Node left the swarm.\n');
  const down = await docker(n1, 'node', 'ls');
  t.match(down.stdout, new RegExp(`^${ids.node3} +node3 +Down +Active {10,}28\\.2\\.2$`, 'm'), `node3 stays listed, Down:\n${down.stdout}`);
  t.equal(lines(down.stdout).length, 4);
  const rm = await docker(n1, 'node', 'rm', 'node3');
  t.equal(rm.code, 0, rm.stderr);
  t.equal(rm.stdout, 'node3\n');
  const after = await docker(n1, 'node', 'ls');
  t.equal(lines(after.stdout).length, 3, `node3 is gone:\n${after.stdout}`);
  t.notMatch(after.stdout, / node3 /);

  // node3 joins again, as a new node, for the global service of the next test.
  const token = (await docker(n1, 'swarm', 'join-token', '-q', 'worker')).stdout.trim();
  const rejoin = await docker(n3, 'swarm', 'join', '--token', token, `${n1}:2377`);
  t.equal(rejoin.stdout, 'This node joined a swarm as a worker.\n', rejoin.stderr);
  const rejoined = await nodeIds(manager);
  t.ok(rejoined.node3 && rejoined.node3 !== ids.node3, 'node3 is back, with a new ID');
  t.equal((await docker(n1, 'service', 'rm', 'web')).stdout, 'web\n');
});

t.test('a global service and a service with health checks', { skip }, async (t) => {
  const [n1, , n3] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;
  const ids = await nodeIds(manager);

  const global = await docker(n1, 'service', 'create', '--name', 'study', '--mode', 'global', ...FAST, 'nginx');
  t.equal(global.code, 0, global.stderr);
  const out = lines(global.stdout);
  const id = out[0]!;
  t.match(id, /^[0-9a-z]{25}$/);
  t.ok(out.includes('overall progress: 3 out of 3 tasks'), global.stdout);
  t.equal(out.at(-1), `verify: Service ${id} converged`);
  const ps = await docker(n1, 'service', 'ps', 'study');
  t.equal(ps.code, 0, ps.stderr);
  const rows = lines(ps.stdout).slice(1).map((r) => /^[0-9a-z]{12} +study\.([0-9a-z]{25}) +nginx:latest +(node[1-3]) +Running +Running /.exec(r));
  t.equal(rows.length, 3, ps.stdout);
  t.same(rows.map((m) => m?.[2]).sort(), ['node1', 'node2', 'node3'], 'one task on each node');
  t.ok(rows.every((m) => m && ids[m[2]!] === m[1]), 'each named study.<its node ID>');
  t.match((await docker(n1, 'service', 'ls')).stdout, new RegExp(`^${id.slice(0, 12)} +study +global +3/3 +nginx:latest +$`, 'm'));
  await refused(t, n1, ['service', 'scale', 'study=2'], 'study: scale can only be used with replicated or replicated-job mode\n', 'a global service does not scale');

  const health = await docker(n1, 'service', 'create', '--name', 'simple', '--replicas', '3', '--publish', 'published=5000,target=5000',
    '--health-cmd', 'curl -f http://localhost:5000/health', '--health-timeout=3s', '--health-retries=3', '--health-interval=200ms', '--health-start-period=1s',
    ...FAST, 'madvirus/simplenode:0.2');
  t.equal(health.code, 0, health.stderr);
  const healthOut = lines(health.stdout);
  t.ok(healthOut.includes('overall progress: 3 out of 3 tasks'), health.stdout);
  t.equal(healthOut.at(-1), `verify: Service ${healthOut[0]} converged`);
  const tasks = (await tasksOf(manager, 'simple')).filter((task) => task.DesiredState === 'running');
  t.equal(tasks.length, 3);
  t.ok(tasks.every((task) => task.Status.State === 'running' && task.Status.Health === 'healthy'), 'every task running and healthy');
  const pretty = await docker(n1, 'service', 'inspect', '--pretty', 'simple');
  for (const re of [/^ Healthcheck:$/, /^  Interval = 200ms$/, /^  Retries = 3$/, /^  StartPeriod =\s+1s$/, /^  Timeout =\s+3s$/, /^\s+Test = CMD-SHELL$/, /^\s+Test = curl -f http:\/\/localhost:5000\/health ?$/]) {
    t.ok(lines(pretty.stdout).some((l) => re.test(l)), `inspect --pretty: ${re}`);
  }
  await settled();
  t.match((await httpGet(n3, 5000)).body, /^Hello V0\.2: [0-9a-f]{12}$/, 'node3 reaches a healthy task');

  // A check that can never pass: the task never runs; it fails as an unhealthy container does.
  const sick = await docker(n1, 'service', 'create', '--detach', '--name', 'sick', '--health-cmd', 'curl -f http://localhost:5999/health',
    '--health-interval=100ms', '--health-retries=2', '--health-timeout=1s', 'madvirus/simplenode:0.2');
  t.equal(sick.code, 0, sick.stderr);
  await waitFor('service ps to show the unhealthy task failed', async () =>
    /^[0-9a-z]{12} +(\\_ )?sick\.1 +madvirus\/simplenode:0\.2 +node\d +\w+ +Failed .* "task: non-zero exit \(143\): do…"/m.test((await docker(n1, 'service', 'ps', 'sick')).stdout));
  t.match((await docker(n1, 'service', 'ls')).stdout, / +sick +replicated +0\/1 +madvirus\/simplenode:0\.2 /, 'sick: 0/1');

  const rm = await docker(n1, 'service', 'rm', 'study', 'simple', 'sick');
  t.equal(rm.stdout, 'study\nsimple\nsick\n', rm.stderr);
});

t.test('on a terminal: progress bars redrawn in place, as the transcript shows them', { skip }, async (t) => {
  if (!requireTool(t, 'script', 'bsdutils')) return;
  const n1 = cluster!.nodes[0]!.address;
  const ids = await nodeIds(cluster!.nodes[0]!.apiUrl);
  const BAR = 'running   [==================================================>]';

  const global = await dockerOnTerminal(n1, 'service', 'create', '--name', 'bars', '--mode', 'global', ...FAST, 'nginx');
  t.equal(global.code, 0, global.stdout);
  const [id, progress, ...rest] = global.screen;
  t.match(id, /^[0-9a-z]{25}$/, global.stdout);
  t.equal(progress, 'overall progress: 3 out of 3 tasks');
  t.same(rest.slice(0, 3).sort(), Object.values(ids).map((node) => `${node.slice(0, 12)}: ${BAR}`).sort(), 'a full bar per node');
  t.same(rest.slice(3), [`verify: Service ${id} converged`], 'and the verify line last');

  const replicated = await dockerOnTerminal(n1, 'service', 'create', '--detach', '--name', 'bars-rep', ...FAST, 'nginx');
  t.equal(replicated.code, 0, replicated.stdout);
  const scale = await dockerOnTerminal(n1, 'service', 'scale', 'bars-rep=4');
  t.equal(scale.code, 0, scale.stdout);
  t.same(scale.screen, ['bars-rep scaled to 4', 'overall progress: 4 out of 4 tasks',
    ...[1, 2, 3, 4].map((slot) => `${slot}/4: ${BAR}`), 'verify: Service bars-rep converged'], scale.stdout);
  t.equal((await docker(n1, 'service', 'rm', 'bars', 'bars-rep')).code, 0);
});

t.test('seed 004 with simplenode:0.1: ps, service logs after a few requests, scale to 4 and back to 1', { skip }, async (t) => {
  const [n1, n2] = cluster!.nodes.map((n) => n.address) as [string, string, string];
  const manager = cluster!.nodes[0]!.apiUrl;

  const create = await docker(n1, 'service', 'create', '--name', 'simple', '--publish', 'published=8000,target=5000', '--replicas', '2', ...FAST, 'madvirus/simplenode:0.1');
  t.equal(create.code, 0, create.stderr);
  t.match(create.stdout, /verify: Service [0-9a-z]{25} converged\n$/);
  await settled();
  for (let i = 0; i < 3; i++) t.match((await httpGet(n2, 8000)).body, /^Hello V0\.1: [0-9a-f]{12}$/);

  const logs = await docker(n1, 'service', 'logs', 'simple');
  t.equal(logs.code, 0, logs.stderr);
  const arrived = [...lines(logs.stdout), ...lines(logs.stderr)].filter((l) => l.endsWith('request arrived.'));
  t.equal(arrived.length, 3, `one line per request:\n${logs.stdout}`);
  const { body: nodes } = await api<any[]>(manager, 'GET', '/nodes');
  const hostname = new Map(nodes.map((n) => [n.ID, n.Description.Hostname]));
  const expected = new Set((await tasksOf(manager, 'simple')).map((task) => `simple.${task.Slot}.${task.ID.slice(0, 12)}@${hostname.get(task.NodeID)}`));
  t.equal(expected.size, 2);
  const printed = arrived.map((l) => /^(simple\.[12]\.[0-9a-z]{12}@node[1-3]) +\| request arrived\.$/.exec(l)?.[1]);
  t.ok(printed.every((p) => p && expected.has(p)), `each line names its task and node:\n${arrived.join('\n')}`);
  t.equal(new Set(printed).size, 2, 'both tasks got requests (round robin)');

  const psTwo = await docker(n1, 'service', 'ps', 'simple');
  const first = /^([0-9a-z]{12}) +simple\.1 +madvirus\/simplenode:0\.1 +node[1-3] +Running +Running /m.exec(psTwo.stdout);
  t.ok(first, `simple.1 Running:\n${psTwo.stdout}`);
  t.equal(lines(psTwo.stdout).length, 3, 'two tasks');

  const up = await docker(n1, 'service', 'scale', 'simple=4');
  t.equal(up.code, 0, up.stderr);
  t.equal(lines(up.stdout)[0], 'simple scaled to 4');
  t.ok(lines(up.stdout).includes('overall progress: 4 out of 4 tasks'), up.stdout);
  t.equal(lines(up.stdout).at(-1), 'verify: Service simple converged');
  const psFour = lines((await docker(n1, 'service', 'ps', 'simple')).stdout).slice(1);
  t.same(psFour.map((r) => /^[0-9a-z]{12} +(simple\.\d) +madvirus\/simplenode:0\.1 +node[1-3] +Running +Running /.exec(r)?.[1]).sort(), ['simple.1', 'simple.2', 'simple.3', 'simple.4']);

  const down = await docker(n1, 'service', 'scale', 'simple=1');
  t.equal(down.code, 0, down.stderr);
  t.equal(lines(down.stdout)[0], 'simple scaled to 1');
  t.ok(lines(down.stdout).includes('overall progress: 1 out of 1 tasks'), down.stdout);
  t.equal(lines(down.stdout).at(-1), 'verify: Service simple converged');
  // The removed tasks show Remove while they stop (after the fence period), then leave the list.
  const psOne = await waitFor('service ps to list one task', async () => {
    const res = await docker(n1, 'service', 'ps', 'simple');
    return lines(res.stdout).length === 2 ? res : undefined;
  });
  t.match(lines(psOne.stdout)[1], new RegExp(`^${first?.[1]} +simple\\.1 +madvirus/simplenode:0\\.1 +node[1-3] +Running +Running `), 'the first task stays, the newer ones went (as seed 004 says)');
  t.match((await docker(n1, 'service', 'ls')).stdout, / +simple +replicated +1\/1 +madvirus\/simplenode:0\.1 +\*:8000->5000\/tcp\n/);
});

t.test("the transcript's backend: redis on the workers, reached by its VIP", { skip }, async (t) => {
  const n1 = cluster!.nodes[0]!.address;
  const manager = cluster!.nodes[0]!.apiUrl;
  const create = await docker(n1, 'service', 'create', '--name', 'backend', '--constraint', 'node.role == worker', '--replicas', '2', ...FAST, 'redis');
  t.equal(create.code, 0, create.stderr);
  t.match(create.stdout, /verify: Service [0-9a-z]{25} converged\n$/);
  t.notMatch(create.stderr, /image redis:latest could not be accessed/, 'no registry warning');
  const ls = await docker(n1, 'service', 'ls', '--filter', 'name=backend');
  t.match(ls.stdout, /^[0-9a-z]{12} +backend +replicated +2\/2 +redis:latest *$/m);
  const tasks = (await tasksOf(manager, 'backend')).filter((task) => task.DesiredState === 'running');
  const { body: nodes } = await api<any[]>(manager, 'GET', '/nodes');
  const workers = new Set(nodes.filter((n) => n.Spec.Role === 'worker').map((n) => n.ID));
  t.ok(tasks.length === 2 && tasks.every((task) => workers.has(task.NodeID)), 'both tasks on workers');
  // Through the VIP, as another service would reach it: PING, PONG.
  const { body: service } = await api(manager, 'GET', '/services/backend');
  const vip = service.Endpoint.VirtualIPs[0].Addr.split('/')[0];
  await settled();
  const redis = await echoConnection(vip, 6379);
  t.teardown(() => { redis.socket.destroy(); });
  t.equal(await deadline('PONG', redis.roundTrip('PING\r\n')), '+PONG\r\n');
  t.equal((await docker(n1, 'service', 'rm', 'backend')).code, 0);
});

t.test('the last manager leaves with --force, and the engine is no longer a manager', { skip }, async (t) => {
  const n1 = cluster!.nodes[0]!.address;
  const leave = await docker(n1, 'swarm', 'leave', '--force');
  t.equal(leave.code, 0, leave.stderr);
  t.equal(leave.stdout, 'Node left the swarm.\n');
  await refused(t, n1, ['service', 'ls'], `Error response from daemon: ${NOT_IN_SWARM}\n`);
});

t.test('seed 003 on five engines: three managers, drain, the leader leaves, node2 leads and promotes node5', { skip }, async (t) => {
  const five = await testCluster(t, SEED_003_BLOCK, { bare: true, nodes: 5 });
  const [n1, n2, n3, n4, n5] = five.nodes.map((n) => n.address) as [string, string, string, string, string];
  t.equal((await docker(n1, 'swarm', 'init', '--advertise-addr', n1)).code, 0);
  const managerHint = await docker(n1, 'swarm', 'join-token', 'manager');
  const workerHint = await docker(n1, 'swarm', 'join-token', 'worker');
  const managerToken = /^    docker swarm join --token (SWMTKN-1-\S+) (\S+)$/m.exec(managerHint.stdout);
  const workerToken = /^    docker swarm join --token (SWMTKN-1-\S+) (\S+)$/m.exec(workerHint.stdout);
  t.equal(managerHint.stdout.split('\n')[0], 'To add a manager to this swarm, run the following command:');
  t.equal(workerHint.stdout.split('\n')[0], 'To add a worker to this swarm, run the following command:');
  t.ok(managerToken && workerToken && managerToken[2] === `${n1}:2377`, managerHint.stdout + workerHint.stdout);
  for (const [address, [, token, remote]] of [[n2, managerToken!], [n3, managerToken!], [n4, workerToken!], [n5, workerToken!]] as const) {
    const join = await docker(address, 'swarm', 'join', '--token', token!, remote!);
    t.equal(join.stdout, `This node joined a swarm as a ${token === managerToken![1] ? 'manager' : 'worker'}.\n`, join.stderr);
  }
  const ids = await nodeIds(five.nodes[0]!.apiUrl);
  /** `node ls` as the seed prints it: one row per node, in hostname order, IDs as the API gives them. */
  const table = (self: string, rows: [string, string, string, string][]): string[] => [
    'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION',
    ...rows.map(([host, status, availability, manager]) =>
      `${ids[host]} ${host === self ? '*' : ' '}   ${host.padEnd(11)}${status.padEnd(10)}${availability.padEnd(15)}${manager.padEnd(17)}28.2.2`),
  ];
  t.same(lines((await docker(n1, 'node', 'ls')).stdout), table('node1', [
    ['node1', 'Ready', 'Active', 'Leader'], ['node2', 'Ready', 'Active', 'Reachable'], ['node3', 'Ready', 'Active', 'Reachable'],
    ['node4', 'Ready', 'Active', ''], ['node5', 'Ready', 'Active', ''],
  ]));

  t.equal((await docker(n1, 'node', 'update', '--availability', 'drain', 'node5')).stdout, 'node5\n');
  t.equal((await docker(n1, 'node', 'update', '--availability', 'drain', 'node3')).stdout, 'node3\n');
  t.same(lines((await docker(n1, 'node', 'ls')).stdout), table('node1', [
    ['node1', 'Ready', 'Active', 'Leader'], ['node2', 'Ready', 'Active', 'Reachable'], ['node3', 'Ready', 'Drain', 'Reachable'],
    ['node4', 'Ready', 'Active', ''], ['node5', 'Ready', 'Drain', ''],
  ]), 'a drained manager is still a manager');

  const leave = await docker(n1, 'swarm', 'leave', '--force');
  t.equal(leave.stdout, 'Node left the swarm.\n', leave.stderr);
  t.equal((await docker(n2, 'node', 'update', '--availability', 'active', 'node5')).stdout, 'node5\n');
  t.equal((await docker(n2, 'node', 'promote', 'node5')).stdout, 'Node node5 promoted to a manager in the swarm.\n');
  t.same(lines((await docker(n2, 'node', 'ls')).stdout), table('node2', [
    ['node1', 'Down', 'Active', 'Unreachable'], ['node2', 'Ready', 'Active', 'Leader'], ['node3', 'Ready', 'Drain', 'Reachable'],
    ['node4', 'Ready', 'Active', ''], ['node5', 'Ready', 'Active', 'Reachable'],
  ]), "node2 took the lead; node1 is Down and Unreachable, as the seed shows");
});
