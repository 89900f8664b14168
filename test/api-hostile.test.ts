// The engine API against a hostile client: what a client sends never yields a 5xx, versions the daemon
// does not serve are refused with Docker's words, and a web page (cross-origin or DNS-rebound) changes nothing.
import t from 'tap';
import { api, rawApi, serviceSpec, testBlock, testCluster } from './support/cluster.js';

const BLOCK = testBlock(84); // nodes 127.84.0.x, tasks 127.85/16, VIPs 127.86/16

t.test('hostile requests to a 2-node cluster', async (t) => {
  const cluster = await testCluster(t, BLOCK, { nodes: 2, metricsPort: undefined });
  const [manager] = cluster.nodes.map((n) => n.apiUrl) as [string, string];
  const services = async (): Promise<string[]> => (await api<any[]>(manager, 'GET', '/services')).body.map((s) => s.Spec.Name);

  await t.test('a body nested 10,000 deep is the client\'s fault: 400 naming the limit', async (t) => {
    // Written out: JSON.stringify itself overflows on this.
    const labels = '{"a":'.repeat(10_000) + '"x"' + '}'.repeat(10_000);
    const deep = await api(manager, 'POST', '/services/create', JSON.stringify(serviceSpec('deep', 'nginx')).replace('"Labels":{}', `"Labels":${labels}`));
    t.equal(deep.status, 400);
    t.match(deep.body.message, /nests deeper than 64 levels/);
    const array = await api(manager, 'POST', '/services/create', '['.repeat(10_000) + ']'.repeat(10_000));
    t.equal(array.status, 400);
    t.match(array.body.message, /nests deeper than 64 levels/);
    t.same(await services(), []);
  });

  await t.test('a path that a URL parser reads as a host is a 400, not a 500', async (t) => {
    for (const target of ['//v1.50/services', '/\\v1.50/services', '*', 'http://evil.example/v1.50/services']) {
      const res = await rawApi(manager, 'GET', target, {});
      t.equal(res.status, 400, target);
      t.match(res.body.message, /malformed request target .*: a path starts with a single \//, target);
    }
  });

  await t.test('a version above the maximum or below the minimum gets Docker\'s 400', async (t) => {
    for (const version of ['2.0', '1.51', '1.50.1', '99999999999999999999.0']) {
      const res = await rawApi(manager, 'GET', `/v${version}/_ping`, {});
      t.equal(res.status, 400, version);
      t.same(res.body, { message: `client version ${version} is too new. Maximum supported API version is 1.50` }, version);
    }
    const old = await rawApi(manager, 'GET', '/v1.23/services', {});
    t.equal(old.status, 400);
    t.equal(old.body.message, 'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version');
    for (const version of ['1.24', '1.50', '1.050']) t.equal((await rawApi(manager, 'GET', `/v${version}/_ping`, {})).status, 200, version);
    t.equal((await rawApi(manager, 'GET', '/vabc/_ping', {})).status, 404, 'no version at all: no such page, as Docker');
  });

  await t.test('a body that is not application/json is refused as Docker\'s CheckForJSON does', async (t) => {
    const spec = JSON.stringify(serviceSpec('plain', 'nginx'));
    const plain = await rawApi(manager, 'POST', '/v1.50/services/create', { 'content-type': 'text/plain' }, spec);
    t.equal(plain.status, 400);
    t.equal(plain.body.message, "unsupported Content-Type header (text/plain): must be 'application/json'");
    const none = await rawApi(manager, 'POST', '/v1.50/services/create', {}, spec);
    t.equal(none.status, 400);
    t.match(none.body.message, /missing Content-Type header/);
    t.same(await services(), []);
    const json = await rawApi(manager, 'POST', '/v1.50/services/create', { 'content-type': 'application/json; charset=utf-8' }, spec);
    t.equal(json.status, 201, 'application/json with parameters is JSON');
    t.equal((await api(manager, 'DELETE', '/services/plain')).status, 200);
  });

  await t.test('a web page\'s cross-origin POST creates no service and powers no node off', async (t) => {
    const spec = JSON.stringify(serviceSpec('evil', 'routemesh/exec', { TaskTemplate: { ContainerSpec: { Image: 'routemesh/exec', Args: ['true'] } } }));
    const evil = { origin: 'http://evil.example' };
    // The "simple" request a page sends without a preflight, and the JSON one a page could send after one.
    for (const headers of [{ ...evil, 'content-type': 'text/plain' }, { ...evil, 'content-type': 'application/json' }]) {
      const res = await rawApi(manager, 'POST', '/v1.50/services/create', headers, spec);
      t.equal(res.status, 403, headers['content-type']);
    }
    const json = await rawApi(manager, 'POST', '/v1.50/services/create', { ...evil, 'content-type': 'application/json' }, spec);
    t.match(json.body.message, /^cross-origin request refused: a web page from http:\/\/evil\.example may not use the engine API/);
    const fault = await rawApi(manager, 'POST', '/routemesh/nodes/node2/fail', evil);
    t.equal(fault.status, 403);
    const nullOrigin = await rawApi(manager, 'POST', '/routemesh/nodes/node2/fail', { origin: 'null' });
    t.equal(nullOrigin.status, 403, 'a sandboxed page or a file sends Origin: null');
    t.equal((await rawApi(manager, 'DELETE', '/v1.50/nodes/node2?force=1', evil)).status, 403);
    t.same(await services(), []);
    const nodes = (await api<any[]>(manager, 'GET', '/nodes')).body;
    t.same(nodes.map((n) => `${n.Description.Hostname} ${n.Status.State}`).sort(), ['node1 ready', 'node2 ready']);
  });

  await t.test('a request to a name rebound to the node is refused; its addresses are not', async (t) => {
    const { address } = cluster.nodes[0]!;
    for (const host of ['evil.example:2375', 'evil.example', '127.84.0.1.nip.io:2375']) {
      const res = await rawApi(manager, 'POST', '/v1.50/services/create', { host, 'content-type': 'application/json' }, JSON.stringify(serviceSpec('rebound', 'nginx')));
      t.equal(res.status, 403, host);
      t.match(res.body.message, new RegExp(`Host header names .*address the engine as http://${address.replace(/\./g, '\\.')}:2375$`), host);
      t.equal((await rawApi(manager, 'GET', '/v1.50/swarm', { host })).status, 403, `${host}: nor may it read the join tokens`);
      t.equal((await rawApi(manager, 'POST', '/routemesh/nodes/node2/fail', { host })).status, 403, `${host}: nor fail a node`);
    }
    t.same(await services(), []);
    for (const host of [`${address}:2375`, address, 'localhost:2375', 'api.moby.localhost', '[::1]:2375']) {
      t.equal((await rawApi(manager, 'GET', '/v1.50/swarm', { host })).status, 200, host);
    }
    const sameOrigin = await rawApi(manager, 'GET', '/v1.50/swarm', { origin: `http://${address}:2375` });
    t.equal(sameOrigin.status, 200, 'the engine\'s own origin');
  });
});
