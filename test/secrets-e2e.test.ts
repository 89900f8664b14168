// `docker secret` and `docker config` through the real docker CLI, and the seed's
// `docker service create --secret source=test,target=mysql_pass -e MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_pass ...`
// with a routemesh/exec task that reads the secret where a container would (`service logs` shows it), a
// config at its target path beside it; a secret's data never comes back through the API, a config's does;
// names, sizes and references are refused in swarmkit's words, removal while a service uses one too.
import { execFile } from 'node:child_process';
import t from 'tap';
import type { Test } from 'tap';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';
import { docker, dockerEnv } from './support/cli.js';
import type { CliResult } from './support/cli.js';
import { missingTool } from './support/tools.js';

const BLOCK = testBlock(138); // one /16: nodes 127.138.0.x, tasks 127.138.32/19, VIPs 127.138.64/19
const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { taskSubnet: `127.${BLOCK}.32.0/19`, vipSubnet: `127.${BLOCK}.64.0/19` });
const NODE1 = `127.${BLOCK}.0.1`;
const NODE3 = `127.${BLOCK}.0.3`;
const BASE = `http://${NODE1}:2375`;
const daemon = (desc: string): string => `Error response from daemon: rpc error: code = InvalidArgument desc = ${desc}\n`;

/** `docker ...args` with `input` on its stdin (`docker secret create NAME -`). */
function dockerWithInput(address: string, input: string, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile('docker', args, { env: dockerEnv(address), timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin!.end(input);
  });
}

async function refused(t: Test, result: CliResult, stderr: string, what: string): Promise<void> {
  t.equal(result.code, 1, what);
  t.equal(result.stderr, stderr, what);
}

t.test('secret and config: create, ls, inspect, refusals', { skip }, async (t) => {
  const created = await dockerWithInput(NODE1, 's3cret', 'secret', 'create', 'test', '-');
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /^[a-z0-9]{25}\n$/, 'the CLI prints the new secret\'s ID');
  await refused(t, await dockerWithInput(NODE1, 'again', 'secret', 'create', 'test', '-'),
    'Error response from daemon: rpc error: code = AlreadyExists desc = secret test already exists\n', 'a name is taken once');
  await refused(t, await dockerWithInput(NODE1, 'x', 'secret', 'create', 'bad!name', '-'),
    daemon('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]'), 'swarmkit\'s name rule');
  await refused(t, await dockerWithInput(NODE1, 'x'.repeat(500 * 1024), 'secret', 'create', 'big', '-'),
    daemon('secret data must be larger than 0 and less than 512000 bytes'), 'swarmkit\'s size limit');

  const inspect = JSON.parse((await docker(NODE1, 'secret', 'inspect', 'test')).stdout);
  t.equal(inspect[0].Spec.Name, 'test');
  t.notOk('Data' in inspect[0].Spec, 'a secret\'s data never comes back');
  const listed = await docker(NODE1, 'secret', 'ls', '--filter', 'name=te', '--format', '{{.ID}} {{.Name}}');
  t.equal(listed.stdout, `${inspect[0].ID} test\n`);
  t.equal((await docker(NODE1, 'secret', 'ls', '-q', '--filter', 'name=nope')).stdout, '', 'filters as Docker\'s');
  await refused(t, await docker(NODE3, 'secret', 'ls'), "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.\n", 'a worker has no secrets to show');

  const conf = await dockerWithInput(NODE1, 'key=1', 'config', 'create', 'app-conf', '-');
  t.equal(conf.code, 0, conf.stderr);
  const data = await docker(NODE1, 'config', 'inspect', 'app-conf', '--format', '{{printf "%s" .Spec.Data}}');
  t.equal(data.stdout, 'key=1\n', 'a config\'s data is shown, as Docker shows it');

  // Labels are all an update may change (POST /secrets/{id}/update, as the API has it).
  const { ID: id, Version: version } = inspect[0];
  t.equal((await api(BASE, 'POST', `/secrets/${id}/update?version=${version.Index}`, { Name: 'test', Labels: { tier: 'db' } })).status, 200);
  const relabelled = await api(BASE, 'GET', `/secrets/${id}`);
  t.same(relabelled.body.Spec.Labels, { tier: 'db' });
  const renamed = await api(BASE, 'POST', `/secrets/${id}/update?version=${relabelled.body.Version.Index}`, { Name: 'other', Labels: {} });
  t.same([renamed.status, renamed.body.message], [400, 'rpc error: code = InvalidArgument desc = only updates to Labels are allowed']);
});

