// Everything a user without root does must work: tasks whose target port is below 1024 move to an
// unprivileged port of their own address and the mesh forwards there; a published port below 1024 is
// refused with the reason; DNS moves from 53 to 10053 and a VIP's port 80 to 10080. CI runs as root,
// so the fixture drops to `nobody` for this focused check; `npm run test:unprivileged` (a step of
// .ci/run) runs the whole end-to-end flows again as nobody.
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

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
