// Three hosts that share nothing (test/support/netns.ts), one routemesh node each, made a swarm the way
// Docker users do: `docker swarm init` on host1, `docker swarm join --token ... <host1>:2377` from the
// others. Each node runs with --route-tasks: it routes the other hosts' task addresses to them (a /32 each,
// in the local table), so a published port on host3 reaches the tasks on host2; the routes go with the
// tasks. Each host's own 127.0.0.11 answers for the service.
// Hosts 127.95.<i>.1, tasks 127.96/16, VIPs 127.97/16, networks 127.98/16: private to the namespaces.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { waitFor } from './support/cluster.js';
import { dockerEnv, spawnRoutemesh } from './support/cli.js';
import { netnsHosts, netnsUnavailable } from './support/netns.js';
import type { NetnsHost } from './support/netns.js';
import { missingTool } from './support/tools.js';

const skip = netnsUnavailable() || missingTool('docker', 'docker.io') || missingTool('dig', 'bind9-dnsutils');
const BLOCK = 95;

async function docker(host: NetnsHost, ...args: string[]): Promise<string> {
  const result = await host.run('docker', args, dockerEnv(host.address));
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} on ${host.name}: ${result.stderr}`);
  return result.stdout.trim();
}

/** Starts `routemesh node start` inside `host`; resolves once it says it serves. The hosts' teardown ends it. */
async function startNode(host: NetnsHost, dataRoot: string): Promise<void> {
  const child = spawnRoutemesh(['node', 'start', '--address', host.address, '--hostname', host.name,
    '--task-subnet', '127.96.0.0/16', '--vip-subnet', '127.97.0.0/16', '--network-pool', '127.98.0.0/16',
    '--dns', '127.0.0.11', '--dns-upstream', '127.99.0.53', '--metrics-port', 'off',
    '--data-dir', path.join(dataRoot, host.name), '--socket-dir', path.join(dataRoot, `${host.name}-sockets`), '--route-tasks'],
  process.env, { runAs: [...host.exec] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => { stdout += chunk; });
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  await waitFor(`${host.name}'s node to start`, () => {
    if (child.exitCode !== null) throw new Error(`${host.name}'s node exited: ${stderr}`);
    return stdout.includes('Ctrl-C');
  }, 30_000);
}

/** An HTTP GET from inside `host` on a new connection: the body, or the error's code. */
async function getFrom(host: NetnsHost, url: string): Promise<string> {
  const script = `require('http').get('${url}', { agent: false }, (res) => { let b = ''; res.on('data', (d) => b += d);` +
    ` res.on('end', () => console.log(b)); }).on('error', (e) => console.log(e.code)).setTimeout(3000, function () { this.destroy(); })`;
  return (await host.run(process.execPath, ['-e', script])).stdout.trim();
}

async function digShort(host: NetnsHost, name: string): Promise<string[]> {
  const result = await host.run('dig', ['@127.0.0.11', '+short', '+tries=1', '+time=2', name]);
  return result.stdout.split('\n').filter(Boolean).sort();
}

t.test('a swarm of three hosts: joined over 2377, host3 publishes what runs on host2, each host answers DNS', { skip }, async (t) => {
  const dataRoot = mkdtempSync(path.join(os.tmpdir(), 'routemesh-netns-'));
  t.teardown(() => rmSync(dataRoot, { recursive: true, force: true }));
  const hosts = await netnsHosts(t, BLOCK, 3);
  const [host1, host2, host3] = hosts as [NetnsHost, NetnsHost, NetnsHost];
  await Promise.all(hosts.map((host) => startNode(host, dataRoot)));

  await docker(host1, 'swarm', 'init', '--advertise-addr', host1.address);
  const token = await docker(host1, 'swarm', 'join-token', '-q', 'worker');
  for (const host of [host2, host3]) {
    t.match(await docker(host, 'swarm', 'join', '--token', token, `${host1.address}:2377`), /joined a swarm as a worker/, `${host.name} joins`);
  }
  t.same((await docker(host1, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}')).split('\n').sort(),
    ['host1 Ready', 'host2 Ready', 'host3 Ready'], 'the manager on host1 lists all three');

  await docker(host1, 'service', 'create', '--detach', '--name', 'web', '--replicas', '2', '--constraint', 'node.hostname==host2',
    '--publish', '8080:80', 'traefik/whoami');
  const tasks = await waitFor('both tasks of web to run', async () => {
    const states = (await docker(host1, 'service', 'ps', '--format', '{{.ID}} {{.CurrentState}}', 'web')).split('\n');
    return states.filter((line) => / Running /.test(line)).length === 2 ? states.map((line) => line.split(' ')[0]!) : undefined;
  }, 20_000);
  const taskAddresses = await Promise.all(tasks.map(async (task) =>
    (await docker(host1, 'inspect', task, '--format', '{{range .NetworksAttachments}}{{range .Addresses}}{{.}}{{end}}{{end}}')).replace(/\/\d+$/, '')));
  const containers = (await docker(host2, 'ps', '-q')).split('\n').sort();

  const routesOf = async (host: NetnsHost): Promise<string[]> =>
    (await host.ip('route', 'show', 'table', 'local', 'root', '127.96.0.0/16')).split('\n').filter((line) => / via /.test(line)).sort();
  for (const host of [host1, host3]) {
    const routes = await waitFor(`${host.name}'s routes to the tasks`, async () => {
      const shown = await routesOf(host);
      return taskAddresses.every((address) => shown.some((line) => line.startsWith(`${address} via ${host2.address} `))) ? shown : undefined;
    });
    t.equal(routes.length, 2, `${host.name} routes each task on host2 there, and nothing else`);
  }
  t.same(await routesOf(host2), [], 'host2 routes none of its own');
  for (const address of taskAddresses) t.match(await getFrom(host3, `http://${address}/`), /^Hostname: /, `host3 reaches ${address} on host2`);
  const seen = new Set<string>();
  for (let i = 0; i < 4; i++) {
    const body = await getFrom(host3, `http://${host3.address}:8080/`);
    t.match(body, new RegExp(`RemoteAddr: ${host3.address.replace(/\./g, '\\.')}:`), "host2's task sees host3's mesh");
    seen.add(/^Hostname: (\S+)/.exec(body)?.[1] ?? body);
  }
  t.same([...seen].sort(), containers, "host3's published port reaches both tasks on host2");

  const vip = (await docker(host1, 'service', 'inspect', 'web', '--format', '{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}')).replace(/\/\d+$/, '');
  for (const host of hosts) {
    t.same(await digShort(host, 'web'), [vip], `${host.name}'s own 127.0.0.11 names the VIP`);
    t.same(await digShort(host, 'tasks.web'), [...taskAddresses].sort(), `${host.name}'s own 127.0.0.11 names the tasks`);
  }

  await docker(host1, 'service', 'rm', 'web');
  await waitFor("host3's routes to web's tasks to go", async () => (await routesOf(host3)).length === 0, 10_000);
  t.pass('the routes go with the tasks');
});
