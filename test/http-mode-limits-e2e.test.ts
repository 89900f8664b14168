// http mode's guard on the way in, end to end through a real cluster: a slow client is cut after the
// service's routemesh.lb.header-timeout with a 408, and requests HAProxy refuses are refused by the node.
import net from 'node:net';
import t from 'tap';
import { api, published, serviceSpec, testBlock, testCluster, waitForRunning } from './support/cluster.js';
import { deadline } from './support/dns.js';

const BLOCK = testBlock(66); // node 127.66.0.1, tasks 127.67/16, VIPs 127.68/16

/** Writes `text` on a new connection to `host:port` and resolves with all it gets until the node closes it. */
function exchange(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => { received += chunk; });
    socket.once('close', () => resolve(received));
    socket.once('error', reject);
    socket.write(text);
  });
}

t.test('routemesh.lb.header-timeout cuts a slow head with 408; two Host headers and HTTP/0.9 get 400', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 1 });
  const manager = cluster.nodes[0]!.apiUrl;
  const node = cluster.nodes[0]!.address;
  const labels = { 'routemesh.lb.mode': 'http', 'routemesh.lb.header-timeout': '300ms' };
  const created = await api(manager, 'POST', '/services/create', serviceSpec('guarded', 'traefik/whoami', { Labels: labels, ...published(80, 8091) }));
  t.equal(created.status, 201);
  await waitForRunning(manager, 'guarded', 1);
  await Promise.all(cluster.engines.map((e) => e.mesh!.settled()));

  const started = Date.now();
  const slow = await deadline('the slow head to be cut', exchange(node, 8091, 'GET / HTTP/1.1\r\nHost: guarded\r\n'), 5000);
  const elapsed = Date.now() - started;
  t.match(slow, /^HTTP\/1\.1 408 Request Timeout\r\n/, 'a 408');
  t.match(slow, /did not arrive within 0\.3s/, 'saying why');
  t.ok(elapsed >= 250 && elapsed < 2000, `after the label's 300ms, not Node's 60 s (${elapsed}ms)`);

  const smuggler = await deadline('the refusal', exchange(node, 8091, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), 5000);
  t.match(smuggler, /^HTTP\/1\.1 400 Bad Request\r\n/, 'two Host headers: 400');
  const old = await deadline('the refusal', exchange(node, 8091, 'GET /\r\n'), 5000);
  t.match(old, /^HTTP\/1\.1 400 Bad Request\r\n/, 'HTTP/0.9: 400, at once');
});
