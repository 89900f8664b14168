// `service logs` with every node its own process: a manager reads each task's output from the node that
// runs it (over that node's engine API), following included; a node killed makes the logs of its tasks
// fail with a clear message, after the others' lines, and one that does not answer within seconds, rather
// than hang; fault injection says to kill the process instead; in one process, a task's output is only
// ever local. Nodes 127.147.0.x, tasks 127.148/16, VIPs 127.149/16 (first and last test); 127.121.0.x,
// 127.122/16, 127.123/16 (second).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import t from 'tap';
import { api, testBlock, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { cliEnv, docker, dockerEnv, routemesh, spawnRoutemesh, upProcess } from './support/cli.js';
import { httpGet } from './support/net.js';
import { childrenOf } from './support/processes.js';
import { requireTool } from './support/tools.js';

const LINE = /^web\.[0-9a-z]+\.[0-9a-z]{12}@(node[1-3]) +\| request arrived\.$/gm;

/** `up --nodes 3` as node processes on block B, and a global simplenode service `web`: one task on each node. */
async function threeNodesWithWeb(t: Test, block: number): Promise<{ up: number; base: string; tasks: Map<string, any> }> {
  const up = await upProcess(t, ['--nodes', '3', '--subnet', `127.${block}.0.0/24`, '--task-subnet', `127.${block + 1}.0.0/16`,
    '--vip-subnet', `127.${block + 2}.0.0/16`, '--dns', `127.${block}.0.250`, '--dns-upstream', `127.${block}.0.251`, '--metrics-port', 'off']);
  const base = `http://127.${block}.0.1:2375`;
  await waitFor('three Ready nodes', async () => {
    const nodes = (await api(base, 'GET', '/nodes')).body as any[];
    return nodes.length === 3 && nodes.every((n) => n.Status.State === 'ready') ? true : undefined;
  }, 30_000);
  t.equal((await api(base, 'POST', '/services/create', {
    Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'madvirus/simplenode:0.1' } }, Mode: { Global: {} },
  })).status, 201);
  const running = await waitForRunning(base, 'web', 3);
  const nodes = (await api(base, 'GET', '/nodes')).body as any[];
  const tasks = new Map(running.map((task) => [nodes.find((n) => n.ID === task.NodeID).Description.Hostname as string, task]));
  t.same([...tasks.keys()].sort(), ['node1', 'node2', 'node3'], 'a task on each node');
  return { up: up.child.pid!, base, tasks };
}

/** One `request arrived.` line from this task, asked of it directly. */
async function request(task: any): Promise<void> {
  await httpGet(task.Endpoint.Addr, task.Endpoint.Ports[0].ListenPort);
}

/** The nodes named by the task prefixes of a `service logs` output, one entry a line. */
function lineNodes(output: string): string[] {
  return [...output.matchAll(LINE)].map((m) => m[1]!).sort();
}

/** A following reader, its output so far, killed at teardown. */
function follower(t: Test, child: ChildProcess): () => string {
  let out = '';
  child.stdout!.on('data', (chunk) => { out += chunk; });
  child.stderr!.on('data', (chunk) => { out += chunk; });
  t.teardown(() => { child.kill('SIGKILL'); });
  return () => out;
}

