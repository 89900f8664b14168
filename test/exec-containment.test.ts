// A routemesh/exec task is contained as a container is: what its program starts dies with the task, even
// a process that left its process group (setsid), whether the task stops, its program exits, or routemesh
// is interrupted or killed; the task ends when its program does, with its code, however long an escaped
// process holds its output; it runs with a container's PATH, working directory and HOME.
// Runtime tasks on 127.24.200.x; a cluster as root on 127.21-23, one as nobody on 127.24.0-191.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { healthProbe, Runtime } from '../src/runtime/index.js';
import type { RunningTask, RuntimeOptions, TaskRunSpec } from '../src/runtime/index.js';
import { upProcess } from './support/cli.js';
import { api, waitFor } from './support/cluster.js';
import { httpGet } from './support/net.js';
import { killAll, processesRunning, remaining, uniqueSleep } from './support/processes.js';

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? false : 'not root: tasks run as routemesh\'s own user';
const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let nextHost = 2;

function spec(over: Partial<TaskRunSpec>): TaskRunSpec {
  const host = nextHost++;
  return { taskId: `task${host}`, taskName: `exec.1.task${host}`, slot: 1, hostname: 'c0ffee000024', address: `127.24.200.${host}`, image: 'routemesh/exec', ports: [], ...over };
}

/** `promise`'s value, or 'still waiting' once `ms` have passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  return Promise.race([promise, new Promise<'still waiting'>((resolve) => { setTimeout(resolve, ms, 'still waiting').unref(); })]);
}

async function start(t: Test, s: TaskRunSpec, options: RuntimeOptions = {}): Promise<RunningTask> {
  const task = await new Runtime(options).start(s);
  t.teardown(() => within(task.stop(0), 5000)); // a stop that hangs (the bug) must not hang the file
  return task;
}

async function logged(task: RunningTask, text: string): Promise<void> {
  await waitFor(`"${text}" in the task's logs`, () => task.logs.some((l) => l.text === text), 5000);
}

/** A sleep no other process runs, killed when the test ends should a check fail. */
function sleeper(t: Test): string[] {
  const argv = uniqueSleep();
  t.teardown(() => killAll(argv));
  return argv;
}

t.test('a task ends when its program exits, with its code, though a process it moved out of its group holds its pipes', async (t) => {
  const escaped = sleeper(t);
  const task = await start(t, spec({ command: ['sh', '-c', `setsid ${escaped.join(' ')} & echo started; sleep 0.2; printf last; exit 3`] }));
  t.equal(await within(task.exited, 3000), 3, 'ended with the program, not with the last holder of its pipes');
  t.same(task.logs.map((l) => l.text), ['started', 'last'], 'its output read to the end');
  t.same(await remaining(escaped, 2000), [], 'and what it moved out of its group ended with it');
});

t.test('without PID namespaces (the fallback), a task still ends when its program exits, and a stop never waits on its pipes', async (t) => {
  const escaped = sleeper(t);
  const exits = await start(t, spec({ command: ['sh', '-c', `setsid ${escaped.join(' ')} & echo started; exit 3`] }), { pidNamespaces: false });
  t.equal(await within(exits.exited, 3000), 3, 'ended with its program');
  const lingering = sleeper(t);
  const stopped = await start(t, spec({ command: ['sh', '-c', `setsid ${lingering.join(' ')} & echo started; exec sleep 1000`] }), { pidNamespaces: false });
  await logged(stopped, 'started');
  t.equal(await within(stopped.stop(5000), 3000), 143, 'a stop ends with the program');
});

t.test('stopping a task ends every process it started, those that left its process group included', async (t) => {
  const escaped = sleeper(t);
  const main = sleeper(t);
  const task = await start(t, spec({ command: ['sh', '-c', `setsid ${escaped.join(' ')} >/dev/null 2>&1 </dev/null & exec ${main.join(' ')}`] }));
  await waitFor('both sleepers', () => processesRunning(escaped).length === 1 && processesRunning(main).length === 1, 5000);
  t.equal(await task.stop(10_000), 143, 'sleep dies of the SIGTERM');
  t.same(await remaining(escaped, 2000), [], 'the escaped process too');
});

