// A routemesh/exec task's secrets, configs and mounts, through the runtime alone (no cluster, no socket):
// in a mount namespace of its own, the seed's `MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_pass` works
// verbatim, a config sits at a target whose directory the host does not have, a volume takes writes, a
// read-only bind refuses them, and nothing appears on the host; without one (mountNamespaces: false, what
// a machine without user namespaces gets), the same paths under $ROUTEMESH_ROOT, the --env values pointed
// there, the secret readable by the task's user only. `npm run test:unprivileged` runs this file as nobody.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Runtime, RuntimeError, healthProbe, mountNamespacesHere } from '../src/runtime/index.js';
import type { RunningTask, TaskRunSpec } from '../src/runtime/index.js';
import { testBlock, waitFor } from './support/cluster.js';

const BLOCK = testBlock(139); // no socket opens: the address (outside volumes-e2e's nodes, tasks and VIPs) is only named
const CONFIG_TARGET = '/etc/routemesh-test-conf/app.conf';
const VOLUME_TARGET = '/srv/routemesh-test-volume';
const BIND_TARGET = '/srv/routemesh-test-bind';

const scratch = await mkdtemp(path.join(tmpdir(), 'routemesh-task-files-'));
await chmod(scratch, 0o755);
t.teardown(() => rm(scratch, { recursive: true, force: true }));

function spec(taskId: string, over: Partial<TaskRunSpec>): TaskRunSpec {
  return { taskId, taskName: `files.1.${taskId}`, slot: 1, hostname: taskId.slice(0, 12), address: `127.${BLOCK}.250.2`, image: 'routemesh/exec', ports: [], ...over };
}

/** The task's output once it has exited, with its exit code. */
async function runToEnd(task: RunningTask): Promise<{ code: number; out: string[] }> {
  const code = await task.exited;
  return { code, out: task.logs.map((l) => `${l.stream === 'stderr' ? 'ERR ' : ''}${l.text}`) };
}

async function setup(name: string): Promise<{ taskDir: string; volume: string; bind: string }> {
  const base = await mkdtemp(path.join(scratch, `${name}-`));
  await chmod(base, 0o755);
  const volume = path.join(base, 'volume');
  const bind = path.join(base, 'bind');
  for (const dir of [volume, bind]) await import('node:fs/promises').then((fs) => fs.mkdir(dir, { mode: 0o755 }));
  await chmod(bind, 0o777); // writable by the task's user: only the mount can make it read-only
  await writeFile(path.join(bind, 'in'), 'from the host');
  await chmod(path.join(bind, 'in'), 0o644);
  return { taskDir: path.join(base, 'tasks'), volume, bind };
}

const SCRIPT = [
  'cat "$MYSQL_ROOT_PASSWORD_FILE"; echo',
  'cat "$CFG"; echo',
  'echo written > "$VOL/out" && echo volume-written',
  'cat "$RO/in"; echo',
  '(: > "$RO/x") 2>/dev/null && echo bind-writable || echo bind-read-only',
  'stat -c "%a" "$MYSQL_ROOT_PASSWORD_FILE"',
  'echo "root=${ROUTEMESH_ROOT:-none}"',
].join('; ');

function taskSpec(taskId: string, dirs: { volume: string; bind: string }): TaskRunSpec {
  return spec(taskId, {
    command: ['sh', '-c', SCRIPT],
    env: ['MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_pass', `CFG=${CONFIG_TARGET}`, `VOL=${VOLUME_TARGET}`, `RO=${BIND_TARGET}`],
    files: [
      { kind: 'secret', target: '/run/secrets/mysql_pass', data: Buffer.from('s3cret'), uid: 0, gid: 0, mode: 0o444 },
      { kind: 'config', target: CONFIG_TARGET, data: Buffer.from('key=1'), uid: 0, gid: 0, mode: 0o444 },
    ],
    mounts: [
      { Type: 'volume', Source: 'data', Target: VOLUME_TARGET, hostPath: dirs.volume },
      { Type: 'bind', Source: dirs.bind, Target: BIND_TARGET, ReadOnly: true },
    ],
  });
}

const namespaces = await mountNamespacesHere();

