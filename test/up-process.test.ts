// `routemesh up` as a real process, on 127.25.0.0/24 (tasks 127.26.0.0/24, VIPs 127.27.0.0/24): it
// survives a reader of its output that went away, any fatal path still closes the cluster and its
// sockets, and it suggests commands as the user can type them.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { api, serviceSpec, testBlock, waitFor } from './support/cluster.js';
import { upProcess } from './support/cli.js';

const BLOCK = testBlock(25);
const ENGINE = `http://127.${BLOCK}.0.1:2375`;
const FAULT = fileURLToPath(new URL('./fixtures/fault-on-signal.mjs', import.meta.url));

/** `up` in a child process with its sockets in a directory of the test's own. */
async function up(t: Test, nodeArgs: string[] = []) {
  const socketDir = mkdtempSync(path.join(os.tmpdir(), 'routemesh-up-process-'));
  t.teardown(() => rmSync(socketDir, { recursive: true, force: true }));
  // In one process: a swarm of node processes needs the cluster protocol (node start's own tests run them).
  const up = await upProcess(t, ['--in-process', '--nodes', '2', '--subnet', `127.${BLOCK}.0.0/24`, '--task-subnet', `127.${BLOCK + 1}.0.0/24`,
    '--vip-subnet', `127.${BLOCK + 2}.0.0/24`, '--dns', `127.${BLOCK}.0.250`, '--dns-upstream', `127.${BLOCK}.0.251`,
    '--metrics-port', 'off', '--socket-dir', socketDir], userEnv(), { nodeArgs });
  t.same(readdirSync(socketDir).sort(), [`127.${BLOCK}.0.1.sock`, `127.${BLOCK}.0.2.sock`], 'a socket per node');
  return { ...up, socketDir };
}

/** The environment of a user's shell, not npm's (`npm test` sets INIT_CWD and npm_command). */
function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.INIT_CWD;
  delete env.npm_command;
  return env;
}

t.test('a reader of its output that went away (`up 2>&1 | head -3`) does not stop the cluster', async (t) => {
  const { child, exited, socketDir } = await up(t);
  child.stdout!.destroy();
  child.stderr!.destroy();
  // Each of these is logged: the writes now fail with EPIPE.
  for (const name of ['after-close-1', 'after-close-2']) {
    t.equal((await api(ENGINE, 'POST', '/services/create', serviceSpec(name, 'routemesh/echo'))).status, 201);
  }
  await waitFor('both services logged as running', async () => (await api<any[]>(ENGINE, 'GET', '/tasks')).body.filter((task) => task.Status.State === 'running').length === 2);
  t.equal((await api(ENGINE, 'GET', '/_ping')).status, 200, 'the engine still answers');
  t.equal(child.exitCode, null, 'up still runs');
  child.kill('SIGTERM');
  t.same(await exited, [0, null], 'and stops cleanly when asked');
  t.same(readdirSync(socketDir), [], 'its sockets are gone');
});

t.test('started from the checkout\'s root, it suggests ./routemesh, since a fresh clone has no routemesh on its PATH', async (t) => {
  const { child, exited, stdout } = await up(t);
  t.equal(process.cwd(), fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''), 'tap runs this file from the checkout\'s root');
  t.match(stdout(), `\nFrom another terminal:\n    export ROUTEMESH_HOST=tcp://127.${BLOCK}.0.1:2375\n    ./routemesh node ls\n    ./routemesh service create --name web `);
  child.kill('SIGTERM');
  t.same(await exited, [0, null]);
});

t.test('an error nothing catches still closes the cluster: its sockets are removed, exit code 1', async (t) => {
  const { child, exited, socketDir, stderr } = await up(t, ['--import', FAULT]);
  child.kill('SIGUSR2');
  t.same(await exited, [1, null]);
  t.match(stderr(), /injected fault \(SIGUSR2\)[^]*Stopping the cluster after this unexpected error/);
  t.same(readdirSync(socketDir), [], 'its sockets are gone');
});
