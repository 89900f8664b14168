// A real node failure: `kill -9` of a node process (started by `up`) under 300 new-connection requests/s
// through the other nodes. Managers mark it Down after the missed heartbeats and replace its tasks, every
// other node's mesh drops its tasks, and connect-retry hides the dead tasks from clients meanwhile;
// started again with the command up prints, it rejoins as the same node.
// Nodes 127.240.0.x, tasks 127.241/16, VIPs 127.242/16.
import t from 'tap';
import { api, testBlock, waitFor } from './support/cluster.js';
import { nodeProcesses, restartCommandSaid, startAsSaid, upProcess } from './support/cli.js';
import { steadyLoad } from './support/load.js';
import { connectAndWait, httpGet, whoamiHost } from './support/net.js';

const BLOCK = testBlock(240);
const METRICS_PORT = 9323;
const address = (n: number): string => `127.${BLOCK}.0.${n}`;

/** One of the `routemesh_<name>` series of a node's metrics for my-web, by its task label (or '' without one), summed. */
async function series(node: number, name: string): Promise<Map<string, number>> {
  const { body } = await httpGet(address(node), METRICS_PORT, '/metrics');
  const found = new Map<string, number>();
  for (const line of body.split('\n')) {
    if (!line.startsWith(`routemesh_${name}{`) || !line.includes('service="my-web"')) continue;
    const task = /task="([^"]*)"/.exec(line)?.[1] ?? '';
    found.set(task, (found.get(task) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return found;
}

/** The tasks in a node's pools for my-web (the label is the task's name, which ends with its ID). */
async function pooled(node: number): Promise<string[]> {
  return [...(await series(node, 'pool_members')).keys()].map((label) => label.slice(label.lastIndexOf('.') + 1)).sort();
}

t.test('kill -9 of a node process under load: Down, its tasks replaced, dropped by every mesh, few failed requests; started again it rejoins', async (t) => {
  const up = await upProcess(t, ['--nodes', '3', '--demo', '--subnet', `127.${BLOCK}.0.0/24`, '--task-subnet', `127.${BLOCK + 1}.0.0/16`,
    '--vip-subnet', `127.${BLOCK + 2}.0.0/16`, '--dns', `127.${BLOCK}.0.250`, '--dns-upstream', `127.${BLOCK}.0.251`,
    '--metrics-port', String(METRICS_PORT), '--heartbeat-period', '200ms']);
  const manager = `http://${address(1)}:2375`;
  const node3 = (await api(manager, 'GET', '/nodes/node3')).body;
  const pid = (await nodeProcesses(up.child.pid!, 3)).get('node3')!;

  const running = async (): Promise<any[]> => (await api<any[]>(manager, 'GET', '/tasks')).body
    .filter((task) => task.Status.State === 'running' && task.DesiredState === 'running');
  const before = await waitFor('6 running tasks of my-web', async () => { const r = await running(); return r.length === 6 ? r : undefined; });
  const ids = (tasks: any[]): string[] => tasks.map((task) => task.ID).sort();
  await waitFor('node1\'s and node2\'s meshes to hold the 6 tasks', async () =>
    (await Promise.all([1, 2].map(pooled))).every((p) => p.join() === ids(before).join()));
  const lost = before.filter((task) => task.NodeID === node3.ID);
  t.equal(lost.length, 2, 'node3 runs 2 of the 6 tasks');

  const load = steadyLoad([address(1), address(2)], 8080, 300);
  t.teardown(() => load.stop());
  await waitFor('the load to get going', () => load.ok >= 150);
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');

  // A connect in the moment the kernel takes to end the process is still accepted, then reset.
  for (const task of lost) {
    await waitFor(`node3's task ${task.Slot} to die with it`, async () => await connectAndWait(task.Endpoint.Addr, task.Endpoint.Ports[0].ListenPort, 1000) === 'refused');
  }
  const deadAt = Date.now();
  await waitFor('node3 to be Down', async () => (await api(manager, 'GET', '/nodes/node3')).body.Status.State === 'down');
  const downAt = Date.now();
  const after = await waitFor('6 running tasks again, none on node3', async () => {
    const r = await running();
    return r.length === 6 && !r.some((task) => task.NodeID === node3.ID) ? r : undefined;
  });
  t.equal(after.filter((task) => before.some((b) => b.ID === task.ID)).length, 4, 'the other 4 tasks stayed; 2 new ones replace node3\'s');
  await waitFor('node1\'s and node2\'s meshes to hold the 6 tasks running now, none of node3\'s', async () =>
    (await Promise.all([1, 2].map(pooled))).every((p) => p.join() === ids(after).join()));
  const droppedAt = Date.now();

  // Nothing is sent to node3's tasks any more: not one more connect is refused, so no request is retried.
  const retries = await Promise.all([1, 2].map((n) => series(n, 'retries_total')));
  const answered = load.ok;
  await waitFor('300 more requests', () => load.ok >= answered + 300);
  t.same(await Promise.all([1, 2].map((n) => series(n, 'retries_total'))), retries, 'no request was retried once the meshes dropped node3\'s tasks');
  await load.stop();

  const failures = load.failures.sort((a, b) => a.at - b.at);
  const window = failures.length ? `sent ${failures[0]!.at - killedAt} to ${failures.at(-1)!.at - killedAt} ms after the kill` : 'none';
  t.comment(`kill -9 of node3 under 300 req/s: ${load.ok} answered, ${failures.length} failed (${window}); its tasks refused connections ` +
    `${deadAt - killedAt} ms after the kill, it was Down ${downAt - killedAt} ms after, its tasks out of every mesh ${droppedAt - killedAt} ms after; ` +
    `retried ${[...retries[0]!.values(), ...retries[1]!.values()].reduce((a, b) => a + b, 0)} times`);
  for (const f of failures) t.comment(`  sent ${f.at - killedAt} ms after the kill: ${f.what}`);
  // What may fail: requests in flight to node3's tasks when it died, and those the kernel still accepted
  // for them while it tore the process down (its memory goes before its sockets). Once the dead tasks
  // refuse connections, connect-retry takes every request to a live task until the meshes drop them.
  // The count depends on how long the kernel takes over the dying process (tens of ms, more under load);
  // without connect-retry every request to its tasks fails until outlier detection or Down removes them.
  t.ok(failures.length <= 10, 'at most a few requests failed');
  t.same(failures.filter((f) => f.at >= deadAt).map((f) => f.what), [], 'none sent once node3\'s tasks refused connections');

  // The command up prints starts it again: the same node, Ready.
  const command = await restartCommandSaid(up, 'node3', pid);
  t.match(command, /routemesh node start --address \S+ --hostname node3 --data-dir \S+\/node3 /, 'its own data dir again');
  startAsSaid(t, command);
  const back = await waitFor('node3 to be Ready again', async () => {
    const node = (await api(manager, 'GET', `/nodes/${node3.ID}`)).body;
    return node.Status.State === 'ready' ? node : undefined;
  });
  t.equal(back.Description.Hostname, 'node3', 'it rejoined with the same node ID');
  const info = await waitFor('node3 to be back in its swarm', async () => {
    const swarm = (await api(`http://${address(3)}:2375`, 'GET', '/info').catch(() => undefined))?.body.Swarm;
    return swarm?.LocalNodeState === 'active' ? swarm : undefined;
  });
  t.equal(info.NodeID, node3.ID, 'and says so itself');
  // Its old tasks were replaced while it was Down: it routes to the running ones, and starts none again.
  await waitFor('node3\'s mesh to hold the 6 tasks running now', async () => (await pooled(3).catch(() => [])).join() === ids(after).join());
  t.match(await whoamiHost(address(3), 8080), /^[0-9a-f]{12}$/, 'its port 8080 reaches the service again');
  t.same(ids(await running()), ids(after), 'the same 6 tasks run, none of its old ones again');
  for (const task of lost.filter((l) => !after.some((a) => a.Endpoint.Addr === l.Endpoint.Addr))) {
    t.equal(await connectAndWait(task.Endpoint.Addr, task.Endpoint.Ports[0].ListenPort, 1000), 'refused', `nothing listens on old task ${task.Slot}'s address`);
  }
});
