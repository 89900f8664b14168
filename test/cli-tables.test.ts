// The tables of `node ls`, `service ls` and `service ps`, rendered from objects rebuilt from the docker
// CLI transcript (shared/docker-api/seed-transcript.md) and compared with what docker printed, byte for byte.
import t from 'tap';
import type { ApiNode, ApiService, ApiTask } from '../src/cli/apiTypes.js';
import { renderNodeList } from '../src/cli/views/nodeList.js';
import { renderServiceList } from '../src/cli/views/serviceList.js';
import { renderTaskList } from '../src/cli/views/taskList.js';
import { renderTable } from '../src/cli/table.js';

const NODE_LS = "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n7v4jn33vowart3i1w7cy4avhf *   manager1   Ready     Active         Leader           28.2.2\nsg7lgx2kreoml5jwnbz3wofnx     worker1    Ready     Active                          28.2.2\nx0e3vr38vrbsrt36e8i87hy4v     worker2    Ready     Active         Reachable        28.2.2\n";
const SERVICE_LS = "ID             NAME      MODE         REPLICAS   IMAGE          PORTS\nkvn8k190tfdd   backend   replicated   2/2        redis:latest   \niy5h8yxrpcmm   my-web    replicated   1/1        nginx:latest   *:80->80/tcp\n2aqtn40wn5iz   quick     replicated   0/1        nginx:latest   \n4pdvbccmfrk5   simple    replicated   3/3        nginx:1.25     *:5000->5000/tcp\ngdwnmcer23pn   study     global       3/3        nginx:latest   \n";
const PS_SIMPLE = "ID             NAME           IMAGE        NODE       DESIRED STATE   CURRENT STATE             ERROR     PORTS\n3m8ocp0wk1ud   simple.1       nginx:1.25   worker2    Running         Running 12 seconds ago              \ndx8glzlmospt    \\_ simple.1   nginx:1.27   manager1   Shutdown        Shutdown 15 seconds ago             \ndrvquey8kx3q    \\_ simple.1   nginx:1.25   manager1   Shutdown        Shutdown 48 seconds ago             \nrgd4vgnjs7fe   simple.2       nginx:1.25   manager1   Running         Running 9 seconds ago               \nn046xg0zzk4u    \\_ simple.2   nginx:1.27   manager1   Shutdown        Shutdown 12 seconds ago             \n6sm8c786su30    \\_ simple.2   nginx:1.25   worker1    Shutdown        Shutdown 34 seconds ago             \nwgzffxqcdjym   simple.3       nginx:1.25   worker1    Running         Running 5 seconds ago               \n8aqqx9nb6rjb    \\_ simple.3   nginx:1.27   worker1    Shutdown        Shutdown 8 seconds ago              \n7dwoijuupdga    \\_ simple.3   nginx:1.25   worker2    Shutdown        Shutdown 20 seconds ago             \n";
const PS_MY_WEB = "ID             NAME       IMAGE          NODE       DESIRED STATE   CURRENT STATE            ERROR     PORTS\n3ikmspfymwph   my-web.1   nginx:latest   manager1   Running         Running 29 seconds ago             \n";

const NOW = Date.parse('2026-11-22T12:54:30Z');
const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString();
const DIGEST = '@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65';

function node(id: string, hostname: string, manager?: { leader: boolean }): ApiNode {
  return {
    ID: id,
    Spec: { Labels: {}, Role: manager ? 'manager' : 'worker', Availability: 'active' },
    Description: { Hostname: hostname, Engine: { EngineVersion: '28.2.2' } },
    Status: { State: 'ready', Addr: '192.168.37.1' },
    ...(manager ? { ManagerStatus: { Leader: manager.leader, Reachability: 'reachable', Addr: '192.168.37.1:2377' } } : {}),
  };
}

t.test('node ls: docker\'s table, the answering node starred, rows in hostname order', async (t) => {
  // Given out of order, as an engine may list them.
  const nodes = [
    node('x0e3vr38vrbsrt36e8i87hy4v', 'worker2', { leader: false }),
    node('7v4jn33vowart3i1w7cy4avhf', 'manager1', { leader: true }),
    node('sg7lgx2kreoml5jwnbz3wofnx', 'worker1'),
  ];
  t.equal(renderNodeList(nodes, '7v4jn33vowart3i1w7cy4avhf'), NODE_LS);
});

