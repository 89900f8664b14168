// Everything a user without root does must work: tasks whose target port is below 1024 move to an
// unprivileged port of their own address and the mesh forwards there; a published port below 1024 is
// refused with the reason. Run in a child that drops to `nobody`, since CI runs as root.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const fixture = fileURLToPath(new URL('./fixtures/unprivileged-cluster.ts', import.meta.url));

t.test('a cluster run by an unprivileged user', async (t) => {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', fixture], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve({ stdout });
    });
  });
  const report = JSON.parse(stdout.trim().split('\n').pop()!);
  t.not(report.uid, 0, 'the checks ran without root');
  t.same(report.listenPorts, [10080, 10080, 10080], 'port 80 of each task moved to 10080 of its own address');
  t.equal(report.distinctAnswers, 3, 'the mesh forwards to the moved ports, round robin over all three tasks');
  t.equal(report.lowPublish.status, 400);
  t.match(report.lowPublish.message, /cannot publish port 80: ports below 1024 need root \(or CAP_NET_BIND_SERVICE\)/);
  t.equal(report.psPorts?.length, 3, 'service ps shows each task\'s moved port');
  t.match(report.psPorts?.[0], /:10080->80\/tcp$/);
  t.same(report.inspectListenPorts, [10080, 10080, 10080], 'service inspect shows where the tasks listen');
  t.same(report.services, ['web'], 'the refused service was not created and the cluster kept running');
});
