// `routemesh up` as a supervisor of one OS process per node, and `routemesh node start`, each a real
// process: named after its node, its death said, stopped with `up` however `up` ends, its data dir kept
// or (--fresh) removed. up: nodes 127.48.0.x, tasks 127.49/16, VIPs 127.50/16; node start: 127.51.0.x,
// tasks 127.52/16, VIPs 127.53/16.
import { once } from 'node:events';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { defaultClusterDataDir, defaultNodeDataDir } from '../src/cli/dataDir.js';
import { EngineClient } from '../src/cli/EngineClient.js';
import { formSwarm } from '../src/cli/swarmFormation.js';
import { startNode } from '../src/engine/index.js';
import { api, testBlock, waitFor } from './support/cluster.js';
import { nodeProcesses, restartCommandSaid, routemesh, spawnRoutemesh, startAsSaid, tempDataDir, upProcess } from './support/cli.js';
import { childrenOf, gone, killWithChildren } from './support/processes.js';
import { connectAndWait, whoamiHost } from './support/net.js';

const UP = testBlock(48);
const SOLO = testBlock(51);

/** up's flags on this file's blocks, metrics off (the nodes share no port with other files). */
function upArgs(nodes: number, ...more: string[]): string[] {
  return ['--nodes', String(nodes), '--subnet', `127.${UP}.0.0/24`, '--task-subnet', `127.${UP + 1}.0.0/16`, '--vip-subnet', `127.${UP + 2}.0.0/16`,
    '--dns', `127.${UP}.0.250`, '--dns-upstream', `127.${UP}.0.251`, '--metrics-port', 'off', ...more];
}

function tempDir(t: Test): string {
  const { root, dataDir } = tempDataDir();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return dataDir;
}

t.test('up runs a process per node, named after it; says when one dies and how to start it again; SIGTERM stops the rest', async (t) => {
  const dataDir = tempDir(t);
  const up = await upProcess(t, upArgs(2, '--bare', '--data-dir', dataDir));
  const nodes = await nodeProcesses(up.child.pid!, 2);
  t.same([...nodes.keys()].sort(), ['node1', 'node2'], 'ps shows routemesh node1 and routemesh node2');

  process.kill(nodes.get('node2')!, 'SIGKILL');
  const command = await restartCommandSaid(up, 'node2', nodes.get('node2')!);
  t.match(command, new RegExp(`routemesh node start --address 127\\.${UP}\\.0\\.2 --hostname node2 --data-dir ${dataDir}/node2 `), 'the command names its address and data dir');
  t.equal(up.child.exitCode, null, 'up runs on');
  t.equal((await api(`http://127.${UP}.0.1:2375`, 'GET', '/_ping')).status, 200, 'node1 still answers');

  // The command it printed starts node2 again.
  const restarted = startAsSaid(t, command);
  await waitFor('node2 again', async () => (await api(`http://127.${UP}.0.2:2375`, 'GET', '/_ping').catch(() => undefined))?.status === 200);
  restarted.kill('SIGTERM');
  t.same(await once(restarted, 'exit'), [0, null], 'the restarted node2 stops on SIGTERM');

  up.child.kill('SIGTERM');
  t.same(await up.exited, [0, null], 'up exits 0');
  t.same(await gone([nodes.get('node1')!], 5000), [], 'node1\'s process ended with it');
  t.equal(await connectAndWait(`127.${UP}.0.1`, 2375, 2000), 'refused', 'its engine API is closed');
  t.notMatch(up.stderr(), /node1 \(pid \d+\) (died|exited)/, 'a node up stopped is not said to have died');
});

t.test('SIGKILL of up: its node processes end too (their stdin closes)', async (t) => {
  const up = await upProcess(t, upArgs(2, '--bare'));
  const nodes = await nodeProcesses(up.child.pid!, 2);
  up.child.kill('SIGKILL');
  t.same(await up.exited, [null, 'SIGKILL']);
  t.same(await gone([...nodes.values()], 10_000), [], 'no node process is left within 10 s');
  t.equal(await connectAndWait(`127.${UP}.0.1`, 2375, 2000), 'refused');
});