t.test('a stop is graceful: a program with a SIGTERM handler exits with its own code, one without dies of SIGTERM (143), not SIGKILL', async (t) => {
  const handler = await start(t, spec({ command: ['sh', '-c', 'trap "echo bye; exit 7" TERM; echo ready; sleep 1000 & wait'] }));
  const plain = await start(t, spec({ command: ['sleep', '1000'] }));
  await logged(handler, 'ready');
  const began = Date.now();
  const [a, b] = await Promise.all([handler.stop(10_000), plain.stop(10_000)]);
  t.equal(a, 7, 'its own code');
  t.ok(handler.logs.some((l) => l.text === 'bye'), 'after its handler ran');
  t.equal(b, 143, 'sleep without a handler: SIGTERM, so 143');
  t.ok(Date.now() - began < 5000, 'both long before the 10 s grace period would end in SIGKILL');
});

t.test('a task stopped the moment it has started still gets its SIGTERM (tini takes it once it can pass it on)', async (t) => {
  // Before tini blocks its signals, a SIGTERM to the namespace's init is dropped: under load, most of these
  // ended in SIGKILL (137) after the grace period when the stop did not wait for tini.
  const codes: number[] = [];
  for (let i = 0; i < 10; i++) {
    const task = await start(t, spec({ command: ['sleep', '1000'] }));
    codes.push(await task.stop(3000));
  }
  t.same(codes, Array(10).fill(143));
});

t.test('a program that exits right after printing keeps its last lines', async (t) => {
  // Far more than a pipe holds (64 KiB), so much of it is still unread when the program exits.
  const task = await start(t, spec({ command: ['sh', '-c', 'seq 1 20000; printf end >&2; exit 5'] }), { logLines: 30_000 });
  t.equal(await task.exited, 5);
  t.equal(task.logs.filter((l) => l.stream === 'stdout').length, 20000, 'every line');
  t.same(task.logs.at(-2)?.text, '20000');
  t.same(task.logs.at(-1), { ...task.logs.at(-1), stream: 'stderr', text: 'end' });
});

t.test('a health command ends with everything it started, setsid or not', async (t) => {
  const escaped = sleeper(t);
  const check = healthProbe(['CMD-SHELL', `setsid ${escaped.join(' ')} >/dev/null 2>&1 </dev/null & sleep 0.2`], '127.24.200.1', [])!;
  t.equal(await check(new AbortController().signal), true);
  t.same(await remaining(escaped, 2000), [], 'nothing of it is left');
});

