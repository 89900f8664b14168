// The container model as tables, without sockets: what a create request may ask, `docker ps` selection
// and its status words, a task's container (its name, ID, labels, state), and the built-in images df counts.
import t from 'tap';
import { catalogue } from '../../src/runtime/catalogue.js';
import { builtInImages } from '../../src/runtime/index.js';
import { parseCreateRequest, selectContainers } from '../../src/engine/containers/index.js';
import type { ContainerFacts } from '../../src/engine/containers/index.js';
import { statusText } from '../../src/engine/containers/containerJson.js';
import { taskContainer } from '../../src/engine/containers/taskContainers.js';
import { taskContainerId } from '../../src/engine/taskContainer.js';
import { service, task } from '../support/swarmObjects.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

function container(name: string, o: Partial<ContainerFacts> = {}): ContainerFacts {
  return {
    id: `${name.padEnd(8, 'x')}`.replace(/[^0-9a-f]/g, 'a').padEnd(64, '0'), name, image: 'nginx', command: [], env: [], hostname: name,
    created: new Date(NOW - 60_000), state: 'running', startedAt: new Date(NOW - 180_000), finishedAt: undefined, exitCode: 0, error: '', pid: 1,
    labels: {}, ports: [], networkMode: 'host', networks: { host: { NetworkID: 'host', IPAddress: '', IPPrefixLen: 0, Gateway: '', Aliases: [], BindAddress: '127.1.0.1' } },
    autoRemove: false, task: false, output: () => undefined, ...o,
  };
}

t.test('a create request: what the docker CLI sends, and what routemesh refuses', async (t) => {
  const config = parseCreateRequest({
    Image: 'routemesh/exec', Entrypoint: ['sh', '-c'], Cmd: ['echo hi'], Env: ['A=1'], Labels: { team: 'x' },
    ExposedPorts: { '9000/tcp': {} },
    HostConfig: { NetworkMode: 'default', AutoRemove: true, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }], '81/tcp': [{ HostIp: '', HostPort: '' }] } },
  });
  t.same(config, {
    image: 'routemesh/exec', command: ['sh', '-c', 'echo hi'], env: ['A=1'], labels: { team: 'x' }, network: 'bridge', aliases: [],
    publish: [{ targetPort: 80, hostPort: 8080 }, { targetPort: 81, hostPort: 0 }], exposed: [9000, 80, 81], autoRemove: true,
  });
  t.same(parseCreateRequest({ Image: 'nginx', Cmd: 'nginx -g daemon', HostConfig: { NetworkMode: 'host' } }).command, ['nginx -g daemon'], 'a string command is one word, as strslice');
  const refusals: [unknown, RegExp][] = [
    [{}, /No image was specified/],
    [{ Image: 'nginx', Tty: true }, /no terminal or stdin|terminal or stdin/],
    [{ Image: 'nginx', OpenStdin: true }, /stdin/],
    [{ Image: 'nginx', HostConfig: { Binds: ['/a:/b'] } }, /does not mount volumes or binds into standalone containers/],
    [{ Image: 'nginx', HostConfig: { RestartPolicy: { Name: 'always' } } }, /does not restart standalone containers \(--restart always\)/],
    [{ Image: 'nginx', HostConfig: { PortBindings: { '53/udp': [{ HostPort: '53' }] } } }, /TCP ports of standalone containers only, not 53\/udp/],
    [{ Image: 'nginx', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8000-8010' }] } } }, /invalid host port "8000-8010"/],
    [{ Image: 'nginx', HostConfig: { PortBindings: { 'http/tcp': [] } } }, /invalid port specification: "http\/tcp"/],
    [{ Image: 'nginx', Cmd: [1] }, /Cmd must be a list of strings/],
    [{ Image: 'nginx', HostConfig: { NetworkMode: 'none' } }, /does not run a container with --network none/],
    [{ Image: 'nginx', HostConfig: { NetworkMode: 'container:abc' } }, /--network container:abc/],
    [{ Image: 'nginx', HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '8.8.8.8', HostPort: '8080' }] } } }, /on its node's own address only, not on 8\.8\.8\.8: leave the address out \(-p 8080:80\)/],
  ];
  for (const [body, message] of refusals) t.throws(() => parseCreateRequest(body), { status: 400, message }, JSON.stringify(body));
});

