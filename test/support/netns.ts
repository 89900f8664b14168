// Test support: "hosts" that share nothing, as Linux network namespaces (root only). Each host has its own
// loopback (so its own 127.0.0.11, VIPs and task addresses) and one address, 127.<block>.<i>.1/16 on an
// eth0 that a veth joins to a bridge; the bridge lives in a hub namespace of its own, so nothing is ever
// made in the machine's own namespace. Every namespace is named after this process (`rmt<pid>-<run>-`):
// teardown removes them (their links go with them), and a later run removes those a crashed one left.
//
// Three 127/8 facts shape it (measured, ../shared/research/scale-out.md section 3):
// - 127/8 off the loopback device is martian unless route_localnet is set in the namespace.
// - The kernel gives 127/8 addresses scope host, so a gatewayed route chooses no source address by
//   itself: routes between hosts say `src <own address>` (eth0's connected route does).
// - The local table's `local 127.0.0.0/8 dev lo` makes every other 127/8 address this host's own. A
//   longer route in the main table (eth0's /16, a route to a task) beats it only while the kernel keeps
//   main and local merged in one trie, which it does until the first `ip rule` is added in the namespace
//   (from then on, even once the rule is deleted, the local table is read first and its /8 wins: the host
//   refuses its own connections to the other hosts). So the routes off the host go into the local table
//   itself, where the longest prefix wins whatever the rules: the hosts' /16 and routeTo's.
// What a host binds (tasks, VIPs, networks, DNS) must lie outside 127.<block>/16, which eth0 claims: give
// routemesh its blocks (--network-pool too, whose default is in the node's /16).
import { execFile, spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Test } from 'tap';

const PREFIX = 'rmt';
let runs = 0;

