// UDP published ports through a real cluster: every node's port answers and spreads flows over the tasks;
// the VIP answers on the UDP port and DNS names it (SRV _53._udp); a task that leaves the pool (its node
// drained) gets no datagram more than 1 s later, though it goes on running and answering for seconds
// (behind Swarm's IPVS, for up to 300 s).
import dgram from 'node:dgram';
import t from 'tap';
import type { Test } from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { dig } from './support/dns.js';
import { requireTool } from './support/tools.js';

const BLOCK = 233; // nodes 127.233.0.x, tasks 127.234/16, VIPs 127.235/16
const CLIENT = '127.233.0.77';

/** Answers `<task name>` to every datagram; shrugs SIGTERM off so it keeps answering through its stop grace. */
const SERVER = `
  process.on('SIGTERM', () => {});
  const socket = require('node:dgram').createSocket('udp4');
  socket.on('message', (m, r) => socket.send(process.env.TASK_NAME, r.port, r.address));
  socket.bind(Number(process.env.PORT), process.env.HOST);
`;

function udpService(name: string, published: number, replicas: number): Record<string, unknown> {
  return {
    Name: name,
    Labels: {},
    TaskTemplate: {
      ContainerSpec: { Image: 'routemesh/exec', Command: [process.execPath], Args: ['-e', SERVER], StopGracePeriod: 3_000_000_000 },
    },
    Mode: { Replicated: { Replicas: replicas } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'udp', TargetPort: 53, PublishedPort: published, PublishMode: 'ingress' }] },
  };
}

/** A client socket of its own (one flow): `ask` resolves with the reply, or undefined after `ms`. */
async function flow(t: Test) {
  const socket = dgram.createSocket('udp4');
  t.teardown(() => socket.close());
  await new Promise<void>((resolve) => socket.bind({ address: CLIENT, port: 0 }, resolve));
  return {
    socket,
    ask: (host: string, port: number, ms = 1000) => new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => { socket.off('message', onMessage); resolve(undefined); }, ms);
      const onMessage = (message: Buffer) => {
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(String(message));
      };
      socket.on('message', onMessage);
      socket.send('?', port, host);
    }),
  };
}

/** The process runs before its socket is bound: wait until every task answers on its own address. */
async function answering(t: Test, tasks: any[]): Promise<void> {
  const probe = await flow(t);
  for (const task of tasks) await waitFor(`${task.Name} to answer`, () => probe.ask(task.Endpoint.Addr, 53, 200));
}

t.test('a UDP port on every node, on the VIP and in DNS', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  t.equal((await api(manager, 'POST', '/services/create', udpService('udp', 5353, 3))).status, 201);
  const tasks = await waitForRunning(manager, 'udp', 3);
  await answering(t, tasks);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const names = new Set(tasks.map((task) => task.Name));
  for (const node of cluster.nodes) {
    const served: string[] = [];
    for (let i = 0; i < 6; i++) served.push((await (await flow(t)).ask(node.address, 5353)) ?? 'no answer');
    t.same(new Set(served), names, `${node.address}:5353/udp: six flows, each task answered (${served.join(', ')})`);
    t.equal(served[0], served[3], 'round robin per flow: every third flow to the same task');
  }

  const one = await flow(t);
  const first = await one.ask(cluster.nodes[1]!.address, 5353);
  for (let i = 0; i < 5; i++) t.equal(await one.ask(cluster.nodes[1]!.address, 5353), first, 'one client port keeps its task');

  const { body: service } = await api(manager, 'GET', '/services/udp');
  const vip = service.Endpoint.VirtualIPs[0].Addr.split('/')[0];
  t.ok(names.has((await (await flow(t)).ask(vip, 53)) ?? ''), 'the VIP answers on 53/udp');

  const srv = await dig(cluster.dnsServer.address, cluster.dnsServer.port, ['_53._udp.udp', 'SRV']);
  t.same(srv.answer.map((a) => a.data.split(' ').slice(0, 3).join(' ')), ['0 1 53', '0 1 53', '0 1 53'], 'SRV _53._udp.udp: one record per task, on port 53');
  t.same(new Set(srv.answer.map((a) => a.data.split(' ')[3]!.replace(/\.$/, ''))), names, 'naming the three tasks');
});

t.test('a task drained away gets no datagram more than 1 s after it leaves the pool', async (t) => {
  const cluster = await testCluster(t, BLOCK);
  const manager = cluster.nodes[0]!.apiUrl;
  await api(manager, 'POST', '/services/create', udpService('moving', 5354, 2));
  const tasks = await waitForRunning(manager, 'moving', 2);
  await answering(t, tasks);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  // One flow, one datagram every 20 ms, each answer stamped with when it came.
  const client = await flow(t);
  const answers: { at: number; by: string }[] = [];
  client.socket.on('message', (message) => answers.push({ at: Date.now(), by: String(message) }));
  const sent: number[] = [];
  const sender = setInterval(() => { sent.push(Date.now()); client.socket.send('?', 5354, cluster.nodes[0]!.address); }, 20);
  t.teardown(() => clearInterval(sender));
  await waitFor('the flow to be answered', () => answers.length >= 5);
  const pinned = answers.at(-1)!.by;
  const task = tasks.find((x) => x.Name === pinned)!;

  const { body: node } = await api(manager, 'GET', `/nodes/${task.NodeID}`);
  const drained = Date.now();
  await api(manager, 'POST', `/nodes/${node.ID}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' });
  await waitFor('answers from another task', () => answers.some((a) => a.at > drained && a.by !== pinned));
  const oneSecondOn = drained + 1000;
  await waitFor('a second and a half of answers after the drain', () => answers.at(-1)!.at > drained + 1500, 5000);

  // The drained task is still running (SIGTERM shrugged off, 3 s grace) and would answer if asked.
  const { body: after } = await api(manager, 'GET', `/tasks/${task.ID}`);
  t.equal(after.DesiredState, 'shutdown', 'the task is on its way out');
  t.equal(await (await flow(t)).ask(task.Endpoint.Addr, 53), pinned, 'and still answers when asked directly');
  const late = answers.filter((a) => a.by === pinned && a.at > oneSecondOn);
  t.equal(late.length, 0, `no answer from ${pinned} later than 1 s after the drain`);
  // Counted against what was sent then (a loaded machine sends fewer than one every 20 ms), up to the last
  // datagram an answer could have come back for.
  const lastAnswer = answers.at(-1)!.at;
  const asked = sent.filter((at) => at > oneSecondOn && at < lastAnswer - 100).length;
  const answered = answers.filter((a) => a.at > oneSecondOn).length;
  t.ok(asked > 5 && answered >= asked * 0.8, `while the flow kept being answered by another task (${answered} answers to ${asked} datagrams)`);
});
