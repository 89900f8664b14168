// Each node's engine API on a Unix socket, as Docker's /var/run/docker.sock: only its owner can connect,
// curl, the docker CLI and routemesh work through it, and it goes when the node stops.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { defaultSocketDir } from '../src/engine/index.js';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';
import { cliEnv, dockerEnv, routemesh, run } from './support/cli.js';

const BLOCK = testBlock(87); // nodes 127.87.0.x, tasks 127.88/16, VIPs 127.89/16

/** A socket directory of the test's own, short enough for a socket path (108 bytes). */
function socketDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'routemesh-test-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('every node serves its engine API on an owner-only socket, removed when the cluster closes', async (t) => {
  const dir = socketDir(t);
  const cluster = await testCluster(t, BLOCK, { nodes: 2, metricsPort: undefined, socketDir: dir });
  const [node1, node2] = cluster.nodes;
  t.equal(node1!.socketUrl, `unix://${dir}/127.${BLOCK}.0.1.sock`);
  const file = node1!.socketUrl.slice('unix://'.length);
  t.equal(fs.statSync(dir).mode & 0o777, 0o700, 'the directory is its user\'s alone');
  for (const node of cluster.nodes) {
    const stat = fs.statSync(node.socketUrl.slice('unix://'.length));
    t.ok(stat.isSocket(), node.hostname);
    t.equal(stat.mode & 0o777, 0o600, `${node.hostname}: owner only`);
  }

  await t.test('curl --unix-socket reaches the engine; a request there is trusted whatever its Host', async (t) => {
    const curl = await run('curl', ['-s', '--unix-socket', file, '-H', 'Host: api.moby.localhost', 'http://localhost/v1.50/nodes'], process.env);
    t.equal(curl.code, 0, curl.stderr);
    t.same(JSON.parse(curl.stdout).map((n: any) => n.Description.Hostname).sort(), ['node1', 'node2']);
    const rebound = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', file, '-H', 'Host: evil.example', 'http://localhost/v1.50/swarm'], process.env);
    t.equal(rebound.stdout, '200', 'no web page reaches a socket: its file mode is the boundary');
  });

  const noDocker = await run('docker', ['--version'], process.env).then(() => false, () => 'no docker CLI (Debian: docker-cli)');
  await t.test('DOCKER_HOST=unix://... docker node ls', { skip: noDocker }, async (t) => {
    const ls = await run('docker', ['node', 'ls', '--format', '{{.Hostname}}'], { ...dockerEnv(node1!.address), DOCKER_HOST: node1!.socketUrl });
    t.equal(ls.code, 0, ls.stderr);
    t.same(ls.stdout.trim().split('\n').sort(), ['node1', 'node2']);
  });

  await t.test('routemesh takes a node\'s socket from ROUTEMESH_HOST or DOCKER_HOST', async (t) => {
    const own = await routemesh(['node', 'ls'], cliEnv(node1!.socketUrl));
    t.equal(own.code, 0, own.stderr);
    t.match(own.stdout, /node1 .*Ready .*Leader/);
    const env: NodeJS.ProcessEnv = { ...cliEnv(''), DOCKER_HOST: node1!.socketUrl };
    delete env.ROUTEMESH_HOST;
    const token = await routemesh(['swarm', 'join-token', '-q', 'worker'], env);
    t.equal(token.code, 0, token.stderr);
    t.equal(token.stdout.trim(), (await api(node1!.apiUrl, 'GET', '/swarm')).body.JoinTokens.Worker, 'this cluster\'s, not the default one\'s');
    const missing = await routemesh(['node', 'ls'], cliEnv(`unix://${dir}/127.${BLOCK}.0.9.sock`));
    t.equal(missing.code, 1);
    t.match(missing.stderr, new RegExp(`Cannot connect to the routemesh engine at unix://${dir}/127\\.${BLOCK}\\.0\\.9\\.sock: no such socket\\.`));
  });

  await t.test('a failed node\'s socket goes, and comes back when it recovers', async (t) => {
    const file2 = node2!.socketUrl.slice('unix://'.length);
    t.equal((await api(node1!.apiUrl, 'POST', '/routemesh/nodes/node2/fail')).status, 200);
    t.notOk(fs.existsSync(file2));
    t.equal((await api(node1!.apiUrl, 'POST', '/routemesh/nodes/node2/recover')).status, 200);
    t.equal(fs.statSync(file2).mode & 0o777, 0o600);
  });

  await cluster.close();
  t.same(fs.readdirSync(dir), [], 'no socket is left behind');
});

t.test('a socket a killed routemesh left is replaced; a directory others may enter is refused', async (t) => {
  const dir = socketDir(t);
  // A socket file nothing listens on, as a SIGKILL leaves one: a second name for a socket that then closes.
  const stale = path.join(dir, `127.${BLOCK}.0.1.sock`);
  const server = net.createServer();
  t.teardown(() => { if (server.listening) server.close(); });
  await new Promise<void>((resolve) => server.listen(path.join(dir, 'first.sock'), resolve));
  fs.linkSync(path.join(dir, 'first.sock'), stale);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const cluster = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined, socketDir: dir });
  t.equal((await run('curl', ['-s', '--unix-socket', stale, 'http://localhost/_ping'], process.env)).stdout, 'OK');
  await cluster.close();

  // The advice is a directory of the sockets' own, never a chmod: the directory may be shared, like a sticky /tmp.
  const uid = process.getuid!();
  for (const [mode, shown] of [[0o755, '755'], [0o1777, '1777']] as const) {
    const open = socketDir(t);
    fs.chmodSync(open, mode);
    await t.rejects(testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined, socketDir: open }), {
      message: `cannot start the cluster: the engine socket directory ${open} must be a directory only uid ${uid} can enter (it is owner uid ${uid}, mode ${shown}): ` +
        `give the sockets a new directory of their own, which routemesh creates owner-only, such as --socket-dir ${open}/routemesh-${uid}`,
    });
    t.equal(fs.statSync(open).mode & 0o7777, mode, 'and it is left as it was');
    const advised = await testCluster(t, BLOCK, { nodes: 1, metricsPort: undefined, socketDir: path.join(open, `routemesh-${uid}`) });
    t.equal(fs.statSync(path.join(open, `routemesh-${uid}`)).mode & 0o777, 0o700, 'the advised directory works');
    await advised.close();
  }
  await waitFor('the refused cluster\'s engine API to close', async () => {
    const res = await fetch(`http://127.${BLOCK}.0.1:2375/_ping`).catch(() => undefined);
    return res === undefined;
  });
});

t.test('the default socket directory: the runtime directory, else /run for root, else a private one in tmp', async (t) => {
  const saved = process.env.XDG_RUNTIME_DIR;
  t.teardown(() => { if (saved === undefined) delete process.env.XDG_RUNTIME_DIR; else process.env.XDG_RUNTIME_DIR = saved; });
  process.env.XDG_RUNTIME_DIR = '/run/user/1000';
  t.equal(defaultSocketDir(), '/run/user/1000/routemesh');
  delete process.env.XDG_RUNTIME_DIR;
  t.equal(defaultSocketDir(), process.getuid!() === 0 ? '/run/routemesh' : path.join(os.tmpdir(), `routemesh-${process.getuid!()}`));
});
