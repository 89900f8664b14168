// routemesh/exec tasks behave like containers: stdout and stderr are pipes (a program may open /dev/stdout),
// the environment is the task's own and not the operator's, and under root the program and its health
// commands run as the service's --user, never silently as root. Tasks on 127.41.200.x; a cluster on 127.41-43.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import t from 'tap';
import type { Test } from 'tap';
import { healthProbe, Runtime } from '../src/runtime/index.js';
import type { RunningTask, TaskRunSpec } from '../src/runtime/index.js';
import { resolveTaskUser } from '../src/runtime/TaskUser.js';
import { api, testCluster, waitForRunning } from './support/cluster.js';
import { cliEnv, routemesh } from './support/cli.js';
import { descendantNamed } from './support/processes.js';

const isRoot = process.getuid?.() === 0;
const rootOnly = isRoot ? false : 'not root: tasks run as routemesh\'s own user, and no other';
let nextHost = 2;

function spec(over: Partial<TaskRunSpec>): TaskRunSpec {
  const host = nextHost++;
  return { taskId: `task${host}`, taskName: `exec.1.task${host}`, slot: 1, hostname: 'c0ffee000001', address: `127.41.200.${host}`, image: 'routemesh/exec', ports: [], ...over };
}

async function start(t: Test, s: TaskRunSpec): Promise<RunningTask> {
  const task = await new Runtime().start(s);
  t.teardown(() => task.stop(0));
  return task;
}