t.test('service logs through a manager shows the lines of tasks on every node process, and follows them', async (t) => {
  const { base, tasks } = await threeNodesWithWeb(t, testBlock(147));
  const address = new URL(base).hostname;
  for (const task of tasks.values()) await request(task);

  const ours = await routemesh(['service', 'logs', 'web'], cliEnv(`tcp://${address}:2375`));
  t.equal(ours.code, 0, ours.stderr);
  t.same(lineNodes(ours.stdout), ['node1', 'node2', 'node3'], `routemesh: a line from each node's task\n${ours.stdout}`);
  const ourTask = await routemesh(['service', 'logs', tasks.get('node2').ID], cliEnv(`tcp://${address}:2375`));
  t.equal(ourTask.code, 0, ourTask.stderr);
  t.same(lineNodes(ourTask.stdout), ['node2'], `routemesh service logs TASK: that task's line, from node2\n${ourTask.stdout}`);
  t.match(await routemesh(['service', 'logs', 'nothing-here'], cliEnv(`tcp://${address}:2375`)), { code: 1, stderr: /no such task or service: nothing-here/ });

  // Following, through routemesh's CLI and docker's: a new line of node3's task reaches both.
  const followers = [follower(t, spawnRoutemesh(['service', 'logs', '--follow', '--tail', '0', 'web'], cliEnv(`tcp://${address}:2375`)))];
  const withDocker = requireTool(t, 'docker', 'docker.io');
  if (withDocker) followers.push(follower(t, spawn('docker', ['service', 'logs', '--follow', '--tail', '0', 'web'], { env: dockerEnv(address) })));
  // Requests until one's line is out: a follower cannot say when its stream has reached node3.
  await waitFor('node3\'s new line to be followed', async () => {
    await request(tasks.get('node3'));
    return followers.every((out) => /@node3 +\| request arrived\.$/m.test(out())) ? true : undefined;
  }, 15_000);
  for (const out of followers) t.same(new Set(lineNodes(out())), new Set(['node3']), `only node3's new lines\n${out()}`);

  // A task started while following (each replaced at once) is followed too, from its node.
  const service = (await api(base, 'GET', '/services/web')).body as any;
  t.equal((await api(base, 'POST', `/services/web/update?version=${service.Version.Index}`, {
    ...service.Spec, TaskTemplate: { ...service.Spec.TaskTemplate, ForceUpdate: 1 }, UpdateConfig: { Parallelism: 0, Order: 'start-first' },
  })).status, 200);
  const replaced = await waitFor('node3\'s new task', async () => ((await api(base, 'GET', '/tasks?filters={"service":["web"],"node":["node3"],"desired-state":["running"]}')).body as any[])
    .find((task) => task.ID !== tasks.get('node3').ID && task.Status.State === 'running'), 15_000);
  await waitFor('the new task\'s line to be followed', async () => {
    await request(replaced);
    return followers.every((out) => out().includes(`.${replaced.ID.slice(0, 12)}@node3`)) ? true : undefined;
  }, 15_000);

  if (!withDocker) return;
  const fromDocker = await docker(address, 'service', 'logs', 'web');
  t.equal(fromDocker.code, 0, fromDocker.stderr);
  t.same(new Set(lineNodes(fromDocker.stdout)), new Set(['node1', 'node2', 'node3']), `docker: lines from each node's task\n${fromDocker.stdout}`);
  const oneTask = await docker(address, 'service', 'logs', tasks.get('node2').ID);
  t.equal(oneTask.code, 0, oneTask.stderr);
  t.same(lineNodes(oneTask.stdout), ['node2'], `docker service logs TASK: that task's line, from node2\n${oneTask.stdout}`);
});