function service(id: string, name: string, image: string, mode: 'replicated' | 'global', running: number, desired: number, published?: number): ApiService {
  const ports = published === undefined ? [] : [{ Protocol: 'tcp', TargetPort: published, PublishedPort: published, PublishMode: 'ingress' }];
  return {
    ID: id,
    Version: { Index: 10 },
    Spec: {
      Name: name,
      Labels: {},
      TaskTemplate: { ContainerSpec: { Image: image } },
      Mode: mode === 'global' ? { Global: {} } : { Replicated: { Replicas: desired } },
      EndpointSpec: { Mode: 'vip', Ports: ports },
    },
    Endpoint: { Ports: ports },
    ServiceStatus: { RunningTasks: running, DesiredTasks: desired },
  };
}

t.test('service ls: docker\'s table, images without digest, ingress ports, rows in name order', async (t) => {
  const services = [
    service('iy5h8yxrpcmmp6cvtjc00gmhw', 'my-web', `nginx:latest${DIGEST}`, 'replicated', 1, 1, 80),
    service('4pdvbccmfrk52mmfyevopplyo', 'simple', `nginx:1.25${DIGEST}`, 'replicated', 3, 3, 5000),
    service('kvn8k190tfddl69dhbf8bwpcb', 'backend', 'redis:latest@sha256:34fb46c847bb9df96e5205a39d382f648a6e8dce1e014cd85b4ca6a88d88ed03', 'replicated', 2, 2),
    service('gdwnmcer23pnac58wjzai6iuu', 'study', `nginx:latest${DIGEST}`, 'global', 3, 3),
    service('2aqtn40wn5izg4h5nfkzbq8ki', 'quick', `nginx:latest${DIGEST}`, 'replicated', 0, 1),
  ];
  t.equal(renderServiceList(services), SERVICE_LS);
});

t.test('service ls: consecutive ports merge into ranges, host-mode ports are not shown', async (t) => {
  const s = service('abcdefabcdefabcdef', 'web', 'nginx', 'replicated', 0, 1);
  s.Endpoint = {
    Ports: [
      { Protocol: 'tcp', TargetPort: 81, PublishedPort: 8081, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'host' },
    ],
  };
  t.match(renderServiceList([s]), /\*:8080-8081->80-81\/tcp, \*:53->53\/udp\n$/);
});

const NODE_NAMES = new Map([
  ['x0e3vr38vrbsrt36e8i87hy4v', 'worker2'],
  ['7v4jn33vowart3i1w7cy4avhf', 'manager1'],
  ['sg7lgx2kreoml5jwnbz3wofnx', 'worker1'],
]);
const SIMPLE = '4pdvbccmfrk52mmfyevopplyo';

function task(id: string, slot: number, image: string, nodeId: string, state: string, secondsAgo: number, createdSecondsAgo: number): ApiTask {
  const desired = state === 'running' ? 'running' : 'shutdown';
  return {
    ID: id,
    CreatedAt: ago(createdSecondsAgo),
    Spec: { ContainerSpec: { Image: `${image}${DIGEST}` } },
    ServiceID: SIMPLE,
    Slot: slot,
    NodeID: nodeId,
    Status: { Timestamp: ago(secondsAgo), State: state, PortStatus: {} },
    DesiredState: desired,
  };
}

