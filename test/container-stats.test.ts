// `docker stats` and `docker system df` through the real docker CLI, checked against what the kernel says:
// a busy routemesh/exec container's CPU share, a container holding 64 MiB its memory, their processes; a
// built-in image's figures labelled as routemesh's own process; StatsJSON's shape as the CLI reads it; and
// the disk usage of the built-in images and this node's containers.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import t from 'tap';
import { api, testBlock, testCluster, waitFor } from './support/cluster.js';
import { docker } from './support/cli.js';
import { missingTool } from './support/tools.js';

const BLOCK = testBlock(131); // nodes 127.131.0.x (tasks 127.132/16, VIPs 127.133/16 unused)

const skip = missingTool('docker', 'docker.io');
const cluster = skip ? undefined : await testCluster(t, BLOCK, { nodes: 1, bare: true });
const node = cluster?.nodes[0]?.address ?? '';
const base = cluster?.nodes[0]?.apiUrl ?? '';

/** `12.5MiB` → bytes, as the docker CLI prints sizes (binary for memory, decimal for I/O). */
function bytes(text: string): number {
  const match = /^([\d.]+)([kKMG]i?B|B)$/.exec(text.trim());
  if (!match) return NaN;
  const units: Record<string, number> = { B: 1, kB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };
  return Number(match[1]) * units[match[2]!]!;
}