async function untilLogged(task: RunningTask, text: string): Promise<void> {
  if (task.logs.some((l) => l.text === text)) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no line "${text}" within 5 s; logs: ${JSON.stringify(task.logs)}`)); }, 5000);
    const off = task.onLog((l) => { if (l.text === text) { clearTimeout(timer); off(); resolve(); } });
  });
}

/** Real, effective, saved and filesystem ids, and supplementary groups, of a live process. */
function credentials(pid: number): { uid: number[]; gid: number[]; groups: number[] } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter(Boolean).map(Number);
  return { uid: field('Uid'), gid: field('Gid'), groups: field('Groups') };
}

t.test('a program that opens /dev/stdout and /dev/stderr writes there and keeps running', async (t) => {
  const task = await start(t, spec({ command: ['sh', '-c', 'echo via-stdout > /dev/stdout; echo via-stderr > /dev/stderr; exec sleep 1000'] }));
  await untilLogged(task, 'via-stderr');
  await untilLogged(task, 'via-stdout');
  t.same(task.logs.map((l) => [l.stream, l.text]).sort(), [['stderr', 'via-stderr'], ['stdout', 'via-stdout']], 'each on its stream, and nothing else said');
  t.doesNotThrow(() => process.kill(task.pid, 0), 'still running');
});

t.test('a task that exits keeps its last lines, the one without a newline included', async (t) => {
  const task = await start(t, spec({ command: ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done; printf last >&2; exit 3'] }));
  t.equal(await task.exited, 3);
  t.equal(task.logs.length, 301);
  t.same(task.logs.at(-2), { ...task.logs.at(-2), stream: 'stdout', text: 'line299' });
  t.same(task.logs.at(-1), { ...task.logs.at(-1), stream: 'stderr', text: 'last' });
});

t.test('the environment is the task\'s: PATH, HOME, its --env and where it listens; none of the operator\'s', async (t) => {
  const secret = `ROUTEMESH_OPERATOR_${process.pid}_${Date.now()}`;
  process.env[secret] = 'must not leak';
  t.teardown(() => { delete process.env[secret]; });
  // NUL-separated and on one line, since a value may hold a newline.
  const s = spec({ command: ['sh', '-c', 'env -0 | base64 -w0'], env: ['GREETING=hi'], ports: [{ protocol: 'tcp', targetPort: 8080 }] });
  const task = await start(t, s);
  t.equal(await task.exited, 0);
  const entries = Buffer.from(task.logs[0]!.text, 'base64').toString().split('\0').filter(Boolean);
  const env = Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  t.notOk(secret in env, 'no variable of the operator\'s');
  // As root the task runs as nobody, with a container's PATH; without root as routemesh's user, with its PATH.
  const path = isRoot ? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' : process.env.PATH;
  t.match(env, { PATH: path, PWD: '/', HOME: /^\//, GREETING: 'hi', HOST: s.address, PORT: '8080', HOSTNAME: 'c0ffee000001', TASK_NAME: s.taskName, TASK_SLOT: '1' });
  // tap puts its hooks (NODE_OPTIONS, _TAPJS_*) into the environment of every process this test starts; sh adds PWD.
  const expected = ['PATH', 'HOME', 'GREETING', 'HOST', 'PORT', 'HOSTNAME', 'TASK_NAME', 'TASK_SLOT', 'NODE_OPTIONS', 'PWD'];
  const others = Object.keys(env).filter((k) => !expected.includes(k) && !k.startsWith('_TAPJS_'));
  t.same(others, [], 'and nothing else');
});

t.test('as root, a task runs as nobody unless --user names another, and still listens on port 80', { skip: rootOnly }, async (t) => {
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
  const sleeper = await start(t, spec({ command: ['sleep', '1000'] }));
  t.same(credentials(await descendantNamed(sleeper.pid, 'sleep')).uid, [nobody, nobody, nobody, nobody], 'without --user: nobody, not root');

  const daemon = { uid: Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'daemon'], { encoding: 'utf8' })) };
  const named = await start(t, spec({ command: ['sleep', '1000'], user: 'daemon' }));
  const namedSleep = await descendantNamed(named.pid, 'sleep');
  t.same(credentials(namedSleep).uid, Array(4).fill(daemon.uid), '--user daemon: its uid');
  t.same(credentials(namedSleep).gid, Array(4).fill(daemon.gid), 'and its group');

  const numeric = await start(t, spec({ command: ['sleep', '1000'], user: '4321:8765' }));
  t.same(credentials(await descendantNamed(numeric.pid, 'sleep')), { uid: Array(4).fill(4321), gid: Array(4).fill(8765), groups: [] }, '--user uid:gid, no other group');

  const server = 'require("node:http").createServer((q, s) => s.end(String(process.getuid()))).listen(Number(process.env.PORT), process.env.HOST, () => console.log("listening"))';
  const s = spec({ command: [process.execPath, '-e', server], ports: [{ protocol: 'tcp', targetPort: 80 }] });
  const web = await start(t, s);
  t.same(web.ports, [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 80 }]);
  await untilLogged(web, 'listening');
  const body = await new Promise<string>((resolve, reject) => {
    http.get({ host: s.address, port: 80, agent: false }, (res) => { let b = ''; res.on('data', (c) => (b += c)).on('end', () => resolve(b)); }).on('error', reject);
  });
  t.equal(body, String(nobody), 'nobody serves on port 80, as a container may');
});

t.test('as root, an unknown user or group fails the task with Docker\'s words', { skip: rootOnly }, async (t) => {
  await t.rejects(new Runtime().start(spec({ command: ['sleep', '1000'], user: 'no-such-user-38' })), {
    code: 'START_FAILED', message: /^unable to find user no-such-user-38: no matching entries in passwd file/,
  });
  await t.rejects(new Runtime().start(spec({ command: ['sleep', '1000'], user: 'daemon:no-such-group-38' })), {
    code: 'START_FAILED', message: /^unable to find group no-such-group-38: no matching entries in group file/,
  });
});

t.test('as root, a health command runs as the task\'s user: nobody by default, the --user given otherwise', { skip: rootOnly }, async (t) => {
  const nobody = execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim();
  const daemon = execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' }).trim();
  const check = (uid: string, user?: string) => healthProbe(['CMD-SHELL', `test "$(id -u)" = ${uid}`], '127.41.200.1', [], user)!(new AbortController().signal);
  t.equal(await check(nobody), true, 'without --user: nobody');
  t.equal(await check('0'), false, 'so not root');
  t.equal(await check(daemon, 'daemon'), true, '--user daemon: daemon');
  t.equal(await check('0', 'root'), true, 'root only when the service asks for it');
});

t.test('without root, --user can only name routemesh\'s own user', async (t) => {
  const own = { uid: 1000, gid: 1000 };
  t.match(await resolveTaskUser(undefined, own), { uid: 1000, gid: 1000, switchTo: false }, 'no --user: routemesh\'s own');
  t.match(await resolveTaskUser('1000', own), { uid: 1000, switchTo: false });
  await t.rejects(resolveTaskUser('daemon', own), {
    code: 'START_FAILED', message: /^routemesh runs as uid 1000 \(gid 1000\), so it cannot run this task as user daemon .*; run routemesh as root, or leave out --user\.$/,
  });
  await t.rejects(resolveTaskUser('1000:0', own), { code: 'START_FAILED', message: /cannot run this task as user 1000:0/ });
});

t.test('service logs shows what a task wrote through /dev/stdout and /dev/stderr', async (t) => {
  const cluster = await testCluster(t, 41, { nodes: 1 });
  const base = cluster.nodes[0]!.apiUrl;
  const created = await api(base, 'POST', '/services/create', {
    Name: 'devout', TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: ['sh', '-c', 'echo to-dev-stdout > /dev/stdout; echo to-dev-stderr > /dev/stderr; exec sleep 1000'] } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(created.status, 201);
  const [task] = await waitForRunning(base, 'devout', 1);
  const prefix = `devout\\.1\\.${task.ID.slice(0, 12)}@node1`; // the CLI truncates the task ID, as docker does
  let out = { stdout: '', stderr: '' };
  for (const deadline = Date.now() + 5000; !(out.stdout.includes('to-dev-stdout') && out.stderr.includes('to-dev-stderr')) && Date.now() < deadline;) {
    out = await routemesh(['service', 'logs', 'devout'], cliEnv(`tcp://${cluster.nodes[0]!.address}:2375`));
  }
  t.match(out.stdout, new RegExp(`^${prefix} +\\| to-dev-stdout$`, 'm'));
  t.match(out.stderr, new RegExp(`^${prefix} +\\| to-dev-stderr$`, 'm'), 'the task\'s stderr on the CLI\'s, as docker prints it');
});

t.test('as root, the engine runs a service\'s task and its health command as the service\'s --user', { skip: rootOnly }, async (t) => {
  const cluster = await testCluster(t, 41, { nodes: 1 });
  const base = cluster.nodes[0]!.apiUrl;
  const daemon = Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' }));
  // The task turns running only once the check passed, which it does only as daemon.
  const created = await api(base, 'POST', '/services/create', {
    Name: 'as-daemon',
    TaskTemplate: { ContainerSpec: {
      Image: 'routemesh/exec', Command: ['sleep', '1000'], User: 'daemon',
      Healthcheck: { Test: ['CMD-SHELL', `test "$(id -u)" = ${daemon}`], Interval: 100_000_000, Retries: 1 },
    } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(created.status, 201);
  const [task] = await waitForRunning(base, 'as-daemon', 1);
  t.equal(task.Status.ContainerStatus.PID > 0, true);
  t.equal(credentials(await descendantNamed(task.Status.ContainerStatus.PID, 'sleep')).uid[0], daemon, 'the task\'s process runs as daemon');
});