t.test('a task runs in / (or its --workdir) with HOME of its user', async (t) => {
  const dir = mkdtempSync('/tmp/routemesh-workdir-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const home = isRoot ? '/nonexistent' : process.env.HOME; // nobody's, in passwd
  const plain = await start(t, spec({ command: ['sh', '-c', 'echo "$(pwd) $HOME"'] }));
  t.equal(await plain.exited, 0);
  t.equal(plain.logs[0]?.text, `/ ${home}`);
  const workdir = await start(t, spec({ command: ['sh', '-c', 'pwd'], dir }));
  t.equal(await workdir.exited, 0);
  t.equal(workdir.logs[0]?.text, dir);
  await t.rejects(new Runtime().start(spec({ command: ['pwd'], dir: path.join(dir, 'missing') })), {
    code: 'START_FAILED', message: /working directory '.*missing' is not a directory on this machine; create it/,
  });
  await t.rejects(new Runtime().start(spec({ command: ['pwd'], dir: 'relative' })), { code: 'START_FAILED', message: /needs to be an absolute path/ });
});

t.test('as root, a task run as nobody gets a container\'s PATH, not the operator\'s, and the README\'s python3 example serves', { skip: rootOnly }, async (t) => {
  // What root's PATH held on the machine the bug was found on: a python3 shim in a directory nobody cannot enter.
  const root = mkdtempSync('/tmp/routemesh-rootonly-');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const shims = path.join(root, 'shims');
  mkdirSync(shims);
  for (const program of ['python3', 'only-root-has-this']) {
    writeFileSync(path.join(shims, program), '#!/bin/sh\nexit 99\n');
    chmodSync(path.join(shims, program), 0o755);
  }
  chmodSync(root, 0o700);
  const operatorPath = process.env.PATH;
  process.env.PATH = `${shims}:${operatorPath}`;
  t.teardown(() => { process.env.PATH = operatorPath; });

  const env = await start(t, spec({ command: ['sh', '-c', 'echo "$PATH"'] }));
  t.equal(await env.exited, 0);
  t.equal(env.logs[0]?.text, CONTAINER_PATH, 'nobody\'s PATH is a container\'s');
  const asRoot = await start(t, spec({ command: ['sh', '-c', 'echo "$PATH"'], user: 'root' }));
  t.equal(await asRoot.exited, 0);
  t.equal(asRoot.logs[0]?.text, process.env.PATH, 'a task run as routemesh\'s own user keeps the operator\'s');

  const s = spec({ command: ['python3', '-m', 'http.server', '${PORT}', '--bind', '${HOST}'], ports: [{ protocol: 'tcp', targetPort: 8000 }] });
  const py = await start(t, s);
  const answer = await waitFor('python\'s http.server', () => httpGet(s.address, 8000).catch(() => undefined), 10_000);
  t.equal(answer.status, 200, 'the README\'s example serves');

  await t.rejects(new Runtime().start(spec({ command: ['only-root-has-this'], env: [`PATH=${shims}:/usr/bin:/bin`] })), {
    code: 'START_FAILED',
    message: /^routemesh\/exec cannot run 'only-root-has-this': executable file not found in \$PATH that uid 65534 may run \(.*\); pass a command/,
  }, 'a program the task\'s user may not run fails the start with the reason, not exit 126 at every restart');
  t.equal(py.ports[0]?.ListenPort, 8000);
});

/** A `routemesh up` in a child process (as `runAs`, when given) on the given subnets, once it prints its table. */
async function up(t: Test, nodes: string, tasks: string, vips: string, runAs: string[] = []) {
  const dns = nodes.replace(/0\/24$/, '250');
  // tap's hooks in the environment write into this checkout when node exits: as nobody, they could not.
  const env = runAs.length > 0 ? { PATH: process.env.PATH, HOME: '/' } : process.env;
  const { child, exited } = await upProcess(t, ['--nodes', '1', '--subnet', nodes, '--task-subnet', tasks, '--vip-subnet', vips,
    '--dns', dns, '--dns-upstream', dns.replace(/250$/, '251')], env, { runAs });
  return { child, exited, engine: `http://${nodes.replace(/0\/24$/, '1')}:2375` };
}

async function create(engine: string, name: string, command: string[], extra: Record<string, unknown> = {}): Promise<void> {
  const created = await api(engine, 'POST', '/services/create', {
    Name: name, TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: command }, ...extra }, Mode: { Replicated: { Replicas: 1 } },
  });
  if (created.status !== 201) throw new Error(`creating ${name}: ${created.status} ${JSON.stringify(created.body)}`);
}

