// `docker volume` through the real docker CLI, and volumes and binds mounted into routemesh/exec tasks:
// volumes are node-local directories (a volume mount makes one on the task's node), one task writes a
// volume and the next reads it, a read-only mount refuses writes, removal while a task uses it is refused
// in Docker's words, and a bind of a missing path rejects the task with Swarm's message.
import t from 'tap';
import { testBlock, testCluster, waitFor } from './support/cluster.js';
import { docker } from './support/cli.js';
import { missingTool } from './support/tools.js';
import { mountNamespacesHere } from '../src/runtime/index.js';

const BLOCK = testBlock(139); // one /16: nodes 127.139.0.x, tasks 127.139.32/19, VIPs 127.139.64/19
const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { taskSubnet: `127.${BLOCK}.32.0/19`, vipSubnet: `127.${BLOCK}.64.0/19` });
const NODE1 = `127.${BLOCK}.0.1`;
const NODE2 = `127.${BLOCK}.0.2`;
const TARGET = '/srv/routemesh-e2e-volume';

/** The service's tasks as `service ps` shows them: state and error, newest first. */
async function states(service: string): Promise<string[]> {
  const { stdout } = await docker(NODE1, 'service', 'ps', service, '--no-trunc', '--format', '{{.CurrentState}}|{{.Error}}');
  return stdout.trim().split('\n');
}

t.test('docker volume create, ls, inspect, rm on one node', { skip }, async (t) => {
  const created = await docker(NODE1, 'volume', 'create', '--label', 'env=test', 'myvol');
  t.same([created.code, created.stdout], [0, 'myvol\n'], created.stderr);
  t.equal((await docker(NODE1, 'volume', 'create', 'myvol')).code, 0, 'a name taken answers with that volume, as Docker');
  const listed = await docker(NODE1, 'volume', 'ls', '--filter', 'label=env=test', '--format', '{{.Driver}} {{.Name}}');
  t.equal(listed.stdout, 'local myvol\n');
  const [inspect] = JSON.parse((await docker(NODE1, 'volume', 'inspect', 'myvol')).stdout);
  t.match(inspect, { Name: 'myvol', Driver: 'local', Scope: 'local', Labels: { env: 'test' }, Mountpoint: /\/myvol\/_data$/ });
  t.equal((await docker(NODE2, 'volume', 'ls', '-q')).stdout, '', 'volumes are node-local: node2 has none');
  const short = await docker(NODE1, 'volume', 'create', 'a');
  t.same([short.code, short.stderr], [1, 'Error response from daemon: volume name is too short, names should be at least two alphanumeric characters\n']);
  const removed = await docker(NODE1, 'volume', 'rm', 'myvol');
  t.same([removed.code, removed.stdout], [0, 'myvol\n']);
  const gone = await docker(NODE1, 'volume', 'inspect', 'myvol');
  t.same([gone.code, gone.stderr], [1, 'Error response from daemon: get myvol: no such volume\n']);
});

t.test('a volume written by one task is read by the next; in use, it stays', { skip }, async (t) => {
  const common = ['-d', '--restart-condition', 'none', '--constraint', 'node.hostname==node2', '-e', `VOL=${TARGET}`];
  const writer = await docker(NODE1, 'service', 'create', ...common, '--name', 'writer',
    '--mount', `type=volume,source=shared,target=${TARGET}`, 'routemesh/exec', 'sh', '-c', 'echo hello-from-writer > "$VOL/note"');
  t.equal(writer.code, 0, writer.stderr);
  t.teardown(() => docker(NODE1, 'service', 'rm', 'writer', 'reader'));
  await waitFor('the writer to complete', async () => (await states('writer'))[0]!.startsWith('Complete') || undefined, 20_000);
  t.equal((await docker(NODE2, 'volume', 'ls', '-q')).stdout, 'shared\n', 'the mount made the volume on the task\'s node');

  const reader = await docker(NODE1, 'service', 'create', ...common, '--name', 'reader',
    '--mount', `type=volume,source=shared,target=${TARGET},readonly`, 'routemesh/exec',
    'sh', '-c', 'cat "$VOL/note"; (: > "$VOL/x") 2>/dev/null && echo writable || echo read-only; exec sleep 1000');
  t.equal(reader.code, 0, reader.stderr);
  const logs = await waitFor('the reader to say what it read', async () => {
    const { stdout } = await docker(NODE1, 'service', 'logs', '--raw', 'reader');
    return stdout.includes('read') ? stdout : undefined;
  }, 20_000);
  // Without a mount namespace (the $ROUTEMESH_ROOT fallback) read-only is not enforced, as the README says.
  t.equal(logs, `hello-from-writer\n${(await mountNamespacesHere()) ? 'read-only' : 'writable'}\n`);

  const inUse = await docker(NODE2, 'volume', 'rm', 'shared');
  t.equal(inUse.code, 1);
  t.match(inUse.stderr, /^Error response from daemon: remove shared: volume is in use - \[[0-9a-f]{12}\]\n$/, 'Docker\'s words, naming the container');
  t.equal((await docker(NODE1, 'service', 'rm', 'reader', 'writer')).code, 0);
  await waitFor('the volume to be free', async () => (await docker(NODE2, 'volume', 'rm', 'shared')).code === 0 || undefined, 20_000);
});

t.test('an anonymous volume is made for its task and removed when the task ends, as Docker removes it with its container', { skip }, async (t) => {
  const create = await docker(NODE1, 'service', 'create', '-d', '--name', 'anon', '--restart-condition', 'none', '--constraint', 'node.hostname==node2',
    '--mount', `type=volume,target=${TARGET}`, 'routemesh/exec', 'sh', '-c', `ls -d ${TARGET} && exec sleep 1000`);
  t.equal(create.code, 0, create.stderr);
  t.teardown(() => docker(NODE1, 'service', 'rm', 'anon'));
  const made = await waitFor('the task\'s anonymous volume', async () => {
    const { stdout } = await docker(NODE2, 'volume', 'ls', '-q');
    return /^[0-9a-f]{64}$/m.test(stdout) ? stdout.trim() : undefined;
  }, 20_000);
  t.equal((await docker(NODE1, 'service', 'rm', 'anon')).code, 0);
  await waitFor('the anonymous volume to go with its task', async () => !(await docker(NODE2, 'volume', 'ls', '-q')).stdout.includes(made) || undefined, 20_000);
  t.pass(`volume ${made.slice(0, 12)} removed`);
});

t.test('a bind of a missing path rejects the task with Swarm\'s message', { skip }, async (t) => {
  const create = await docker(NODE1, 'service', 'create', '-d', '--name', 'badbind', '--restart-condition', 'none',
    '--mount', 'type=bind,source=/routemesh-no-such-dir,target=/srv/x', 'routemesh/exec', 'true');
  t.equal(create.code, 0, create.stderr);
  t.teardown(() => docker(NODE1, 'service', 'rm', 'badbind'));
  const [state] = await waitFor('the task to be rejected', async () => {
    const seen = await states('badbind');
    return seen[0]!.startsWith('Rejected') ? seen : undefined;
  }, 20_000);
  t.match(state, /^Rejected .*\|"invalid mount config for type "bind": bind source path does not exist: \/routemesh-no-such-dir"$/, 'the CLI quotes the error');
});
