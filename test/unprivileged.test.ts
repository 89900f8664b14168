// Everything a user without root does must work: tasks whose target port is below 1024 move to an
// unprivileged port of their own address and the mesh forwards there; a published port below 1024 is
// refused with the reason; DNS moves from 53 to 10053 and a VIP's port 80 to 10080. CI runs as root,
// so this file drops to `nobody`: once for a focused check, and once to run the whole end-to-end suite
// again, from a copy of the checkout `nobody` can read.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { requireTool } from './support/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NOBODY = 65534;
const END_TO_END = ['test/mesh-e2e.test.ts', 'test/api.test.ts', 'test/cli-e2e.test.ts', 'test/planned-changes.test.ts', 'test/dns-e2e.test.ts'];
const isRoot = process.getuid?.() === 0;


/**
 * Runs a command in a clean environment. `env -i` rather than the `env` option: the running tap wraps
 * child_process to pass its own hooks to children, and those would write into this checkout's .tap/ as nobody.
 */
function run(command: string[], env: Record<string, string>, options: { cwd?: string; timeout: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean = ['-i', `PATH=${process.env.PATH}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return new Promise((resolve) => {
    execFile('env', [...clean, ...command], { ...options, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('a cluster run by an unprivileged user', async (t) => {
  const fixture = path.join(ROOT, 'test/fixtures/unprivileged-cluster.ts');
  const { code, stdout, stderr } = await run([process.execPath, '--import', 'tsx', fixture], { HOME: tmpdir() }, { cwd: ROOT, timeout: 60_000 });
  t.equal(stderr, '', 'nothing went wrong on the way');
  t.equal(code, 0, stderr);
  const report = JSON.parse(stdout.trim().split('\n').pop()!);
  t.not(report.uid, 0, 'the checks ran without root');
  t.same(report.listenPorts, [10080, 10080, 10080], 'port 80 of each task moved to 10080 of its own address');
  t.equal(report.distinctAnswers, 3, 'the mesh forwards to the moved ports, round robin over all three tasks');
  t.equal(report.dnsPort, 10053, 'DNS cannot have port 53: it serves on 10053');
  t.equal(report.vipEndpoint, 'VIP:10080', 'the VIP\'s port 80 moved to 10080, as the tasks\' did');
  t.ok(report.vipAnsweredByTask, 'the name resolves to the VIP, and the VIP reaches a task');
  t.match(report.log.join('\n'), /DNS: 127\.140\.0\.250:53 cannot be bound \(EACCES\): serving on 127\.140\.0\.250:10053/, 'the log says where DNS went');
  t.match(report.log.join('\n'), /node1: VIP port 80 of service web listens on 127\.142\.\d+\.\d+:10080: ports below 1024 need root/, 'and where the VIP port went');
  t.equal(report.lowPublish.status, 400);
  t.match(report.lowPublish.message, /cannot publish port 80: ports below 1024 need root \(or CAP_NET_BIND_SERVICE\)/);
  t.equal(report.lowHostPublish.status, 400, 'a host-mode port below 1024 is refused at create too, not accepted and never opened');
  t.match(report.lowHostPublish.message, /cannot publish port 80: ports below 1024 need root \(or CAP_NET_BIND_SERVICE\)/);
  t.equal(report.psPorts?.length, 3, 'service ps shows each task\'s moved port');
  t.match(report.psPorts?.[0], /:10080->80\/tcp$/);
  t.same(report.inspectListenPorts, [10080, 10080, 10080], 'service inspect shows where the tasks listen');
  t.same(report.services, ['web'], 'the refused service was not created and the cluster kept running');
});

t.test('the end-to-end suite, run again as nobody', { skip: isRoot ? false : 'not root: the whole suite already ran unprivileged' }, async (t) => {
  if (!requireTool(t, 'setpriv', 'util-linux')) return;
  // The checkout may sit where `nobody` cannot read (/root/...): copy what the tests need to a place it can.
  const copy = mkdtempSync(path.join(tmpdir(), 'routemesh-nobody-'));
  t.teardown(() => rmSync(copy, { recursive: true, force: true }));
  for (const entry of ['package.json', 'tsconfig.json', 'src', 'test']) cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
  try {
    execFileSync('cp', ['-al', path.join(ROOT, 'node_modules'), copy]); // hard links: instant on one filesystem
  } catch {
    execFileSync('cp', ['-a', path.join(ROOT, 'node_modules'), copy]);
  }
  chmodSync(copy, 0o755);
  chownSync(copy, NOBODY, NOBODY); // tap keeps its state in .tap/ of the working directory

  const tap = path.join(copy, 'node_modules/tap/dist/esm/run.mjs');
  const { code, stdout, stderr } = await run(
    ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, tap, ...END_TO_END],
    // Other address blocks than the same files running beside this one as root.
    { HOME: copy, ROUTEMESH_TEST_BLOCK_OFFSET: '80' },
    { cwd: copy, timeout: 180_000 },
  );
  t.equal(stderr, '', 'nothing went wrong on the way');
  const summary = stdout.match(/^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/m);
  t.equal(code, 0, 'the unprivileged run exited 0');
  if (code !== 0) t.comment(`${stdout.slice(-4000)}\n${stderr.slice(-2000)}`);
  t.ok(summary && Number(summary[1]) > 100, `the suite ran (${summary?.[0] ?? 'no summary'})`);
  t.equal(summary?.[3], undefined, 'and nothing failed');
});