async function tasksOf(engine: string, service: string): Promise<any[]> {
  return (await api(engine, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [service] }))}`)).body;
}

t.test('the tester\'s cluster: exits are seen, restarts leak nothing, Ctrl-C ends every process within 5 s', async (t) => {
  const { child, exited, engine } = await up(t, '127.21.0.0/24', '127.22.0.0/16', '127.23.0.0/16');
  const held = sleeper(t);
  const served = sleeper(t);
  const leaked = sleeper(t);
  const none = { RestartPolicy: { Condition: 'none' } };
  await create(engine, 'hold', ['sh', '-c', `setsid ${held.join(' ')} & sleep 0.2; exit 3`], none);
  const py = `setsid python3 -m http.server 8000 --bind $HOST >/dev/null 2>&1 </dev/null & exec ${served.join(' ')}`;
  await create(engine, 'py', ['sh', '-c', py]);
  await create(engine, 'leak', ['sh', '-c', `setsid ${leaked.join(' ')} >/dev/null 2>&1 </dev/null & sleep 0.2; exit 3`], { RestartPolicy: { Condition: 'any', Delay: 50_000_000 } });

  const hold = await waitFor('hold\'s task to end', async () => (await tasksOf(engine, 'hold')).find((task) => task.Status.State === 'failed'), 10_000);
  t.match(hold.Status, { State: 'failed', Err: 'task: non-zero exit (3)', ContainerStatus: { ExitCode: 3 } }, 'service ps shows the exit, with its code');
  t.same(await remaining(held, 2000), [], 'what it left running ended with it');
  await waitFor('three failed runs of leak', async () => (await tasksOf(engine, 'leak')).filter((task) => task.Status.State === 'failed').length >= 3, 20_000);
  t.ok(processesRunning(leaked).length <= 1, 'at most the running task\'s own, not one per restart');
  const pyTask = await waitFor('py running', async () => (await tasksOf(engine, 'py')).find((task) => task.Status.State === 'running'), 10_000);
  const address: string = pyTask.Endpoint.Addr;
  t.teardown(() => killAll(['python3', '-m', 'http.server', '8000', '--bind', address]));
  await waitFor('python listening', () => httpGet(address, 8000).catch(() => undefined), 10_000);

  const began = Date.now();
  child.kill('SIGINT');
  t.same(await within(exited, 5000), [0, null], 'Ctrl-C ends routemesh within 5 s');
  t.ok(Date.now() - began < 5000);
  t.same(await remaining(served, 2000), [], 'py\'s program is gone');
  t.same(await remaining(leaked, 2000), [], 'leak\'s too');
  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect({ host: address, port: 8000 });
    socket.on('connect', () => { socket.destroy(); resolve('connected'); }).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? ''));
  });
  t.equal(refused, 'ECONNREFUSED', 'and nothing listens on py\'s address any more');
});

/** SIGKILLs `up` with a task whose program started `setsid -f <sleep>`; that sleep must die within 2 s. */
async function killedWithSetsid(t: Test, cluster: Awaited<ReturnType<typeof up>>): Promise<void> {
  const escaped = sleeper(t);
  const main = sleeper(t);
  await create(cluster.engine, 'detached', ['sh', '-c', `setsid -f ${escaped.join(' ')} >/dev/null 2>&1 </dev/null; exec ${main.join(' ')}`]);
  await waitFor('both sleepers', () => processesRunning(escaped).length === 1 && processesRunning(main).length === 1, 20_000);
  cluster.child.kill('SIGKILL');
  t.same(await cluster.exited, [null, 'SIGKILL']);
  t.same(await remaining(main, 2000), [], 'the task\'s program died with routemesh');
  t.same(await remaining(escaped, 2000), [], 'and so did what it moved into a session of its own');
}

t.test('SIGKILL of `up`: what a task moved into a session of its own dies with it', async (t) => {
  await killedWithSetsid(t, await up(t, '127.21.0.0/24', '127.22.0.0/16', '127.23.0.0/16'));
});

t.test('the same as nobody, whose tasks get a user namespace with their PID namespace', { skip: rootOnly }, async (t) => {
  await killedWithSetsid(t, await up(t, '127.24.0.0/24', '127.24.64.0/18', '127.24.128.0/18', ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--']));
});