/** Resident memory of a process and its descendants, as /proc says. */
function rssOfTree(pid: number): number {
  let total = 0;
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    try {
      total += Number(/^VmRSS:\s*(\d+) kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      queue.push(...readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

t.test('docker stats --no-stream: CPU, memory and processes from /proc; a built-in image labelled as routemesh\'s process', { skip }, async (t) => {
  const run = async (...args: string[]): Promise<void> => {
    const result = await docker(node, 'run', '-d', '--net', 'host', ...args);
    t.equal(result.code, 0, result.stderr);
  };
  await run('--name', 'busy', 'routemesh/exec', 'sh', '-c', 'while :; do :; done');
  // 64 MiB written, so resident; tap's NODE_OPTIONS hooks are left out of the program (see containers-e2e).
  await run('--name', 'mem', 'routemesh/exec', 'env', '-u', 'NODE_OPTIONS', 'node', '-e', 'const b = Buffer.alloc(64 << 20, 1); setInterval(() => b[0]++, 1000); console.log("ready")');
  await run('--name', 'web', 'nginx');
  t.teardown(() => docker(node, 'rm', '-f', 'busy', 'mem', 'web'));
  await waitFor('mem to hold its memory', async () => (await docker(node, 'logs', 'mem')).stdout.includes('ready'));

  const stats = await docker(node, 'stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}|{{.NetIO}}|{{.BlockIO}}', 'busy', 'mem', 'web');
  t.equal(stats.code, 0, stats.stderr);
  const rows = new Map(stats.stdout.trim().split('\n').map((line) => {
    const [name, ...rest] = line.split('|');
    return [name!, rest] as const;
  }));
  const [busyCpu, busyMem, busyPids] = rows.get('busy') ?? [];
  t.ok(Number.parseFloat(busyCpu!) > 5, `a busy loop uses CPU (${busyCpu})`);
  t.ok(Number(busyPids) >= 1, `it has processes (${busyPids})`);
  t.match(busyMem, new RegExp(`/ ${(os.totalmem() / 1024 ** 3).toFixed(2)}GiB$`), 'the limit is the machine\'s memory');

  const [, memUsage, memPids] = rows.get('mem') ?? [];
  const used = bytes(memUsage!.split(' / ')[0]!);
  const pid = Number((await docker(node, 'inspect', '-f', '{{.State.Pid}}', 'mem')).stdout);
  const fromProc = rssOfTree(pid);
  t.ok(used >= 64 * 1024 ** 2, `64 MiB written are counted (${memUsage})`);
  t.ok(Math.abs(used - fromProc) < 0.1 * fromProc, `as /proc counts its processes (${used} against ${fromProc})`);
  t.ok(Number(memPids) >= 1);

  const web = [...rows.keys()].find((name) => name.startsWith('web'));
  t.equal(web, 'web (shares routemesh process)', 'a built-in image shows routemesh\'s process, and says so');
  const [webCpu, webMem, webPids] = rows.get(web!) ?? [];
  t.match(webCpu, /^\d+\.\d\d%$/);
  t.ok(bytes(webMem!.split(' / ')[0]!) >= process.memoryUsage().rss * 0.5, `routemesh's own memory (${webMem})`);
  t.equal(webPids, '1');
});

t.test("StatsJSON as the CLI reads it: two readings an interval apart, a stream, a stopped container's zeros", { skip }, async (t) => {
  t.equal((await docker(node, 'run', '-d', '--net', 'host', '--name', 'spin', 'routemesh/exec', 'sh', '-c', 'while :; do :; done')).code, 0);
  t.teardown(() => docker(node, 'rm', '-f', 'spin'));
  const { status, body } = await api(base, 'GET', '/containers/spin/stats?stream=0');
  t.equal(status, 200);
  t.equal(body.name, '/spin');
  t.match(body.id, /^[0-9a-f]{64}$/);
  t.ok(Date.parse(body.read) - Date.parse(body.preread) >= 900, 'the two readings are about a second apart');
  t.ok(body.cpu_stats.cpu_usage.total_usage > body.precpu_stats.cpu_usage.total_usage, 'its CPU time grew');
  t.ok(body.cpu_stats.system_cpu_usage > body.precpu_stats.system_cpu_usage, 'so did the machine\'s');
  t.equal(body.cpu_stats.online_cpus, os.cpus().length);
  t.ok(body.memory_stats.usage > 0);
  t.equal(body.memory_stats.limit, os.totalmem());
  t.ok(body.pids_stats.current >= 1);
  t.same(body.blkio_stats.io_service_bytes_recursive.map((e: { op: string }) => e.op), ['read', 'write']);

  // A stream: a reading at once, then one each interval, the one before as its precpu.
  const response = await fetch(`${base}/v1.50/containers/spin/stats?stream=1`);
  const reader = response.body!.getReader();
  let text = '';
  while (text.split('\n').length < 3) text += new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  const [first, second] = text.split('\n').map((line) => JSON.parse(line || '{}'));
  t.equal(second.preread, first.read, 'each reading carries the one before');

  t.equal((await docker(node, 'stop', '-t', '0', 'spin')).code, 0);
  const stopped = (await api(base, 'GET', '/containers/spin/stats?stream=0')).body;
  t.equal(stopped.read, '0001-01-01T00:00:00Z');
  t.same(stopped.memory_stats, {});
  t.equal(stopped.cpu_stats.cpu_usage.total_usage, 0);
  t.equal((await api(base, 'GET', '/containers/nosuch/stats?stream=0')).body.message, 'No such container: nosuch');
});

t.test('docker system df: the built-in images, this node\'s containers, no volumes, no build cache', { skip }, async (t) => {
  t.equal((await docker(node, 'run', '--net', 'host', '--name', 'done', 'routemesh/exec', 'true')).code, 0);
  t.equal((await docker(node, 'run', '-d', '--net', 'host', '--name', 'www', 'nginx')).code, 0);
  t.teardown(() => docker(node, 'rm', '-f', 'done', 'www'));
  const df = await docker(node, 'system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}');
  t.equal(df.code, 0, df.stderr);
  const [images, containers, volumes, cache] = df.stdout.trim().split('\n').map((line) => line.split('|'));
  t.same(images!.slice(0, 3), ['Images', '7', '2'], 'seven built-in images, two of them used');
  t.ok(bytes(images![3]!) > 0, `their size: the code that is each image (${images![3]})`);
  t.same(containers, ['Containers', '2', '1', '0B', '0B'], 'two containers, one running, no writable layers');
  t.same(volumes!.slice(0, 3), ['Local Volumes', '0', '0']);
  t.same(cache!.slice(0, 2), ['Build Cache', '0']);
  const verbose = await docker(node, 'system', 'df', '-v');
  t.match(verbose.stdout, /^nginx\s+latest\s+[0-9a-f]{12}\s+.*\s1\n/m, 'nginx is used by one container');
  t.match(verbose.stdout, /^madvirus\/simplenode\s+0\.2\s/m);
});