t.test('in a mount namespace of its own, the task reads them where a container would', { skip: namespaces ? false : 'no mount namespace here (user namespaces disabled): the fallback below is what tasks get' }, async (t) => {
  const dirs = await setup('ns');
  const runtime = new Runtime({ taskDir: dirs.taskDir });
  const task = await runtime.start(taskSpec('ns0000000001', dirs));
  t.teardown(() => task.stop(0));
  const { code, out } = await runToEnd(task);
  t.equal(code, 0, out.join('\n'));
  t.same(out, ['s3cret', 'key=1', 'volume-written', 'from the host', 'bind-read-only', '444', 'root=none']);
  t.equal(await readFile(path.join(dirs.volume, 'out'), 'utf8'), 'written\n', 'the write went to the volume\'s directory');
  t.notOk(existsSync(path.join(dirs.bind, 'x')), 'the read-only bind took no file');
  for (const made of ['/run/secrets', '/etc/routemesh-test-conf', VOLUME_TARGET, BIND_TARGET]) {
    t.notOk(existsSync(made), `nothing made on the host at ${made}`);
  }
  t.same(await readdir(path.join(dirs.taskDir, String(process.pid))), [], 'the task\'s directory is gone once it ended');
});

t.test('without a mount namespace, the same paths under $ROUTEMESH_ROOT, the --env values pointed there', async (t) => {
  const dirs = await setup('dir');
  // What a routemesh process killed with its tasks left: removed when the next one prepares a task.
  const gone = spawnSync('true').pid!;
  const left = path.join(dirs.taskDir, String(gone), 'old000000001', 'secrets');
  mkdirSync(left, { recursive: true });
  writeFileSync(path.join(left, 'mysql_pass'), 'left behind');
  const runtime = new Runtime({ taskDir: dirs.taskDir, mountNamespaces: false });
  const task = await runtime.start(taskSpec('dir000000001', dirs));
  t.teardown(() => task.stop(0));
  const { code, out } = await runToEnd(task);
  const root = path.join(dirs.taskDir, String(process.pid), 'dir000000001', 'root');
  t.equal(code, 0, out.join('\n'));
  t.same(out, ['s3cret', 'key=1', 'volume-written', 'from the host', 'bind-writable', '400', `root=${root}`],
    'read-only is not enforced there, and the secret is its user\'s alone');
  t.equal(await readFile(path.join(dirs.volume, 'out'), 'utf8'), 'written\n');
  t.notOk(existsSync('/run/secrets'), 'nothing made on the host at /run/secrets');
  t.notOk(existsSync(path.join(dirs.taskDir, String(gone))), 'a dead routemesh process\'s task directories are swept');
  t.same(await readdir(path.join(dirs.taskDir, String(process.pid))), [], 'the task\'s directory is gone once it ended');
  t.equal((await stat(dirs.taskDir)).mode & 0o777, 0o711, 'the directory of task directories lets no one list it');
});

const asRoot = process.getuid?.() === 0;

t.test('as root, a health command runs in the task\'s mount namespace and sees its secrets', { skip: namespaces && asRoot ? false : 'needs root and mount namespaces' }, async (t) => {
  const dirs = await setup('health');
  const runtime = new Runtime({ taskDir: dirs.taskDir });
  const task = await runtime.start(spec('hea000000001', {
    command: ['sleep', '30'],
    files: [{ kind: 'secret', target: '/run/secrets/mysql_pass', data: Buffer.from('s3cret'), uid: 0, gid: 0, mode: 0o444 }],
  }));
  t.teardown(() => task.stop(0));
  t.ok(task.mountNamespacePid, 'the task says where its mount namespace is');
  const check = ['CMD-SHELL', 'test "$(cat /run/secrets/mysql_pass)" = s3cret'];
  const inside = healthProbe(check, task.address, [], undefined, task.mountNamespacePid)!;
  t.ok(await waitFor('the check to read the secret', async () => (await inside(new AbortController().signal)) || undefined, 5000), 'the check reads the secret where the task does');
  const outside = healthProbe(check, task.address, [])!;
  t.notOk(await outside(new AbortController().signal), 'outside the namespace, the host has no /run/secrets');
});

const TOP = `routemesh-${process.pid}-${Date.now()}`;