t.test('a node process killed: the logs of its tasks fail clearly, after the others\' lines; fault injection says to kill the process', async (t) => {
  const { up, base, tasks } = await threeNodesWithWeb(t, testBlock(121));
  const address = new URL(base).hostname;
  const env = cliEnv(`tcp://${address}:2375`);
  for (const task of tasks.values()) await request(task);

  const failed = await routemesh(['node', 'fail', 'node2'], env);
  t.equal(failed.code, 1);
  t.match(failed.stderr, /node2 runs in its own process, which fault injection cannot reach: kill that process to fail it \(kill -9 <pid>; ps names it "routemesh node2"\)/);
  const self = await routemesh(['node', 'fail', 'node1'], env);
  t.match(self.stderr, /node1 runs in its own process.*kill -9 \d+\)/, 'a node asked to fail itself names its pid');
  const recover = await routemesh(['node', 'recover', 'node3'], env);
  t.match(recover.stderr, /node3 runs in its own process.*start it again with routemesh node start/);
  t.equal((await api(base, 'GET', '/_ping')).status, 200, 'node1 is still up');

  const following = follower(t, spawnRoutemesh(['service', 'logs', '--follow', '--tail', '0', 'web'], env));
  // The follower is connected to node3 once one of node3's lines has reached it.
  await waitFor('the follower to follow node3', async () => {
    await request(tasks.get('node3'));
    return /@node3 +\| request arrived\./.test(following()) ? true : undefined;
  }, 15_000);

  const node3 = childrenOf(up).find((c) => c.cmdline === 'routemesh node3');
  t.ok(node3, 'node3 has its own process');
  process.kill(node3!.pid, 'SIGKILL');
  await waitFor('the follow to end, saying why', () => /stopped sending the logs of its tasks: its process is gone/.test(following()) ? true : undefined).catch((e: Error) => { throw new Error(`${e.message}: ${following()}`); });
  t.match(following(), /error from daemon in stream: Error grabbing logs: warning: incomplete log stream\. some logs could not be retrieved for the following reasons: node node3 stopped sending/);
  t.equal((await api(base, 'GET', '/_ping')).status, 200, 'node1, which was reading from node3, runs on');

  const started = Date.now();
  const ours = await routemesh(['service', 'logs', 'web'], env);
  t.equal(ours.code, 1, 'routemesh service logs fails');
  t.same(lineNodes(ours.stdout), ['node1', 'node2'], 'after the lines of the tasks it could read');
  t.match(ours.stderr, /error from daemon in stream: Error grabbing logs: warning: incomplete log stream\. some logs could not be retrieved for the following reasons: node node3 /);
  t.match(ours.stderr, /routemesh node start/, 'saying how to bring it back');
  t.ok(Date.now() - started < 5000, 'at once, not after a long wait');

  // A node that does not answer (its process stopped, not gone) is waited for a few seconds, not forever.
  const node2 = childrenOf(up).find((c) => c.cmdline === 'routemesh node2')!;
  process.kill(node2.pid, 'SIGSTOP');
  t.teardown(() => { try { process.kill(node2.pid, 'SIGCONT'); } catch { /* gone */ } });
  const stuck = await routemesh(['service', 'logs', 'web'], env);
  process.kill(node2.pid, 'SIGCONT');
  t.equal(stuck.code, 1);
  t.same(lineNodes(stuck.stdout), ['node1'], 'node1\'s line still comes');
  t.match(stuck.stderr, /node node2 did not send the logs of its tasks \(http:\/\/127\.\d+\.0\.2:2375: no answer within 3 s\): is its process running\?/);

  if (!requireTool(t, 'docker', 'docker.io')) return;
  const fromDocker = await docker(address, 'service', 'logs', 'web');
  t.not(fromDocker.code, 0, 'docker service logs fails');
  t.same(new Set(lineNodes(fromDocker.stdout)), new Set(['node1', 'node2']), `after the lines it could read\n${fromDocker.stdout}`);
  t.match(fromDocker.stderr, /Error grabbing logs: warning: incomplete log stream\. some logs could not be retrieved for the following reasons: node node3 /);
});

t.test('in one process the nodes share a runtime: a failed node\'s task that never started is no error', async (t) => {
  const cluster = await testCluster(t, testBlock(147), { nodes: 3 });
  const base = cluster.nodes[0]!.apiUrl;
  // Tasks the runtime refuses before they say anything: none of them has any output.
  t.equal((await api(base, 'POST', '/services/create', {
    Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'madvirus/simplenode:0.1', User: 'no-such-user-of-routemesh' } }, Mode: { Global: {} },
  })).status, 201);
  const node3 = ((await api(base, 'GET', '/nodes/node3')).body as any).ID as string;
  await waitFor('a task failed on node3', async () => ((await api(base, 'GET', '/tasks')).body as any[]).some((task) => task.NodeID === node3 && task.Status.State === 'failed') ? true : undefined);
  t.equal((await api(base, 'POST', '/routemesh/nodes/node3/fail')).status, 200);
  const logs = await routemesh(['service', 'logs', 'web'], cliEnv(`tcp://${cluster.nodes[0]!.address}:2375`));
  t.same(logs, { code: 0, stdout: '', stderr: '' }, 'nothing to show, and nothing asked of node3\'s closed engine API');
});
