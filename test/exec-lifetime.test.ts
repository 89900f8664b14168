// Nothing outlives the cluster: however `routemesh up` ends (SIGKILL, or SIGHUP when its terminal closes),
// the processes of its routemesh/exec tasks end with it. Nodes 127.38.0.x, tasks 127.39/16, VIPs 127.40/16.
import t from 'tap';
import type { Test } from 'tap';
import { api, waitFor } from './support/cluster.js';
import { upProcess } from './support/cli.js';
import { processesRunning, remaining, uniqueSleep } from './support/processes.js';

const NODES = 38;
const ENGINE = `http://127.${NODES}.0.1:2375`;

/** A cluster in a child process running two replicas of `sleep <a number no other process uses>`, each with a child doing the same. */
async function clusterWithSleepers(t: Test) {
  const { child, exited, stderr } = await upProcess(t, ['--nodes', '1', '--subnet', `127.${NODES}.0.0/24`, '--task-subnet', `127.${NODES + 1}.0.0/16`,
    '--vip-subnet', `127.${NODES + 2}.0.0/16`, '--dns', `127.${NODES}.0.250`, '--dns-upstream', `127.${NODES}.0.251`]);

  const argv = uniqueSleep();
  // Each task's own process sleeps, and so does the child it started (as npm starts node).
  const created = await api(ENGINE, 'POST', '/services/create', {
    Name: 'sleepers', TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Command: ['sh', '-c', `${argv.join(' ')} & exec ${argv.join(' ')}`] } },
    Mode: { Replicated: { Replicas: 2 } },
  });
  t.equal(created.status, 201);
  const pids = await waitFor('four sleepers', () => { const p = processesRunning(argv); return p.length === 4 ? p : undefined; });
  // Should a check fail, its processes must not outlive the test either.
  t.teardown(() => { for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } });
  return { child, exited, argv, stderr };
}

t.test('SIGKILL of `routemesh up`: its exec tasks die with it', async (t) => {
  const { child, exited, argv } = await clusterWithSleepers(t);
  child.kill('SIGKILL');
  t.same(await exited, [null, 'SIGKILL']);
  t.same(await remaining(argv, 2000), [], 'no task process is left within 2 s');
});

t.test('SIGHUP (its terminal closed) stops the cluster as Ctrl-C does', async (t) => {
  const { child, exited, argv, stderr } = await clusterWithSleepers(t);
  child.kill('SIGHUP');
  t.same(await exited, [0, null], 'a clean exit');
  t.match(stderr(), /Stopping the cluster\.\.\./);
  t.same(await remaining(argv, 2000), [], 'no task process is left within 2 s');
});
