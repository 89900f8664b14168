// PROXY protocol through the mesh, end to end, read by traefik/whoami: with the label the task sees the
// real client (v1 and v2); without, the forwarding node (Swarm's SNAT); a client's own PROXY header is
// believed only from a trusted range, and a spoofed one never reaches a task.
import net from 'node:net';
import t from 'tap';
import { api, published, serviceSpec, testCluster, waitForRunning } from './support/cluster.js';

const BLOCK = 219; // nodes 127.219.0.x, tasks 127.220/16, VIPs 127.221/16
const CLIENT = '127.219.0.77';
const TRUSTED_PROXY = '127.219.0.88';

/** One HTTP request on a new connection from `from`, after `preface` bytes; the raw answer ('' if closed without one). */
function ask(host: string, port: number, from: string, preface = ''): Promise<{ text: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress: from });
    let text = '';
    let localPort = 0;
    socket.setEncoding('latin1');
    socket.on('connect', () => {
      localPort = socket.localPort!;
      socket.write(`${preface}GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    });
    socket.on('data', (chunk) => { text += chunk; });
    socket.on('close', () => resolve({ text, localPort }));
    socket.on('error', reject);
  });
}

const remoteAddr = (text: string): string | undefined => /RemoteAddr: (\S+)/.exec(text)?.[1];

t.test('PROXY protocol toward tasks', async (t) => {
  const log: string[] = [];
  const cluster = await testCluster(t, BLOCK, { log: (line) => log.push(line) });
  const manager = cluster.nodes[0]!.apiUrl;
  const node = cluster.nodes[1]!.address;
  const services: [string, number, Record<string, string>][] = [
    ['plain', 9201, {}],
    ['v1', 9202, { 'routemesh.proxy-protocol': 'v1' }],
    ['v2', 9203, { 'routemesh.proxy-protocol': 'v2' }],
    ['behind-lb', 9204, { 'routemesh.proxy-protocol': 'v2', 'routemesh.proxy-protocol.trusted': `${TRUSTED_PROXY}/32` }],
  ];
  for (const [name, port, labels] of services) {
    const created = await api(manager, 'POST', '/services/create', serviceSpec(name, 'traefik/whoami', { Labels: labels, ...published(80, port) }));
    t.equal(created.status, 201, JSON.stringify(created.body));
  }
  for (const [name] of services) await waitForRunning(manager, name, 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const plain = await ask(node, 9201, CLIENT);
  t.equal(remoteAddr(plain.text)?.split(':')[0], node, 'no label: the task sees the node that forwarded, as behind Swarm');
  for (const [name, port] of [['v1', 9202], ['v2', 9203]] as const) {
    const { text, localPort } = await ask(node, port, CLIENT);
    t.equal(remoteAddr(text), `${CLIENT}:${localPort}`, `${name}: the task sees the client's own address and port`);
  }

  const spoof = 'PROXY TCP4 6.6.6.6 127.219.0.2 6666 9202\r\n';
  const refused = await ask(node, 9201, CLIENT, spoof);
  t.equal(refused.text, '', 'no label: a spoofed header is refused, the connection closed before the task sees it');
  t.ok(log.some((line) => /node2's pool of plain:80 refused a PROXY header from 127\.219\.0\.77, which is not a trusted proxy/.test(line)), 'and the node says so');
  for (const port of [9202, 9204]) {
    // Our header went first and named the client: what it sends after is only data, here a bad request line.
    const { text } = await ask(node, port, CLIENT, spoof);
    t.notMatch(text, /6\.6\.6\.6/, `port ${port}: the spoofed address never reaches the task as the client`);
    t.match(text, /^HTTP\/1\.1 400 Bad Request/, `port ${port}: the task took it for the bad request it is`);
  }

  const viaLb = await ask(node, 9204, TRUSTED_PROXY, 'PROXY TCP4 203.0.113.7 127.219.0.2 5555 9204\r\n');
  t.equal(remoteAddr(viaLb.text), '203.0.113.7:5555', 'a trusted proxy\'s header names the client, and the task is told that client');
  const direct = await ask(node, 9204, TRUSTED_PROXY);
  t.equal(remoteAddr(direct.text), `${TRUSTED_PROXY}:${direct.localPort}`, 'a trusted address without a header is its own client');
});