t.test('as root, a target whose first directory the host lacks is made in a root of the task\'s own', { skip: namespaces && asRoot ? false : 'needs root and mount namespaces' }, async (t) => {
  const dirs = await setup('root');
  const runtime = new Runtime({ taskDir: dirs.taskDir });
  const [volumeAt, configAt] = [`/data-${TOP}`, `/${TOP}.conf`];
  t.teardown(() => Promise.all([volumeAt, configAt].map((at) => rm(at, { recursive: true, force: true }))));
  const task = await runtime.start(spec('root00000001', {
    command: ['sh', '-c', `cat ${configAt}; echo; echo written > ${volumeAt}/out && echo volume-written; pwd; cat /run/secrets/pass; echo; test -d ${dirs.taskDir} && echo host-files; test -e /proc/self/stat && echo proc; sleep 30`],
    dir: '/etc',
    files: [
      { kind: 'config', target: configAt, data: Buffer.from('key=2'), uid: 0, gid: 0, mode: 0o444 },
      { kind: 'secret', target: '/run/secrets/pass', data: Buffer.from('s3cret'), uid: 0, gid: 0, mode: 0o444 },
    ],
    mounts: [{ Type: 'volume', Source: 'data', Target: volumeAt, hostPath: dirs.volume }],
  }));
  t.teardown(() => task.stop(0));
  t.ok(await waitFor('the task\'s six lines', async () => task.logs.length >= 6 || undefined, 5000), task.logs.map((l) => l.text).join('\n'));
  t.same(task.logs.map((l) => `${l.stream === 'stderr' ? 'ERR ' : ''}${l.text}`), ['key=2', 'volume-written', '/etc', 's3cret', 'host-files', 'proc'],
    'the config and volume at their targets, the working directory kept, the host\'s mounts (/proc) and files (the task directory) seen');
  const check = ['CMD-SHELL', `test "$(cat ${configAt})" = key=2 && test -f ${volumeAt}/out`];
  t.ok(await waitFor('the health check to see the task\'s root', async () => (await healthProbe(check, task.address, [], undefined, task.mountNamespacePid)!(new AbortController().signal)) || undefined, 5000),
    'a health command joining the namespace sees the task\'s root');
  t.equal(await task.stop(5000), 143, 'a stop ends it as before (SIGTERM)');
  t.equal(await readFile(path.join(dirs.volume, 'out'), 'utf8'), 'written\n', 'the write went to the volume\'s directory');
  for (const made of [volumeAt, configAt, '/run/secrets']) t.notOk(existsSync(made), `nothing made on the host at ${made}`);
  t.same(await readdir(path.join(dirs.taskDir, String(process.pid))), [], 'the task\'s directory is gone once it ended');
});

t.test('a target routemesh cannot make is refused before anything runs, saying what to do', async (t) => {
  const dirs = await setup('refused');
  const runtime = new Runtime({ taskDir: dirs.taskDir });
  const refused = spec('ref000000001', {
    command: ['true'],
    mounts: [{ Type: 'volume', Source: 'data', Target: '/routemesh-no-such-top-dir/data', hostPath: dirs.volume }],
  });
  if (namespaces && !asRoot) {
    await t.rejects(runtime.start(refused), new RuntimeError('INVALID_MOUNT',
      'routemesh cannot make /routemesh-no-such-top-dir/data for the task: /routemesh-no-such-top-dir does not exist on this machine, and a root of the task\'s own ' +
      '(an overlay on /) needs routemesh to run as root (in a user namespace the kernel refuses it); create the directory /routemesh-no-such-top-dir, or choose a target under an existing directory (e.g. /srv/routemesh-no-such-top-dir/data)'));
  }
  await t.rejects(runtime.start(spec('ref000000002', { command: ['true'], files: [
    { kind: 'secret', target: '/run/secrets/a', data: Buffer.from('1'), uid: 0, gid: 0, mode: 0o444 },
    { kind: 'config', target: '/run/secrets/a', data: Buffer.from('2'), uid: 0, gid: 0, mode: 0o444 },
  ] })), { code: 'INVALID_MOUNT', message: 'invalid mount config: duplicate mount point: /run/secrets/a' });
  t.same(await readdir(path.join(dirs.taskDir, String(process.pid))).catch(() => []), [], 'a refused task leaves no directory');
});