export interface NetnsHost {
  /** host1, host2, ... */
  readonly name: string;
  readonly namespace: string;
  /** Its address on the bridge, 127.<block>.<i>.1: what other hosts reach it at. */
  readonly address: string;
  /** The argv prefix that runs a command inside this host (`ip netns exec <namespace>`). */
  readonly exec: readonly string[];
  /** Runs `file args` inside this host to its end (at most 60 s). */
  run(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Starts `file args` inside this host; whatever still runs in the host at teardown is killed. */
  spawn(file: string, args: readonly string[], options?: SpawnOptions): ChildProcess;
  /** `ip -n <namespace> args`; rejects with ip's message when it fails. */
  ip(...args: string[]): Promise<string>;
  /**
   * Sends `destination` (a task's address, listening on `owner`'s loopback, or a block of them as a CIDR)
   * to `owner`: a route through the owner's address with this host's as source, in the local table.
   */
  routeTo(destination: string, owner: NetnsHost): Promise<void>;
}

/**
 * Why namespaces cannot be made here (not root, no iproute2, no CAP_SYS_ADMIN), for a test's `{ skip }`;
 * false when they can. On CI, which runs as root with iproute2, a reason is a failure instead.
 */
export function netnsUnavailable(env: NodeJS.ProcessEnv = process.env): string | false {
  const why = process.getuid?.() !== 0
    ? `network namespaces as hosts need root (ip netns add), and this runs as uid ${process.getuid?.()}`
    : cannotMakeNamespaces();
  if (why && /^(1|true|yes)$/i.test(env.CI ?? '')) throw new Error(`${why}: CI runs the namespace tests as root`);
  return why;
}

/** Root is not enough in a container without CAP_SYS_ADMIN: one namespace is made (and removed) to know. */
function cannotMakeNamespaces(): string | false {
  const probe = `${PREFIX}${process.pid}-probe`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.error) return '`ip` is not installed (Debian: apt-get install iproute2)';
  if (made.status !== 0) return `root cannot make a network namespace here: ${made.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
  return false;
}

/** `count` hosts on one bridge (127.<block>.1.1, 127.<block>.2.1, ...), all removed at the test's end. */
export async function netnsHosts(t: Pick<Test, 'teardown'>, block: number, count: number): Promise<NetnsHost[]> {
  if (!(count >= 1 && count <= 254)) throw new Error(`netnsHosts: 1 to 254 hosts, not ${count}`);
  await removeStale();
  const prefix = `${PREFIX}${process.pid}-${runs++}-`;
  const hub = `${prefix}hub`;
  const hosts = Array.from({ length: count }, (_, index) => host(prefix, block, index + 1));
  const namespaces = [hub, ...hosts.map((h) => h.namespace)];
  const removeOnExit = () => { for (const namespace of namespaces) removeNamespaceNow(namespace); };
  process.once('exit', removeOnExit);
  t.teardown(async () => {
    await removeNamespaces(namespaces);
    process.off('exit', removeOnExit);
    await unmountEmptyNetnsDir();
  });

  await ipBatch([], [
    ...namespaces.map((namespace) => `netns add ${namespace}`),
    // Both ends are made inside their namespaces: no link ever appears in this machine's namespace.
    ...hosts.map((h, i) => `link add name eth0 netns ${h.namespace} type veth peer name port${i + 1} netns ${hub}`),
  ]);
  await ipBatch(['-n', hub], [
    'link add bridge type bridge', 'link set bridge up',
    ...hosts.flatMap((_, i) => [`link set port${i + 1} master bridge`, `link set port${i + 1} up`]),
  ]);
  await Promise.all(hosts.map(async (h) => {
    await execFileText('ip', ['netns', 'exec', h.namespace, 'sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1']);
    await ipBatch(['-n', h.namespace], [
      'link set lo up', `addr add ${h.address}/16 dev eth0`, 'link set eth0 up',
      `route add 127.${block}.0.0/16 dev eth0 src ${h.address} table local`,
    ]);
  }));
  return hosts;
}

function host(prefix: string, block: number, i: number): NetnsHost {
  const namespace = `${prefix}h${i}`;
  const exec = ['ip', 'netns', 'exec', namespace];
  const self: NetnsHost = {
    name: `host${i}`,
    namespace,
    address: `127.${block}.${i}.1`,
    exec,
    run: (file, args, env = process.env) => new Promise((resolve) => {
      execFile(exec[0]!, [...exec.slice(1), file, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
      });
    }),
    spawn: (file, args, options = {}) => spawn(exec[0]!, [...exec.slice(1), file, ...args], options),
    ip: (...args) => execFileText('ip', ['-n', namespace, ...args]),
    routeTo: async (destination, owner) => {
      const cidr = destination.includes('/') ? destination : `${destination}/32`;
      await self.ip('route', 'replace', cidr, 'via', owner.address, 'dev', 'eth0', 'src', self.address, 'table', 'local');
    },
  };
  return self;
}

/** Kills what runs in each namespace (a namespace outlives its last `ip netns del` while a process holds it), then deletes it. */
async function removeNamespaces(namespaces: readonly string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const left = namespaces.filter((namespace) => existsSync(`/run/netns/${namespace}`));
    const pids = (await Promise.all(left.map((namespace) => execFileText('ip', ['netns', 'pids', namespace]).catch(() => ''))))
      .flatMap((text) => text.split('\n').filter(Boolean).map(Number));
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it ended on its own meanwhile
      }
    }
    if (pids.length === 0 || attempt === 50) {
      await Promise.all(left.map((namespace) => execFileText('ip', ['netns', 'del', namespace]).catch(() => undefined)));
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * `ip netns add` makes /run/netns a mount point of its own and leaves it there: a mount the machine did not
 * have, which, for one, stops an unprivileged task's overlay on /run. Once no namespace is left in it (those
 * of a test file still running are mounts inside it, so the umount then fails and nothing changes), it goes.
 */
async function unmountEmptyNetnsDir(): Promise<void> {
  const left = (await execFileText('ip', ['netns', 'list']).catch(() => 'unknown')).trim();
  if (left) return;
  await execFileText('umount', ['/run/netns']).catch(() => undefined);
}

/** removeNamespaces for a process on its way out, which can no longer wait for anything. */
function removeNamespaceNow(namespace: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // it ended on its own meanwhile
    }
  }
  spawnSync('ip', ['netns', 'del', namespace], { stdio: 'ignore' });
}

/** Namespaces of earlier runs whose process is gone: a run killed before its teardown leaves its hosts. */
async function removeStale(): Promise<void> {
  const stale = (await execFileText('ip', ['netns', 'list'])).split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((namespace) => {
      const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(namespace)?.[1];
      return pid !== undefined && !existsSync(`/proc/${pid}`);
    });
  await removeNamespaces(stale);
}

function ipBatch(options: string[], commands: readonly string[]): Promise<string> {
  return execFileText('ip', [...options, '-batch', '-'], commands.join('\n') + '\n');
}

function execFileText(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