t.test('docker ps: running ones unless all, newest first, limit, and the filters', async (t) => {
  const all = [
    container('web', { labels: { tier: 'front' }, created: new Date(NOW - 3000) }),
    container('old', { state: 'exited', exitCode: 3, finishedAt: new Date(NOW - 120_000), created: new Date(NOW - 9000), image: 'routemesh/exec' }),
    container('new', { state: 'created', startedAt: undefined, created: new Date(NOW - 1000) }),
    container('my-web.1.abc', { task: true, image: 'traefik/whoami:latest@sha256:0123', networkMode: 'default', networks: { ingress: { NetworkID: 'ingressid', IPAddress: '10.0.0.5', IPPrefixLen: 24, Gateway: '', Aliases: [], BindAddress: '127.20.0.5' } } }),
  ];
  const names = (query: Record<string, string>): string[] => selectContainers(all, new URLSearchParams(query)).map((c) => c.name);
  t.same(names({}), ['web', 'my-web.1.abc'], 'running only, newest first');
  t.same(names({ all: '1' }), ['new', 'web', 'old', 'my-web.1.abc']);
  t.same(names({ limit: '2' }), ['new', 'web'], 'a limit counts stopped ones too');
  const filter = (f: Record<string, string[]>, all = '1'): string[] => names({ all, filters: JSON.stringify(f) });
  t.same(filter({ status: ['exited'] }, '0'), ['old'], 'a status filter shows stopped containers without all');
  t.same(filter({ name: ['^my-'] }), ['my-web.1.abc'], 'names match as regular expressions');
  t.same(filter({ label: ['tier=front'] }), ['web']);
  t.same(filter({ ancestor: ['traefik/whoami'] }), ['my-web.1.abc'], 'an image by any name of it');
  t.same(filter({ ancestor: ['nginx:1.25'] }), [], 'another tag is another image');
  t.same(filter({ ancestor: ['routemesh/exec:latest'] }), ['old']);
  t.same(filter({ network: ['ingress'] }), ['my-web.1.abc']);
  t.same(filter({ network: ['host'] }), ['new', 'web', 'old']);
  t.same(filter({ exited: ['3'] }), ['old']);
  t.same(filter({ 'is-task': ['true'] }), ['my-web.1.abc']);
  t.same(filter({ id: [all[0]!.id.slice(0, 6)] }), ['web']);
  t.throws(() => filter({ status: ['sleeping'] }), { status: 400, message: "invalid filter 'status=sleeping'" });
  t.throws(() => filter({ name: ['('] }), { status: 400, message: /not a regular expression/ });
  t.throws(() => filter({ color: ['red'] }), { status: 400, message: "invalid filter 'color'" });
});

t.test("the status words docker ps prints, as moby's State.String()", async (t) => {
  t.equal(statusText(container('a'), NOW), 'Up 3 minutes');
  t.equal(statusText(container('a', { startedAt: new Date(NOW - 500) }), NOW), 'Up Less than a second');
  t.equal(statusText(container('a', { state: 'exited', exitCode: 137, finishedAt: new Date(NOW - 2 * 3_600_000) }), NOW), 'Exited (137) 2 hours ago');
  t.equal(statusText(container('a', { state: 'created' }), NOW), 'Created');
  t.equal(statusText(container('a', { state: 'removing' }), NOW), 'Removal In Progress');
});

t.test("a task's container: Swarm's name, a stable ID whose short form is the task's hostname, labels, state", async (t) => {
  const web = service('svc1', 'my-web', { ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] });
  const running = { ...task('t1', 'svc1', { slot: 2, node: 'n1', networks: ['ingress'] }), Name: 'my-web.2.t1', Hostname: 'abcdef012345' };
  running.NetworksAttachments![0]!.Addresses = ['10.0.0.7/24'];
  const c = taskContainer(running, web, '127.1.0.1', () => undefined)!;
  t.equal(c.name, 'my-web.2.t1');
  t.match(c.id, /^abcdef012345[0-9a-f]{52}$/);
  t.equal(taskContainerId(running), c.id, 'the same ID each time');
  t.same(c.labels, {
    'com.docker.swarm.node.id': 'n1', 'com.docker.swarm.service.id': 'svc1', 'com.docker.swarm.service.name': 'my-web',
    'com.docker.swarm.task': '', 'com.docker.swarm.task.id': 't1', 'com.docker.swarm.task.name': 'my-web.2.t1',
  });
  t.same(c.ports, [{ PrivatePort: 80, Type: 'tcp' }], 'an ingress port is only exposed on the container');
  t.same(c.networks.ingress, { NetworkID: 'net-ingress', IPAddress: '10.0.0.7', IPPrefixLen: 24, Gateway: '', Aliases: [], BindAddress: '127.20.0.3' });
  t.equal(c.state, 'running');
  const global = { ...task('t2', 'svc1', { node: 'n9', state: 'complete' }), Name: undefined, Slot: undefined, Status: { Timestamp: '2026-01-01T00:00:00Z', State: 'complete' as const, Message: '', PortStatus: {}, ContainerStatus: { ContainerID: 'f'.repeat(64), PID: 0, ExitCode: 0 } } };
  delete (global as { Name?: string }).Name;
  const ended = taskContainer(global, web, '127.1.0.1', () => undefined)!;
  t.equal(ended.name, 'my-web.n9.t2', 'a global task: <service>.<node id>.<task id>');
  t.equal(ended.id, 'f'.repeat(64), 'a whole ContainerID is the ID');
  t.equal(ended.state, 'exited');
  t.equal(taskContainer(task('t3', 'svc1', { state: 'assigned' }), web, '127.1.0.1', () => undefined), undefined, 'no container before the node prepares the task');
  t.equal(taskContainer(task('t4', 'svc1', { state: 'rejected' }), web, '127.1.0.1', () => undefined), undefined, 'nor for a rejected one');
});

t.test('the built-in images df counts are the catalogue', async (t) => {
  const images = await builtInImages();
  const repositories = new Set(images.flatMap((i) => i.references.map((r) => r.slice(0, r.lastIndexOf(':')))));
  t.same([...repositories].sort(), [...catalogue.keys()].sort());
  for (const image of images) t.ok(image.size > 0, `${image.references[0]} has a size`);
});
