// Services on networks through the real docker CLI: each task an address on each of its networks (shown
// in the network's subnet, bound in its loopback block, where it really answers), a VIP per network that
// the VIP node listens on, `--network-add/--network-rm`, and isolation: a network's VIP and task addresses
// refuse a task that is only on another network, and admit one on it.
import net from 'node:net';
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { docker } from './support/cli.js';
import { requireTool } from './support/tools.js';

const BLOCK = 175; // nodes 127.175.0.x, tasks 127.175.32/19, VIPs 127.175.64/19, networks 127.175.128/17
const OPTIONS = { taskSubnet: '127.175.32.0/19', vipSubnet: '127.175.64.0/19', networkPool: '127.175.128.0/17' };

/** An HTTP GET from `from` (a client socket bound there, as a task's own would be), or how it was refused. */
function getFrom(host: string, port: number, from?: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, ...(from ? { localAddress: from } : {}) });
    let body = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: string) => { body += chunk; });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
    socket.on('close', () => resolve(body || 'closed'));
  });
}

const bare = (cidr: string): string => cidr.split('/')[0]!;

t.test('tasks on networks: an address on each, really answering there, a VIP per network, network-add/rm', async (t) => {
  requireTool(t, 'docker', 'docker-ce-cli');
  const cluster = await testCluster(t, BLOCK, { nodes: 2, ...OPTIONS });
  const node1 = cluster.nodes[0]!.address;
  const base = cluster.nodes[0]!.apiUrl;
  for (const args of [['--subnet', '159.0.0.0/24', 'front'], ['back'], ['elsewhere']]) {
    const created = await docker(node1, 'network', 'create', '-d', 'overlay', ...args);
    t.equal(created.code, 0, created.stderr);
  }
  const made = await docker(node1, 'service', 'create', '-d', '--name', 'web', '--replicas', '2', '--network', 'front', '--network', 'name=back,alias=api', 'traefik/whoami');
  t.equal(made.code, 0, made.stderr);
  const tasks = await waitForRunning(base, 'web', 2);
  for (const task of tasks) {
    t.strictSame(task.NetworksAttachments.map((a: any) => a.Network.Spec.Name).sort(), ['back', 'front', 'ingress']);
    t.equal(task.NetworksAttachments[0].Network.Spec.Name, 'ingress', 'ingress first');
    const front = task.NetworksAttachments.find((a: any) => a.Network.Spec.Name === 'front');
    const back = task.NetworksAttachments.find((a: any) => a.Network.Spec.Name === 'back');
    t.match(front.Addresses[0], /^159\.0\.0\.\d+\/24$/, 'shown in the subnet as given');
    t.equal(bare(front.LoopbackAddresses[0]), `127.175.128.${bare(front.Addresses[0]).split('.')[3]}`, 'bound in its loopback block, one to one');
    t.match(back.Addresses[0], /^10\.0\.1\.\d+\/24$/);
    t.strictSame(back.Aliases, ['api']);
    for (const attachment of [front, back]) {
      const answer = await getFrom(bare(attachment.LoopbackAddresses[0]), 80);
      t.match(answer, `IP: ${bare(attachment.LoopbackAddresses[0])}`, `the task answers on its ${attachment.Network.Spec.Name} address`);
    }
  }
  const service = (await api(base, 'GET', '/services/web')).body;
  const vips = service.Endpoint.VirtualIPs;
  t.equal(vips.length, 3, 'a VIP on ingress and one per network');
  const frontVip = vips.find((v: any) => v.Addr.startsWith('159.0.0.'));
  t.ok(frontVip, 'the front VIP is shown in its subnet');
  await waitFor('the front VIP answers', async () => (await getFrom(bare(frontVip.LoopbackAddr), 80)).includes('Hostname:'));
  const inspect = await docker(node1, 'service', 'inspect', '--format', '{{len .Endpoint.VirtualIPs}}', 'web');
  t.equal(inspect.stdout.trim(), '3');

  // Off `back`: new tasks without it, its VIP released, and the network free to remove.
  const backVip = vips.find((v: any) => v.Addr.startsWith('10.0.1.'));
  const update = await docker(node1, 'service', 'update', '-d', '--update-parallelism', '2', '--update-monitor', '200ms', '--network-rm', 'back', '--network-add', 'elsewhere', 'web');
  t.equal(update.code, 0, update.stderr);
  const updated = await waitFor('tasks on front and elsewhere', async () => {
    const running = await waitForRunning(base, 'web', 2);
    return running.every((task) => task.NetworksAttachments.map((a: any) => a.Network.Spec.Name).sort().join() === 'elsewhere,front,ingress') ? running : undefined;
  }, 20_000);
  t.equal(updated.length, 2);
  const after = (await api(base, 'GET', '/services/web')).body.Endpoint.VirtualIPs;
  t.notOk(after.some((v: any) => v.NetworkID === backVip.NetworkID), 'no VIP on back any more');
  t.ok(after.some((v: any) => v.Addr.startsWith('10.0.2.')), 'a VIP on elsewhere');
  await waitFor('no task left on back', async () => (await api(base, 'GET', '/tasks')).body.every((task: any) =>
    ['shutdown', 'complete', 'failed'].includes(task.Status.State) || !task.NetworksAttachments.some((a: any) => a.Network.ID === backVip.NetworkID)));
  const rm = await docker(node1, 'network', 'rm', 'back');
  t.equal(rm.code, 0, `nothing holds back any more: ${rm.stderr}`);
});

t.test('isolation: a network refuses a task only on another network, and admits one on it', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1, ...OPTIONS });
  const base = cluster.nodes[0]!.apiUrl;
  for (const name of ['a', 'b']) t.equal((await api(base, 'POST', '/networks/create', { Name: name, Driver: 'overlay' })).status, 201);
  const on = (name: string, network: string) => ({ Name: name, TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' }, Networks: [{ Target: network }] }, Mode: { Replicated: { Replicas: 1 } } });
  t.equal((await api(base, 'POST', '/services/create', on('server', 'a'))).status, 201);
  t.equal((await api(base, 'POST', '/services/create', on('client-a', 'a'))).status, 201);
  t.equal((await api(base, 'POST', '/services/create', on('client-b', 'b'))).status, 201);
  const [server] = await waitForRunning(base, 'server', 1);
  const [clientA] = await waitForRunning(base, 'client-a', 1);
  const [clientB] = await waitForRunning(base, 'client-b', 1);
  const addressOn = (task: any) => bare(task.NetworksAttachments[1].LoopbackAddresses[0]);
  const vip = bare((await api(base, 'GET', '/services/server')).body.Endpoint.VirtualIPs[1].LoopbackAddr);
  await waitFor('the VIP on a answers', async () => (await getFrom(vip, 80)).includes('Hostname:'));

  t.match(await getFrom(vip, 80, addressOn(clientA)), 'Hostname:', "a task on a reaches a's VIP");
  t.match(await getFrom(vip, 80, addressOn(clientB)), /^(error ECONNRESET|closed)$/, "a task only on b is refused at a's VIP");
  t.match(await getFrom(vip, 80, clientB.Endpoint.Addr), /^(error ECONNRESET|closed)$/, 'from its ingress address too');
  t.match(await getFrom(addressOn(server), 80, addressOn(clientA)), 'Hostname:', "a task on a reaches the server's address on a");
  t.match(await getFrom(addressOn(server), 80, addressOn(clientB)), /^(error ECONNRESET|closed)$/, "a task only on b is refused at the server's address on a");
  t.match(await getFrom(vip, 80), 'Hostname:', 'the host (no task) reaches it');
});