/** The service's output (`docker service logs --raw`) once `done` says it is all there. */
function outputOnce(service: string, done: (output: string) => boolean): Promise<string> {
  return waitFor(`${service}'s output`, async () => {
    const { stdout } = await docker(NODE1, 'service', 'logs', '--raw', service);
    return done(stdout) ? stdout : undefined;
  }, 20_000);
}

t.test('a service reads its secret at /run/secrets/<target> and its config at its path', { skip }, async (t) => {
  const create = await docker(NODE1, 'service', 'create', '-d', '--name', 'db',
    '--secret', 'source=test,target=mysql_pass', '--config', 'source=app-conf,target=/etc/routemesh-e2e/app.conf',
    '-e', 'MYSQL_ROOT_PASSWORD_FILE=/run/secrets/mysql_pass', '-e', 'APP_CONF=/etc/routemesh-e2e/app.conf',
    'routemesh/exec', 'sh', '-c', 'cat "$MYSQL_ROOT_PASSWORD_FILE"; echo; cat "$APP_CONF"; echo; exec sleep 1000');
  t.equal(create.code, 0, create.stderr);
  t.teardown(() => docker(NODE1, 'service', 'rm', 'db'));
  const logs = await outputOnce('db', (out) => out.includes('key=1'));
  t.equal(logs, 's3cret\nkey=1\n', 'the secret and the config, read where a container reads them');

  // Another task (as nobody too) sees only its own processes: no other task's files through /proc/<pid>/root.
  const spy = await docker(NODE1, 'service', 'create', '-d', '--name', 'spy', 'routemesh/exec', 'sh', '-c',
    'for p in /proc/[0-9]*; do cat "$p/root/run/secrets/mysql_pass" 2>/dev/null && echo " <- $p"; done; echo "pids: $(ls -d /proc/[0-9]* | wc -l)"; exec sleep 1000');
  t.equal(spy.code, 0, spy.stderr);
  t.teardown(() => docker(NODE1, 'service', 'rm', 'spy'));
  const seen = await outputOnce('spy', (out) => out.includes('pids:'));
  t.notMatch(seen, 's3cret', 'a task cannot read another task\'s secret');
  t.ok(Number(/pids: (\d+)/.exec(seen)![1]) <= 10, `it sees its own PID namespace only (tini, its shell and what that runs): ${seen.trim()}`);

  const spec = JSON.parse((await docker(NODE1, 'service', 'inspect', 'db', '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}')).stdout);
  t.match(spec.Secrets, [{ SecretName: 'test', File: { Name: 'mysql_pass', UID: '0', GID: '0', Mode: 0o444 } }], 'service inspect shows the reference');
  t.match(spec.Configs, [{ ConfigName: 'app-conf', File: { Name: '/etc/routemesh-e2e/app.conf' } }]);

  // service update --secret-add: a new task, which reads the new target too.
  const update = await docker(NODE1, 'service', 'update', '-d', '--secret-add', 'source=test,target=second', '--env-add', 'SECOND=/run/secrets/second',
    '--args', 'sh -c \'cat "$SECOND"; echo; exec sleep 1000\'', 'db');
  t.equal(update.code, 0, update.stderr);
  const second = await outputOnce('db', (out) => out.split('\n').filter((line) => line === 's3cret').length === 2);
  t.equal(second, 's3cret\nkey=1\ns3cret\n', 'the updated task reads the secret at its second target');

  await refused(t, await docker(NODE1, 'secret', 'rm', 'test'), daemon("secret 'test' is in use by the following service: db"), 'a secret in use stays');
  await refused(t, await docker(NODE1, 'config', 'rm', 'app-conf'), daemon("config 'app-conf' is in use by the following service: db"), 'so does a config');

  const ghost = await api(BASE, 'POST', '/services/create', {
    Name: 'ghost', TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Args: ['true'], Secrets: [{ SecretID: 'nosuchid', SecretName: 'ghost', File: { Name: 'g', UID: '0', GID: '0', Mode: 0o444 } }] } },
  });
  t.same([ghost.status, ghost.body.message], [400, 'rpc error: code = InvalidArgument desc = secret not found: ghost'], 'a missing secret is refused as Swarm refuses it');

  t.equal((await docker(NODE1, 'service', 'rm', 'db')).code, 0);
  const removed = await docker(NODE1, 'secret', 'rm', 'test');
  t.same([removed.code, removed.stdout], [0, 'test\n'], 'once no service uses it, it goes');
  t.equal((await docker(NODE1, 'config', 'rm', 'app-conf')).code, 0);
  t.equal((await docker(NODE1, 'secret', 'ls', '-q')).stdout, '');
});