t.test('up as processes forms the swarm through the engine API, and runs the demo', async (t) => {
  const up = await upProcess(t, upArgs(1, '--demo'));
  t.match(up.stdout(), new RegExp(`^HOSTNAME +ROLE +ADDRESS +ENGINE API\nnode1 +manager +127\\.${UP}\\.0\\.1 +tcp://127\\.${UP}\\.0\\.1:2375\n`));
  const info = (await api(`http://127.${UP}.0.1:2375`, 'GET', '/info')).body;
  t.match(info.Swarm, { LocalNodeState: 'active', ControlAvailable: true }, 'node1 inited the swarm');
  t.match(await whoamiHost(`127.${UP}.0.1`, 8080), /\S/, 'the demo answers on port 8080');
  const vip = /curl http:\/\/(127\.\d+\.\d+\.\d+(?::\d+)?)\/ +# the service's VIP/.exec(up.stdout());
  t.ok(vip, 'says where the VIP listens');
  const [vipHost, vipPort] = vip![1]!.split(':');
  t.match(await whoamiHost(vipHost!, Number(vipPort ?? 80)), /\S/, 'and the VIP answers there');
  up.child.kill('SIGINT');
  t.same(await up.exited, [0, null]);
});

t.test('--data-dir is kept from one run to the next; --fresh removes it first', async (t) => {
  const dataDir = tempDir(t);
  const marker = path.join(dataDir, 'node1', 'kept');
  mkdirSync(path.dirname(marker), { recursive: true });
  writeFileSync(marker, '');
  const kept = await upProcess(t, upArgs(1, '--bare', '--data-dir', dataDir));
  kept.child.kill('SIGTERM');
  t.same(await kept.exited, [0, null]);
  t.ok(existsSync(marker), 'without --fresh, up leaves what the data dir holds');
  const fresh = await upProcess(t, upArgs(1, '--bare', '--fresh', '--data-dir', dataDir));
  t.notOk(existsSync(marker), 'with --fresh, it is gone');
  t.match(fresh.stderr(), `--fresh: ${dataDir} removed; starting a new swarm`);
  fresh.child.kill('SIGTERM');
  t.same(await fresh.exited, [0, null]);
});

t.test('a node that cannot start stops up with its reason, and the other nodes with it', async (t) => {
  // node2's engine API address is taken.
  const squatter = http.createServer();
  await new Promise<void>((resolve) => squatter.listen(2375, `127.${UP}.0.2`, resolve));
  t.teardown(() => new Promise<void>((resolve) => squatter.close(() => resolve())));
  const child = spawnRoutemesh(['up', ...upArgs(2, '--bare', '--data-dir', tempDir(t))]);
  t.teardown(() => { if (child.pid !== undefined) killWithChildren(child.pid); });
  let stderr = '';
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  child.stdout!.resume();
  t.same(await once(child, 'exit'), [1, null], 'up exits 1');
  t.match(stderr, new RegExp(`cannot start the cluster: node2 \\(pid \\d+\\) exited \\(exit code 1\\) before its engine API answered; its last words:\n.*127\\.${UP}\\.0\\.2:2375`));
  t.notMatch(stderr, /died|start it again/, 'said once, as the reason up could not start');
  t.equal(await connectAndWait(`127.${UP}.0.1`, 2375, 2000), 'refused', 'node1 was stopped');
});

t.test('node start: one engine in the foreground, named after its node, stopped by SIGINT or (supervised) by its stdin closing', async (t) => {
  const dataDir = tempDir(t);
  const args = ['node', 'start', '--address', `127.${SOLO}.0.9`, '--data-dir', dataDir, '--socket-dir', path.join(dataDir, 'sockets'),
    '--task-subnet', `127.${SOLO + 1}.0.0/16`, '--vip-subnet', `127.${SOLO + 2}.0.0/16`, '--dns', `127.${SOLO}.0.250`, '--dns-upstream', `127.${SOLO}.0.251`, '--metrics-port', 'off'];
  for (const how of ['SIGINT', 'stdin'] as const) {
    const child = spawnRoutemesh(how === 'stdin' ? [...args, '--supervised'] : args, process.env, { stdin: 'pipe' });
    t.teardown(() => { child.kill('SIGKILL'); });
    let stdout = '';
    child.stdout!.on('data', (chunk) => { stdout += chunk; });
    child.stderr!.resume();
    await waitFor('its start-up lines', () => stdout.includes('Ctrl-C'));
    t.match(stdout, `node9 (pid ${child.pid}): engine API on tcp://127.${SOLO}.0.9:2375 and unix://${dataDir}/sockets/127.${SOLO}.0.9.sock\n`);
    t.match(stdout, `Not in a swarm yet. To join it to one`);
    t.match(stdout, `DOCKER_HOST=tcp://127.${SOLO}.0.9:2375 docker swarm join --token <token> <manager address>:2377`);
    t.equal(childrenOf(process.pid).find((c) => c.pid === child.pid)?.cmdline, 'routemesh node9', 'ps names it after its node');
    if (how === 'SIGINT') child.kill('SIGINT');
    else child.stdin!.end();
    t.same(await once(child, 'exit'), [0, null], `${how} stops it, exit 0`);
    t.equal(await connectAndWait(`127.${SOLO}.0.9`, 2375, 2000), 'refused', 'its engine API is closed');
  }
});

