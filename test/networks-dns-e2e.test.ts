// DNS scoped by network, asked with the real dig from a task's own address (`dig -b`): a task is answered
// the services on the networks it shares with them (`<service>`, `<service>.<network>`, aliases,
// `tasks.<service>`), at their addresses on that network; a service on none of its networks does not
// exist for it; the host keeps the unscoped answers.
import t from 'tap';
import { api, testCluster, waitFor, waitForRunning } from './support/cluster.js';
import { dig } from './support/dns.js';
import { requireTool } from './support/tools.js';

const BLOCK = 183; // nodes 127.183.0.x, tasks 127.183.32/19, VIPs 127.183.64/19, networks 127.183.128/17
const OPTIONS = { taskSubnet: '127.183.32.0/19', vipSubnet: '127.183.64.0/19', networkPool: '127.183.128.0/17' };

const bare = (cidr: string): string => cidr.split('/')[0]!;

t.test('a task is answered the names of the networks it is on, at their addresses there', async (t) => {
  if (!requireTool(t, 'dig', 'dnsutils')) return;
  const cluster = await testCluster(t, BLOCK, { nodes: 2, ...OPTIONS });
  const base = cluster.nodes[0]!.apiUrl;
  const { address: dns, port } = cluster.dnsServer;
  const ids: Record<string, string> = {};
  for (const name of ['a', 'b']) ids[name] = (await api(base, 'POST', '/networks/create', { Name: name, Driver: 'overlay' })).body.Id;
  const service = (name: string, networks: { Target: string; Aliases?: string[] }[]) => api(base, 'POST', '/services/create', {
    Name: name, TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami' }, Networks: networks }, Mode: { Replicated: { Replicas: 1 } },
  });
  await service('web', [{ Target: 'a', Aliases: ['www'] }]);
  await service('api', [{ Target: 'a' }, { Target: 'b' }]);
  await service('db', [{ Target: 'b' }]);
  await service('client-a', [{ Target: 'a' }]);
  await service('client-b', [{ Target: 'b' }]);
  const running: Record<string, any> = {};
  for (const name of ['web', 'api', 'db', 'client-a', 'client-b']) running[name] = (await waitForRunning(base, name, 1))[0];
  const vip = async (name: string, network?: string) => {
    const vips = (await api(base, 'GET', `/services/${name}`)).body.Endpoint.VirtualIPs;
    return bare(network ? vips.find((v: any) => v.NetworkID === ids[network]).LoopbackAddr : vips[0].Addr);
  };
  const on = (task: any, network: string) => bare(task.NetworksAttachments.find((a: any) => a.Network.ID === ids[network]).LoopbackAddresses[0]);
  const ask = async (name: string, from?: string) => {
    const result = await dig(dns, port, [...(from ? ['-b', from] : []), name, 'A']);
    return result.status === 'NOERROR' ? result.answer.map((r) => r.data).sort() : result.status;
  };
  const fromA = on(running['client-a'], 'a');
  const fromB = on(running['client-b'], 'b');
  // The mesh names a task once it runs: wait for the first answer.
  await waitFor('web named on a', async () => (await ask('web', fromA))[0] === (await vip('web', 'a')));

  t.strictSame(await ask('web', fromA), [await vip('web', 'a')], "<service>: its VIP on the network they share");
  t.strictSame(await ask('web.a', fromA), [await vip('web', 'a')], '<service>.<network>');
  t.strictSame(await ask('www', fromA), [await vip('web', 'a')], 'an alias on that network');
  t.strictSame(await ask('tasks.web', fromA), [on(running.web, 'a')], 'tasks.<service>: task addresses on that network');
  t.strictSame(await ask('api', fromA), [await vip('api', 'a')], 'a service on both networks, as a sees it');
  t.strictSame(await ask('api', fromB), [await vip('api', 'b')], 'and as b sees it');
  t.equal(await ask('db', fromA), 'NXDOMAIN', 'a service on no network the task is on does not exist for it');
  t.equal(await ask('web', fromB), 'NXDOMAIN');
  t.equal(await ask('www', fromB), 'NXDOMAIN', 'nor its aliases');
  t.strictSame(await ask('db', fromB), [await vip('db', 'b')]);
  t.strictSame(await ask('web', running['client-a'].Endpoint.Addr), [await vip('web', 'a')], "the task's ingress address asks as the task");

  t.strictSame(await ask('web'), [await vip('web')], 'the host keeps the unscoped answers');
  t.strictSame(await ask('db'), [await vip('db')]);
  const reverse = await dig(dns, port, ['-b', fromA, '-x', await vip('web', 'a')]);
  t.equal(reverse.answer[0]?.data, 'web.', 'a network VIP has its reverse name');
});