t.test('service ps: history under each slot, newest first, ages in docker\'s words', async (t) => {
  const [w2, m1, w1] = ['x0e3vr38vrbsrt36e8i87hy4v', '7v4jn33vowart3i1w7cy4avhf', 'sg7lgx2kreoml5jwnbz3wofnx'];
  // In the order an engine might keep them: oldest first.
  const tasks = [
    task('drvquey8kx3qym6a31aep7vwb', 1, 'nginx:1.25', m1, 'shutdown', 48, 95),
    task('6sm8c786su30y7ef2lzx8r942', 2, 'nginx:1.25', w1, 'shutdown', 34, 95),
    task('7dwoijuupdgadysww9a2w69ej', 3, 'nginx:1.25', w2, 'shutdown', 20, 95),
    task('dx8glzlmosptd4w2j9fj9g25p', 1, 'nginx:1.27', m1, 'shutdown', 15, 50),
    task('n046xg0zzk4uu8tu3uqnfa632', 2, 'nginx:1.27', m1, 'shutdown', 12, 36),
    task('8aqqx9nb6rjb5c7pm07fmnno6', 3, 'nginx:1.27', w1, 'shutdown', 8, 22),
    task('3m8ocp0wk1udaakn9a4hdwcd0', 1, 'nginx:1.25', w2, 'running', 12, 16),
    task('rgd4vgnjs7fexnagwj7n0vsn5', 2, 'nginx:1.25', m1, 'running', 9, 13),
    task('wgzffxqcdjymwq16pteppe9nc', 3, 'nginx:1.25', w1, 'running', 5, 9),
  ];
  const text = renderTaskList(tasks, { serviceNames: new Map([[SIMPLE, 'simple']]), nodeNames: NODE_NAMES, now: NOW, trunc: true });
  t.equal(text, PS_SIMPLE);
});

t.test('service ps: a single running task', async (t) => {
  const tasks: ApiTask[] = [{
    ID: '3ikmspfymwphq0c2yv8gsh3zz',
    CreatedAt: ago(35),
    Spec: { ContainerSpec: { Image: `nginx:latest${DIGEST}` } },
    ServiceID: 'iy5h8yxrpcmmp6cvtjc00gmhw',
    Slot: 1,
    NodeID: '7v4jn33vowart3i1w7cy4avhf',
    Status: { Timestamp: ago(29.4), State: 'running' },
    DesiredState: 'running',
  }];
  const text = renderTaskList(tasks, { serviceNames: new Map([['iy5h8yxrpcmmp6cvtjc00gmhw', 'my-web']]), nodeNames: NODE_NAMES, now: NOW, trunc: true });
  t.equal(text, PS_MY_WEB);
});

t.test('service ps: errors quoted and cut to 30 characters, moved ports and host ports shown', async (t) => {
  const tasks: ApiTask[] = [{
    ID: 'aaaaaaaaaaaaaaaaaaaaaaaaa',
    CreatedAt: ago(3),
    Spec: { ContainerSpec: { Image: 'nosuch/image:1' } },
    ServiceID: 's1',
    Slot: 1,
    NodeID: 'n1',
    Status: { Timestamp: ago(0.2), State: 'rejected', Err: 'No such image: nosuch/image:1 (and more words)' },
    DesiredState: 'shutdown',
  }, {
    ID: 'bbbbbbbbbbbbbbbbbbbbbbbbb',
    CreatedAt: ago(2),
    Spec: { ContainerSpec: { Image: 'nginx:latest' } },
    ServiceID: 's1',
    Slot: 2,
    NodeID: 'n1',
    Status: { Timestamp: ago(75), State: 'running', PortStatus: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }] } },
    DesiredState: 'running',
    Endpoint: { Addr: '127.20.0.7', Ports: [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 10080 }] },
  }];
  const text = renderTaskList(tasks, { serviceNames: new Map([['s1', 'web']]), nodeNames: new Map(), now: NOW, trunc: true });
  const lines = text.split('\n');
  t.match(lines[1], /^aaaaaaaaaaaa   web\.1 +nosuch\/image:1 +n1 +Shutdown +Rejected less than a second ago +"No such image: nosuch\/image:1…" *$/);
  t.match(lines[2], /Running about a minute ago +\*:8081->80\/tcp,127\.20\.0\.7:10080->80\/tcp$/);
});

t.test('tables pad every column but the last to its widest cell plus 3, at least 10', async (t) => {
  t.equal(renderTable([['A', 'B', 'C'], ['longer-than-ten', '', 'x']]),
    `A${' '.repeat(17)}B${' '.repeat(9)}C\n` +
    `longer-than-ten${' '.repeat(3)}${' '.repeat(10)}x\n`);
  t.equal(renderTable([['ONLY']]), 'ONLY\n');
});
