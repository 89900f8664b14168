// The namespace hosts of test/support/netns.ts: separate loopbacks joined by a bridge, a task address of
// one host reached from another through a /32 route, and nothing left behind (also by a crashed run).
// Hosts 127.90.<i>.1, a task pool 127.91/16: private to the namespaces, so no other test's block is touched.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { netnsHosts, netnsUnavailable } from './support/netns.js';
import { remaining } from './support/processes.js';
import type { NetnsHost } from './support/netns.js';

const skip = netnsUnavailable();
const BLOCK = 90;
const TASK = '127.91.0.5';
const FIXTURE = fileURLToPath(new URL('fixtures/netns-run.ts', import.meta.url));

/** A TCP server inside `host` that answers each connection with its tag and the peer's address, then closes. */
async function tagServer(host: NetnsHost, address: string, tag: string): Promise<void> {
  const script = `require('net').createServer((s) => s.end('${tag} ' + s.remoteAddress))` +
    `.listen(8000, '${address}', () => console.log('listening'))`;
  const server = host.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server.stdout!.once('data', () => resolve());
    server.once('exit', (code) => reject(new Error(`server on ${host.name} exited (${code})`)));
  });
}

/** What a client inside `host`, bound to `from`, gets from address:8000: the answer, or its error code. */
async function ask(host: NetnsHost, address: string, from: string): Promise<string> {
  const script = `const s = require('net').connect({ host: '${address}', port: 8000, localAddress: '${from}' });` +
    `let got = ''; s.on('data', (d) => got += d); s.on('end', () => console.log(got));` +
    `s.setTimeout(3000, () => { console.log('TIMEOUT'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`;
  return (await host.run(process.execPath, ['-e', script])).stdout.trim();
}

function namespacesNamed(start: string): string[] {
  return spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n')
    .map((line) => line.split(' ')[0]!).filter((name) => name.startsWith(start));
}

t.test('each host has a loopback of its own; a task address on host2 is reached from host3 once routed there', { skip }, async (t) => {
  const [host1, host2, host3] = await netnsHosts(t, BLOCK, 3);
  await tagServer(host2!, TASK, 'host2-task');
  await tagServer(host3!, '127.0.0.11', 'host3-dns');

  t.equal(await ask(host3!, TASK, host3!.address), 'ECONNREFUSED', "unrouted, host3 takes the address for its own loopback's");
  t.equal(await ask(host1!, '127.0.0.11', host1!.address), 'ECONNREFUSED', "host3's 127.0.0.11 is not host1's");

  await host3!.routeTo(TASK, host2!);
  t.equal(await ask(host3!, TASK, host3!.address), `host2-task ${host3!.address}`, 'routed: host2 answers, seeing host3\'s address');
  t.equal(await ask(host3!, '127.0.0.11', host3!.address), 'host3-dns ' + host3!.address, 'host3 keeps the rest of 127/8');
  t.equal(await ask(host1!, TASK, host1!.address), 'ECONNREFUSED', 'a route is per host: host1 has none');
});

t.test('a block routed once per host reaches whatever address its owner takes in it', { skip }, async (t) => {
  const [host1, host2, host3] = await netnsHosts(t, BLOCK, 3);
  await tagServer(host2!, '127.91.2.7', 'host2-task');
  await tagServer(host3!, '127.91.3.7', 'host3-task');
  for (const [from, to] of [[host3!, host2!], [host2!, host3!], [host1!, host2!], [host1!, host3!]] as const) {
    await from.routeTo(`127.91.${to.name.at(-1)}.0/24`, to);
  }
  t.equal(await ask(host3!, '127.91.2.7', host3!.address), `host2-task ${host3!.address}`, "host3 reaches host2's block");
  t.equal(await ask(host1!, '127.91.3.7', host1!.address), `host3-task ${host1!.address}`, "host1 reaches host3's block");
  t.equal(await ask(host3!, '127.91.3.7', host3!.address), `host3-task ${host3!.address}`, 'its own block stays local');
});

t.test('hosts and routed tasks stay reachable once an ip rule has split the local and main tables', { skip }, async (t) => {
  const [host1, host2] = await netnsHosts(t, BLOCK, 2);
  await tagServer(host2!, host2!.address, 'host2');
  await tagServer(host2!, TASK, 'host2-task');
  await host1!.ip('rule', 'add', 'pref', '1000', 'from', '127.90.250.250', 'lookup', '1000');
  await host1!.routeTo(TASK, host2!);
  t.equal(await ask(host1!, host2!.address, host1!.address), `host2 ${host1!.address}`, "host2's own address");
  t.equal(await ask(host1!, TASK, host1!.address), `host2-task ${host1!.address}`, "host2's task");
});

t.test('teardown kills what runs inside the hosts and removes every namespace it made', { skip }, async (t) => {
  let prefix = '';
  await t.test('hosts with a process inside', async (sub) => {
    const hosts = await netnsHosts(sub, BLOCK, 2);
    hosts[0]!.spawn('sleep', ['60'], { stdio: 'ignore' });
    prefix = hosts[0]!.namespace.replace(/h1$/, '');
    sub.same(namespacesNamed(prefix).sort(), [`${prefix}h1`, `${prefix}h2`, `${prefix}hub`], 'a hub and two hosts');
  });
  t.same(namespacesNamed(prefix), [], 'none is left once the test ends');
});

/** Runs test/fixtures/netns-run.ts in `mode`; resolves with what it said (its prefix, the process it left inside) and its exit. */
async function fixtureRun(mode: 'throw' | 'hang'): Promise<{ prefix: string; inside: string[]; child: ChildProcess; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, String(BLOCK)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = once(child, 'exit');
  child.stdout!.setEncoding('utf8');
  const [line] = await once(child.stdout!, 'data') as [string];
  return { ...JSON.parse(line) as { prefix: string; inside: string[] }, child, exited };
}

t.test('a run that dies of an uncaught error removes its hosts on its way out', { skip }, async (t) => {
  const run = await fixtureRun('throw');
  await run.exited;
  t.match(run.prefix, /^rmt\d+-0-$/);
  t.same(namespacesNamed(run.prefix), [], 'none is left');
  t.same(await remaining(run.inside, 2000), [], 'nor the process it ran inside');
});

t.test('a run SIGKILLed before its teardown leaves hosts that the next run removes', { skip }, async (t) => {
  const run = await fixtureRun('hang');
  run.child.kill('SIGKILL');
  await run.exited;
  t.equal(namespacesNamed(run.prefix).length, 3, 'the killed run left its hub and two hosts');
  await netnsHosts(t, BLOCK, 1);
  t.same(namespacesNamed(run.prefix), [], 'the next run removed them');
  t.same(await remaining(run.inside, 2000), [], 'and killed the process inside');
});