t.test('node start refuses an address it cannot use, saying what to give', async (t) => {
  const missing = await routemesh(['node', 'start'], process.env);
  t.equal(missing.code, 2);
  t.match(missing.stderr, 'routemesh node start needs the node\'s address: --address 127.1.0.4');
  const outside = await routemesh(['node', 'start', '--address', '10.0.0.4'], process.env);
  t.equal(outside.code, 2);
  t.match(outside.stderr, 'invalid argument "10.0.0.4" for "--address" flag: the node\'s address is an IPv4 address on loopback, like 127.1.0.4');
  const inTasks = await routemesh(['node', 'start', '--address', `127.${SOLO + 1}.0.3`, '--task-subnet', `127.${SOLO + 1}.0.0/16`, '--vip-subnet', `127.${SOLO + 2}.0.0/16`,
    '--dns', `127.${SOLO}.0.250`, '--data-dir', tempDir(t)], process.env);
  t.equal(inTasks.code, 1);
  t.match(inTasks.stderr, `--address 127.${SOLO + 1}.0.3 is inside --task-subnet 127.${SOLO + 1}.0.0/16, whose addresses go to tasks: choose one outside it`);
});

t.test('up refuses blocks that overlap before it starts any node process, as the one-process cluster does', async (t) => {
  const dataDir = tempDir(t);
  const refused = await routemesh(['up', ...upArgs(2, '--bare', '--data-dir', dataDir), '--task-subnet', `127.${UP}.0.0/16`], process.env);
  t.equal(refused.code, 1);
  t.match(refused.stderr, `--subnet 127.${UP}.0.0/24 and --task-subnet 127.${UP}.0.0/16 overlap: give each a block of its own`);
  t.notMatch(refused.stderr, /node1|node2/, 'no node process said anything: none started');
});

t.test('formSwarm: a node already in a swarm (up again with its data) is not inited again; its nodes are waited for', async (t) => {
  const dataDir = tempDir(t);
  const node = await startNode({ hostname: 'node1', address: `127.${SOLO}.0.20`, socketDir: dataDir, taskSubnet: `127.${SOLO + 1}.0.0/16`, vipSubnet: `127.${SOLO + 2}.0.0/16`, dns: `127.${SOLO}.0.250` });
  t.teardown(() => node.close());
  const client = new EngineClient(node.apiUrl);
  t.teardown(() => client.close());
  const member = { hostname: 'node1', address: node.address, client };
  const logged: string[] = [];
  const options = { managers: 1, log: (line: string) => logged.push(line), pollMs: 20, signal: new AbortController().signal };
  await formSwarm([member], options);
  const first = (await api(node.apiUrl, 'GET', '/info')).body.Swarm.NodeID;
  t.match(first, /\S/, 'the first run inits the swarm');
  t.same(logged, []);
  await formSwarm([member], options);
  t.equal((await api(node.apiUrl, 'GET', '/info')).body.Swarm.NodeID, first, 'the second finds it, the same node');
  t.match(logged, [/node1 is back in its swarm: waiting for its nodes to be Ready again/]);
});

t.test('the default data dir: per user and per node block (per address for node start), /var/lib/routemesh as root', async (t) => {
  const home = process.getuid?.() === 0 ? '/var/lib/routemesh' : '/xdg/state/routemesh';
  t.equal(defaultClusterDataDir({ XDG_STATE_HOME: '/xdg/state' }, '127.1.0.0/24'), `${home}/127.1.0.0-24`);
  t.equal(defaultNodeDataDir({ XDG_STATE_HOME: '/xdg/state' }, '127.1.0.4'), `${home}/127.1.0.4`);
});
