// The CLI run in-process against a small fake engine on 127.78.0.1 (port 0): the requests it sends,
// the bodies, what it prints and its exit codes, checked against the docker CLI's transcript; and
// `routemesh up` with a stand-in cluster, stopped with a simulated Ctrl-C.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { ApiNode, ApiService, ApiServiceSpec, ApiTask } from '../src/cli/apiTypes.js';
import { createUpCommand, type UpCluster, type UpOptions } from '../src/cli/commands/up.js';
import type { Io } from '../src/cli/Io.js';
import { main } from '../src/cli/main.js';
import { parseArgs } from '../src/cli/flags.js';
import { NODE_FLAGS, nodeSettings, nodeSettingsArgs } from '../src/cli/nodeFlags.js';

/** Output, bodies and requests of docker 28.2.2, from shared/docker-api/seed-transcript.md. */
const DOCKER = {
  INIT_BODY: "{\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"192.168.37.1\",\"DataPathAddr\":\"\",\"DataPathPort\":0,\"ForceNewCluster\":false,\"Spec\":{\"Labels\":null,\"Orchestration\":{},\"Raft\":{\"ElectionTick\":0,\"HeartbeatTick\":0},\"Dispatcher\":{},\"CAConfig\":{},\"TaskDefaults\":{},\"EncryptionConfig\":{\"AutoLockManagers\":false}},\"AutoLockManagers\":false,\"Availability\":\"\",\"DefaultAddrPool\":[],\"SubnetSize\":24}",
  JOIN_BODY: "{\"ListenAddr\":\"0.0.0.0:2377\",\"AdvertiseAddr\":\"\",\"DataPathAddr\":\"\",\"RemoteAddrs\":[\"192.168.37.1:2377\"],\"JoinToken\":\"SWMTKN-1-2wxnk95y3hzj5cjvpkcl1grwhdzd071dv3nqdyd8v0yaobcbzq-2d9lm2n39ymw0gxp3r84c9tqq\",\"Availability\":\"\"}",
  NODE_LS: "ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n7v4jn33vowart3i1w7cy4avhf *   manager1   Ready     Active         Leader           28.2.2\nsg7lgx2kreoml5jwnbz3wofnx     worker1    Ready     Active                          28.2.2\nx0e3vr38vrbsrt36e8i87hy4v     worker2    Ready     Active         Reachable        28.2.2\n",
  PS_MY_WEB: "ID             NAME       IMAGE          NODE       DESIRED STATE   CURRENT STATE            ERROR     PORTS\n3ikmspfymwph   my-web.1   nginx:latest   manager1   Running         Running 29 seconds ago             \n",
  PS_MY_WEB_REQUESTS: ["HEAD /_ping", "GET /v1.50/services?filters={\"id\":{\"my-web\":true}}", "GET /v1.50/services?filters={\"name\":{\"my-web\":true}}", "GET /v1.50/tasks?filters={\"service\":{\"iy5h8yxrpcmmp6cvtjc00gmhw\":true}}", "GET /v1.50/services/iy5h8yxrpcmmp6cvtjc00gmhw?insertDefaults=false", "GET /v1.50/nodes/7v4jn33vowart3i1w7cy4avhf"],
  MY_WEB_CREATE_BODY: "{\"Name\":\"my-web\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":1}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":80,\"PublishMode\":\"ingress\"}]}}",
  STUDY_CREATE_BODY: "{\"Name\":\"study\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Global\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
  SCALE_6_BODY: "{\"Name\":\"my-web\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{\"Replicas\":6}},\"EndpointSpec\":{\"Mode\":\"vip\",\"Ports\":[{\"Protocol\":\"tcp\",\"TargetPort\":80,\"PublishedPort\":80,\"PublishMode\":\"ingress\"}]}}",
  QUICK_CREATE_BODY: "{\"Name\":\"quick\",\"Labels\":{},\"TaskTemplate\":{\"ContainerSpec\":{\"Image\":\"nginx:latest@sha256:5be1ecc7935f1dd85635d4feedaf660594030253cc97c9e9ca3819ffeac36b65\",\"Init\":false,\"DNSConfig\":{}},\"Resources\":{\"Limits\":{},\"Reservations\":{}},\"Placement\":{\"Platforms\":[{\"Architecture\":\"amd64\",\"OS\":\"linux\"},{\"Architecture\":\"arm64\",\"OS\":\"linux\"}]},\"ForceUpdate\":0},\"Mode\":{\"Replicated\":{}},\"EndpointSpec\":{\"Mode\":\"vip\"}}",
  DRAIN_BODY: "{\"Labels\":{},\"Role\":\"worker\",\"Availability\":\"drain\"}",
  JOIN_TOKEN_WORKER: "To add a worker to this swarm, run the following command:\n\n    docker swarm join --token SWMTKN-1-2wxnk95y3hzj5cjvpkcl1grwhdzd071dv3nqdyd8v0yaobcbzq-2d9lm2n39ymw0gxp3r84c9tqq 192.168.37.1:2377\n",
  JOIN_TOKEN_REQUESTS: ["HEAD /_ping", "GET /v1.50/swarm", "GET /v1.50/info", "GET /v1.50/nodes/7v4jn33vowart3i1w7cy4avhf", "GET /v1.50/swarm"],
  NOT_MANAGER: "Error response from daemon: This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
};

const MANAGER1 = '7v4jn33vowart3i1w7cy4avhf';
const WORKER1 = 'sg7lgx2kreoml5jwnbz3wofnx';
const WORKER2 = 'x0e3vr38vrbsrt36e8i87hy4v';
const MY_WEB = 'iy5h8yxrpcmmp6cvtjc00gmhw';
const STUDY = 'gdwnmcer23pnac58wjzai6iuu';
const TASK_TIME = Date.parse('2026-11-22T12:53:00Z');

function makeNode(id: string, hostname: string, version: number, role: 'manager' | 'worker', manager?: { leader: boolean }): ApiNode {
  return {
    ID: id,
    Version: { Index: version },
    CreatedAt: '2026-11-22T12:52:36.581719Z',
    Spec: { Labels: {}, Role: role, Availability: 'active' },
    Description: { Hostname: hostname, Engine: { EngineVersion: '28.2.2' } },
    Status: { State: 'ready', Addr: '192.168.37.1' },
    ...(manager ? { ManagerStatus: { Leader: manager.leader, Reachability: 'reachable', Addr: '192.168.37.1:2377' } } : {}),
  };
}

interface Recorded {
  line: string;
  body: string;
}

/** Just enough of an engine for the CLI: state in memory, every request recorded. */
class FakeEngine {
  readonly requests: Recorded[] = [];
  readonly nodes: ApiNode[] = [
    makeNode(MANAGER1, 'manager1', 12, 'manager', { leader: true }),
    makeNode(WORKER1, 'worker1', 13, 'worker'),
    makeNode(WORKER2, 'worker2', 14, 'manager', { leader: false }),
  ];
  readonly services: ApiService[] = [
    { ID: MY_WEB, Version: { Index: 22 }, Spec: JSON.parse(DOCKER.MY_WEB_CREATE_BODY) as ApiServiceSpec },
    { ID: STUDY, Version: { Index: 30 }, Spec: JSON.parse(DOCKER.STUDY_CREATE_BODY) as ApiServiceSpec },
  ];
  /** Tasks to answer instead of the generated ones, per service ID. */
  readonly tasks = new Map<string, ApiTask[]>();
  apiVersion = '1.50';
  headStatus = 200;
  /** When set, every versioned route fails with it. */
  failure: { status: number; message: string; contentType: string } | undefined;
  readonly server = http.createServer((req, res) => this.#handle(req, res));
  logsSent = 0;
  initAnswer = '';
  #res: http.ServerResponse | undefined;
  #created = 0;

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.78.0.1', resolve));
    return `tcp://127.78.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  lines(): string[] {
    return this.requests.map((r) => r.line);
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      const raw = req.url ?? '/';
      this.requests.push({ line: `${req.method} ${decodeURIComponent(raw.replace(/\+/g, ' '))}`, body });
      const url = new URL(raw, 'http://x');
      this.#res = res;
      const send = (status: number, value?: unknown, contentType = 'application/json'): void => {
        const text = value === undefined ? '' : JSON.stringify(value);
        res.writeHead(status, { 'Content-Type': contentType, 'Api-Version': this.apiVersion, 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (url.pathname === '/_ping') {
        res.writeHead(req.method === 'HEAD' ? this.headStatus : 200, { 'Api-Version': this.apiVersion, 'Content-Length': 0 });
        res.end();
        return;
      }
      const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
      if (m === null) return send(404, { message: 'page not found' });
      if (this.failure) {
        const text = JSON.stringify({ message: this.failure.message });
        res.writeHead(this.failure.status, { 'Content-Type': this.failure.contentType });
        res.end(text);
        return;
      }
      this.#route(req.method ?? 'GET', m[2]!, url.searchParams, body, send);
    });
  }

  #service(ref: string): ApiService | undefined {
    return this.services.find((s) => s.ID === ref) ?? this.services.find((s) => s.Spec.Name === ref)
      ?? this.services.find((s) => s.ID.startsWith(ref));
  }

  #node(ref: string): ApiNode | undefined {
    return this.nodes.find((n) => n.ID === ref || n.Description?.Hostname === ref);
  }

  tasksOf(service: ApiService): ApiTask[] {
    const given = this.tasks.get(service.ID);
    if (given) return given;
    const count = service.Spec.Mode?.Replicated ? service.Spec.Mode.Replicated.Replicas ?? 1 : this.nodes.length;
    return Array.from({ length: count }, (_, i) => ({
      ID: `${service.ID.slice(0, 8)}task${String(i + 1).padStart(13, '0')}`,
      CreatedAt: new Date(TASK_TIME).toISOString(),
      Spec: { ContainerSpec: { Image: service.Spec.TaskTemplate?.ContainerSpec?.Image ?? '' } },
      ServiceID: service.ID,
      Slot: service.Spec.Mode?.Replicated ? i + 1 : 0,
      NodeID: this.nodes[i % this.nodes.length]!.ID,
      Status: { Timestamp: new Date(TASK_TIME).toISOString(), State: 'running' },
      DesiredState: 'running',
      Endpoint: { Addr: `127.20.0.${i + 2}`, Ports: [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 10080 }] },
    }));
  }

  #route(method: string, path: string, query: URLSearchParams, body: string, send: (status: number, value?: unknown) => void): void {
    const filters = JSON.parse(query.get('filters') ?? '{}') as Record<string, Record<string, boolean>>;
    const keys = (name: string): string[] => Object.keys(filters[name] ?? {});
    let m: RegExpExecArray | null;
    if (method === 'POST' && path === '/swarm/init') return send(200, this.initAnswer);
    if (method === 'POST' && (path === '/swarm/join' || path === '/swarm/leave')) return send(200);
    if (method === 'GET' && path === '/info') return send(200, { Swarm: { NodeID: MANAGER1, ControlAvailable: true } });
    if (method === 'GET' && path === '/swarm') {
      return send(200, { ID: 'swarm1', Version: { Index: 11 }, Spec: { Name: 'default' }, JoinTokens: { Worker: 'SWMTKN-1-2wxnk95y3hzj5cjvpkcl1grwhdzd071dv3nqdyd8v0yaobcbzq-2d9lm2n39ymw0gxp3r84c9tqq', Manager: 'SWMTKN-1-m' } });
    }
    if (method === 'GET' && path === '/nodes') return send(200, this.nodes);
    if ((m = /^\/nodes\/([^/]+)$/.exec(path))) {
      const node = this.#node(decodeURIComponent(m[1]!));
      if (!node) return send(404, { message: `node ${m[1]} not found` });
      if (method === 'GET') return send(200, node);
      if (method === 'DELETE') {
        if (query.get('force') !== '1') return send(400, { message: `rpc error: code = FailedPrecondition desc = node ${node.ID} is not down and can't be removed` });
        this.nodes.splice(this.nodes.indexOf(node), 1);
        return send(200);
      }
    }
    if (method === 'POST' && (m = /^\/nodes\/([^/]+)\/update$/.exec(path))) {
      const node = this.#node(m[1]!)!;
      if (Number(query.get('version')) !== node.Version!.Index) return send(500, { message: 'rpc error: code = Unknown desc = update out of sequence' });
      node.Spec = JSON.parse(body) as ApiNode['Spec'];
      node.Version!.Index++;
      return send(200);
    }
    if (method === 'GET' && path === '/services') {
      const list = this.services.filter((s) => (keys('id').length === 0 || keys('id').some((id) => s.ID.startsWith(id)))
        && (keys('name').length === 0 || keys('name').some((n) => (s.Spec.Name ?? '').startsWith(n))));
      return send(200, list.map(withEndpoint).map((s) => (query.get('status') === 'true'
        ? { ...s, ServiceStatus: { RunningTasks: this.tasksOf(s).length, DesiredTasks: this.tasksOf(s).length } } : s)));
    }
    if (method === 'POST' && path === '/services/create') {
      const spec = JSON.parse(body) as ApiServiceSpec;
      if (this.services.some((s) => s.Spec.Name === spec.Name)) {
        return send(409, { message: `rpc error: code = AlreadyExists desc = name conflicts with an existing object: service ${spec.Name} already exists` });
      }
      const id = `created${++this.#created}`.padEnd(25, 'x');
      this.services.push({ ID: id, Version: { Index: 1 }, Spec: spec });
      return send(201, { ID: id, Warnings: null });
    }
    if ((m = /^\/services\/([^/]+)$/.exec(path))) {
      const ref = decodeURIComponent(m[1]!);
      const service = this.#service(ref);
      if (!service) return send(404, { message: `service ${ref} not found` });
      if (method === 'GET') return send(200, withEndpoint(service));
      if (method === 'DELETE') {
        this.services.splice(this.services.indexOf(service), 1);
        return send(200);
      }
    }
    if (method === 'POST' && (m = /^\/services\/([^/]+)\/update$/.exec(path))) {
      const service = this.#service(m[1]!)!;
      if (Number(query.get('version')) !== service.Version!.Index) return send(500, { message: 'rpc error: code = Unknown desc = update out of sequence' });
      service.Spec = JSON.parse(body) as ApiServiceSpec;
      service.Version!.Index++;
      return send(200, { Warnings: null });
    }
    if (method === 'GET' && (m = /^\/tasks\/([^/]+)$/.exec(path))) {
      const task = this.services.flatMap((sv) => this.tasksOf(sv)).find((tk) => tk.ID === m![1]);
      return task ? send(200, task) : send(404, { message: `task ${m[1]} not found` });
    }
    if (method === 'GET' && (m = /^\/services\/([^/]+)\/logs$/.exec(path))) {
      const service = this.#service(decodeURIComponent(m[1]!))!;
      const frames = this.tasksOf(service).flatMap((tk, i) => {
        const details = `com.docker.swarm.node.id=${tk.NodeID},com.docker.swarm.service.id=${service.ID},com.docker.swarm.task.id=${tk.ID}`;
        return [frame(1, `${details} line ${i} on stdout\n`), frame(2, `${details} line ${i} on stderr\n`)];
      });
      const all = Buffer.concat(frames);
      this.logsSent = all.length;
      // Cut in odd places, as a network may: frames must be put back together.
      const res = this.#res!;
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      for (let i = 0; i < all.length; i += 7) res.write(all.subarray(i, i + 7));
      res.end();
      return;
    }
    if (method === 'GET' && path === '/tasks') {
      return send(200, this.services.filter((s) => keys('service').includes(s.ID)).flatMap((s) => this.tasksOf(s)));
    }
    send(404, { message: 'page not found' });
  }
}

/** One stdcopy frame: stream byte, three zero bytes, big-endian length, payload. */
function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** The engine reports the ports it allocated under Endpoint, not only in the spec. */
function withEndpoint(service: ApiService): ApiService {
  return { ...service, Endpoint: { Spec: service.Spec.EndpointSpec, Ports: service.Spec.EndpointSpec?.Ports ?? [] } };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface CapturedIo extends Io {
  readonly stdout: { text: string; write(s: string): void };
  readonly stderr: { text: string; write(s: string): void };
}

function testIo(host: string, env: Record<string, string> = {}): CapturedIo {
  const stdout = { text: '', write(s: string) { this.text += s; } };
  const stderr = { text: '', write(s: string) { this.text += s; } };
  return {
    stdout,
    stderr,
    env: { ROUTEMESH_HOST: host, ROUTEMESH_POLL_MS: '5', ROUTEMESH_MONITOR_MS: '30', ...env },
    isTTY: false,
    now: () => TASK_TIME + 29_400,
    onInterrupt: () => () => {},
  };
}

async function cli(host: string, argv: string[], env: Record<string, string> = {}): Promise<Run> {
  const io = testIo(host, env);
  const code = await main(argv, io);
  return { code, stdout: io.stdout.text, stderr: io.stderr.text };
}

async function engine(t: { teardown(fn: () => unknown): void }): Promise<{ fake: FakeEngine; host: string }> {
  const fake = new FakeEngine();
  const host = await fake.listen();
  t.teardown(() => fake.close());
  return { fake, host };
}

t.test('node ls: ping, nodes, info; docker\'s table', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['node', 'ls']);
  t.same(run, { code: 0, stdout: DOCKER.NODE_LS, stderr: '' });
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/nodes', 'GET /v1.50/info']);
  t.same(await cli(host, ['node', 'ls', '-q']), { code: 0, stdout: `${MANAGER1}\n${WORKER1}\n${WORKER2}\n`, stderr: '' });
});

t.test('service create -d: the spec docker would send, the ID printed, no waiting', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'create', '--detach', '--name', 'quick', 'nginx']);
  t.same(run, { code: 0, stdout: `${'created1'.padEnd(25, 'x')}\n`, stderr: '' });
  t.same(fake.lines(), ['HEAD /_ping', 'POST /v1.50/services/create']);
  const expected = JSON.parse(DOCKER.QUICK_CREATE_BODY.replace(/@sha256:[0-9a-f]{64}/, '')) as ApiServiceSpec;
  delete expected.TaskTemplate!.Placement!.Platforms;
  t.equal(fake.requests[1]!.body, JSON.stringify(expected));
  const again = await cli(host, ['service', 'create', '-d', '--name', 'quick', 'nginx']);
  t.same(again, { code: 1, stdout: '', stderr: 'Error response from daemon: rpc error: code = AlreadyExists desc = name conflicts with an existing object: service quick already exists\n' });
});

t.test('service create without -d follows the new service by its ID until it converges', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'create', '--name', 'web', '--replicas', '2', '-p', '9090:80', 'nginx']);
  t.equal(run.code, 0);
  t.match(run.stdout, /^created1x+\noverall progress: 0 out of 2 tasks\n1\/2:  \n2\/2:  \noverall progress: 2 out of 2 tasks\n(verify: Waiting 1 seconds to verify that tasks are stable...\n)+verify: Service created1x+ converged\n$/);
  t.ok(fake.lines().slice(2).every((l) => /services\/created1x+\?insertDefaults=false$|tasks\?filters=\{"_up-to-date":\{"true":true\},"service":\{"created1x+":true\}\}$|\/nodes$/.test(l)));
});

t.test('service scale: full spec back with the new count, then convergence by the name as typed', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'scale', 'my-web=6']);
  t.equal(run.code, 0);
  t.equal(run.stderr, '');
  t.match(run.stdout, new RegExp('^my-web scaled to 6\\noverall progress: 0 out of 6 tasks\\n' +
    [1, 2, 3, 4, 5, 6].map((i) => `${i}/6:  \\n`).join('') +
    'overall progress: 6 out of 6 tasks\\n(verify: Waiting 1 seconds to verify that tasks are stable...\\n)+verify: Service my-web converged\\n$'));
  const lines = fake.lines();
  t.same(lines.slice(0, 6), [
    'HEAD /_ping',
    'GET /v1.50/services/my-web?insertDefaults=false',
    `POST /v1.50/services/${MY_WEB}/update?version=22`,
    'GET /v1.50/services/my-web?insertDefaults=false',
    `GET /v1.50/tasks?filters={"_up-to-date":{"true":true},"service":{"${MY_WEB}":true}}`,
    'GET /v1.50/nodes',
  ]);
  t.equal(lines.at(-1), 'GET /v1.50/services/my-web?insertDefaults=false');
  t.equal(fake.requests[2]!.body, DOCKER.SCALE_6_BODY, 'the body docker sent, byte for byte');
});

t.test('an invalid ROUTEMESH_TIMEOUT_MS is refused, not taken as 30 s', async (t) => {
  const { fake, host } = await engine(t);
  for (const value of ['abc', '-5', '0', '1.5', '2147483648']) {
    const run = await cli(host, ['node', 'ls'], { ROUTEMESH_TIMEOUT_MS: value });
    t.same(run, {
      code: 1, stdout: '',
      stderr: `ROUTEMESH_TIMEOUT_MS must be a whole number of milliseconds from 1 to 2147483647, like 30000, not ${JSON.stringify(value)}: correct it or unset it\n`,
    }, value);
  }
  t.same(fake.requests, [], 'nothing was sent');
  t.equal((await cli(host, ['node', 'ls'], { ROUTEMESH_TIMEOUT_MS: '' })).code, 0, 'empty is unset');
  t.equal((await cli(host, ['node', 'ls'], { ROUTEMESH_TIMEOUT_MS: '5000' })).code, 0);
});

t.test('service scale -d and its per-argument errors', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'scale', '-d', 'my-web=3', 'nosuch=2', 'study=2', 'my-web=x', 'my-web=99999999999999999999999']);
  t.same(run, {
    code: 1,
    stdout: 'my-web scaled to 3\n',
    stderr: 'nosuch: Error response from daemon: service nosuch not found\n' +
      'study: scale can only be used with replicated or replicated-job mode\n' +
      'my-web: invalid replicas value x: strconv.ParseUint: parsing "x": invalid syntax\n' +
      'my-web: invalid replicas value 99999999999999999999999: strconv.ParseUint: parsing "99999999999999999999999": value out of range\n',
  });
  t.notOk(fake.lines().some((l) => l.includes('tasks')), 'detached: no convergence polling');
  const usage = await cli(host, ['service', 'scale', 'my-web']);
  t.equal(usage.code, 2);
  t.match(usage.stderr, /^Invalid scale specifier 'my-web'\.\nSee 'routemesh service scale --help'\./);
});

t.test('service ps: the requests and the table of docker', async (t) => {
  const { fake, host } = await engine(t);
  fake.tasks.set(MY_WEB, [{
    ID: '3ikmspfymwphq0c2yv8gsh3zz',
    CreatedAt: new Date(TASK_TIME - 5000).toISOString(),
    Spec: { ContainerSpec: { Image: JSON.parse(DOCKER.MY_WEB_CREATE_BODY).TaskTemplate.ContainerSpec.Image as string } },
    ServiceID: MY_WEB,
    Slot: 1,
    NodeID: MANAGER1,
    Status: { Timestamp: new Date(TASK_TIME).toISOString(), State: 'running' },
    DesiredState: 'running',
  }]);
  const run = await cli(host, ['service', 'ps', 'my-web']);
  t.same(run, { code: 0, stdout: DOCKER.PS_MY_WEB, stderr: '' });
  t.same(fake.lines(), DOCKER.PS_MY_WEB_REQUESTS);
  const quiet = await cli(host, ['service', 'ps', '-q', 'iy5h8']);
  t.same(quiet, { code: 0, stdout: '3ikmspfymwphq0c2yv8gsh3zz\n', stderr: '' }, 'an ID prefix works; -q prints full IDs');
  t.same(await cli(host, ['service', 'ps', 'nosuch']), { code: 1, stdout: '', stderr: 'no such service: nosuch\n' });
  const some = await cli(host, ['service', 'ps', 'my-web', 'nosuch']);
  t.equal(some.code, 1);
  t.equal(some.stdout, DOCKER.PS_MY_WEB, 'what was found is still listed');
  t.equal(some.stderr, 'no such service: nosuch\n');
});

t.test('service ps shows where a task listens when its port moved', async (t) => {
  const { host } = await engine(t);
  const run = await cli(host, ['service', 'ps', 'study']);
  t.equal(run.code, 0);
  t.match(run.stdout, /study\.7v4jn33vowart3i1w7cy4avhf +nginx:latest +manager1 .* 127\.20\.0\.2:10080->80\/tcp\n/);
});

t.test('service rm: each argument printed, failures collected', async (t) => {
  const { fake, host } = await engine(t);
  t.same(await cli(host, ['service', 'rm', 'my-web', 'nosuch', 'study']), {
    code: 1, stdout: 'my-web\nstudy\n', stderr: 'Error response from daemon: service nosuch not found\n',
  });
  t.same(fake.lines(), ['HEAD /_ping', 'DELETE /v1.50/services/my-web', 'DELETE /v1.50/services/nosuch', 'DELETE /v1.50/services/study']);
  t.equal(fake.services.length, 0);
});

t.test('service inspect: 4-space JSON, and docker\'s not-found words', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'inspect', 'my-web']);
  t.equal(run.code, 0);
  t.same(JSON.parse(run.stdout), [withEndpoint(fake.services[0]!)], 'the engine\'s object as it came');
  t.match(run.stdout, /^\[\n    \{\n        "ID": "iy5h8yxrpcmmp6cvtjc00gmhw",\n/);
  t.equal(fake.lines()[1], 'GET /v1.50/services/my-web?insertDefaults=true');
  t.same(await cli(host, ['service', 'inspect', 'nosuch']), { code: 1, stdout: '[]\n', stderr: 'Error: no such service: nosuch\n' });
});

t.test('service ls: one request, docker\'s columns', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'ls']);
  t.equal(run.stdout,
    'ID             NAME      MODE         REPLICAS   IMAGE          PORTS\n' +
    'iy5h8yxrpcmm   my-web    replicated   1/1        nginx:latest   *:80->80/tcp\n' +
    'gdwnmcer23pn   study     global       3/3        nginx:latest   \n');
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/services?status=true']);
});

t.test('node update, promote, demote: the whole spec back with the version read', async (t) => {
  const { fake, host } = await engine(t);
  t.same(await cli(host, ['node', 'update', '--availability', 'drain', 'worker1']), { code: 0, stdout: 'worker1\n', stderr: '' });
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/nodes/worker1', `POST /v1.50/nodes/${WORKER1}/update?version=13`]);
  t.equal(fake.requests[2]!.body, DOCKER.DRAIN_BODY);
  fake.requests.length = 0;
  t.same(await cli(host, ['node', 'update', '--availability', 'active', '--label-add', 'zone=east', 'worker1']), { code: 0, stdout: 'worker1\n', stderr: '' });
  t.equal(fake.requests[2]!.body, '{"Labels":{"zone":"east"},"Role":"worker","Availability":"active"}');
  t.same(await cli(host, ['node', 'promote', 'worker1']), { code: 0, stdout: 'Node worker1 promoted to a manager in the swarm.\n', stderr: '' });
  t.same(await cli(host, ['node', 'demote', 'worker2']), { code: 0, stdout: 'Manager worker2 demoted in the swarm.\n', stderr: '' });
  fake.requests.length = 0;
  t.same(await cli(host, ['node', 'demote', 'worker2']), { code: 0, stdout: `Node ${WORKER2} is already a worker.\n`, stderr: '' });
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/nodes/worker2'], 'no update when the role already matches');
  t.same(await cli(host, ['node', 'update', '--label-rm', 'nope', 'worker1']), { code: 1, stdout: '', stderr: "key nope doesn't exist in node's labels\n" });
  t.same(await cli(host, ['node', 'update', '--availability', 'Sleep', 'worker1']),
    { code: 2, stdout: '', stderr: 'invalid argument "sleep" for "--availability" flag: only active, pause and drain are supported\n' });
  t.same(await cli(host, ['node', 'update', '--role', 'boss', 'worker1']),
    { code: 2, stdout: '', stderr: 'invalid argument "boss" for "--role" flag: only worker and manager are supported\n' });
  const rm = await cli(host, ['node', 'rm', 'worker1']);
  t.same(rm, { code: 1, stdout: '', stderr: `Error response from daemon: rpc error: code = FailedPrecondition desc = node ${WORKER1} is not down and can't be removed\n` });
  t.same(await cli(host, ['node', 'rm', '--force', 'worker1']), { code: 0, stdout: 'worker1\n', stderr: '' });
});

t.test('swarm join-token: docker\'s four requests and hint', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['swarm', 'join-token', 'worker']);
  // The hint names the command that works here: routemesh, not docker.
  t.same(run, { code: 0, stdout: DOCKER.JOIN_TOKEN_WORKER.replace('docker swarm join', 'routemesh swarm join') + '\n', stderr: '' });
  t.same(fake.lines(), DOCKER.JOIN_TOKEN_REQUESTS);
});

t.test('service logs: frames reassembled, each line prefixed with its task, stderr kept apart', async (t) => {
  const { fake, host } = await engine(t);
  const run = await cli(host, ['service', 'logs', 'study']);
  t.equal(run.code, 0);
  const id = (i: number): string => `${STUDY.slice(0, 8)}task${String(i).padStart(13, '0')}`.slice(0, 12);
  t.equal(run.stdout,
    `study.0.${id(1)}@manager1    | line 0 on stdout\n` +
    `study.0.${id(2)}@worker1    | line 1 on stdout\n` +
    `study.0.${id(3)}@worker2    | line 2 on stdout\n`);
  t.match(run.stderr, `study.0.${id(1)}@manager1    | line 0 on stderr\n`);
  t.ok(fake.logsSent > 0);
  t.same(fake.lines().slice(0, 3), [
    'HEAD /_ping',
    'GET /v1.50/services/study?insertDefaults=false',
    'GET /v1.50/services/study/logs?details=1&stderr=1&stdout=1&tail=all',
  ]);
  t.equal(fake.lines().filter((l) => l.startsWith('GET /v1.50/nodes/')).length, 3, 'each node looked up once');
});

t.test('swarm init, join, leave: docker\'s bodies and messages', async (t) => {
  const { fake, host } = await engine(t);
  fake.initAnswer = MANAGER1;
  const init = await cli(host, ['swarm', 'init', '--advertise-addr', '192.168.37.1']);
  t.equal(init.code, 0);
  t.equal(init.stdout, `Swarm initialized: current node (${MANAGER1}) is now a manager.\n\n` +
    'To add a worker to this swarm, run the following command:\n\n' +
    '    routemesh swarm join --token SWMTKN-1-2wxnk95y3hzj5cjvpkcl1grwhdzd071dv3nqdyd8v0yaobcbzq-2d9lm2n39ymw0gxp3r84c9tqq 192.168.37.1:2377\n\n' +
    "To add a manager to this swarm, run 'routemesh swarm join-token manager' and follow the instructions.\n\n");
  t.same(fake.lines(), ['HEAD /_ping', 'POST /v1.50/swarm/init', `GET /v1.50/nodes/${MANAGER1}`, 'GET /v1.50/swarm']);
  t.equal(fake.requests[1]!.body, DOCKER.INIT_BODY);
  fake.requests.length = 0;
  const join = await cli(host, ['swarm', 'join', '--token', 'SWMTKN-1-2wxnk95y3hzj5cjvpkcl1grwhdzd071dv3nqdyd8v0yaobcbzq-2d9lm2n39ymw0gxp3r84c9tqq', '192.168.37.1:2377']);
  t.same(join, { code: 0, stdout: 'This node joined a swarm as a manager.\n', stderr: '' });
  t.equal(fake.requests[1]!.body, DOCKER.JOIN_BODY);
  fake.requests.length = 0;
  t.same(await cli(host, ['swarm', 'leave', '--force']), { code: 0, stdout: 'Node left the swarm.\n', stderr: '' });
  t.same(fake.lines(), ['HEAD /_ping', 'POST /v1.50/swarm/leave?force=1']);
  t.equal(fake.requests[1]!.body, '');
});

t.test('daemon errors: docker\'s words on stderr, exit 1', async (t) => {
  const { fake, host } = await engine(t);
  fake.failure = { status: 503, message: DOCKER.NOT_MANAGER.replace('Error response from daemon: ', ''), contentType: 'application/json' };
  t.same(await cli(host, ['node', 'ls']), { code: 1, stdout: '', stderr: `${DOCKER.NOT_MANAGER}\n` });
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/nodes']);
  fake.failure = { status: 500, message: 'boom', contentType: 'application/json; charset=utf-8' };
  t.same(await cli(host, ['service', 'ls']), { code: 1, stdout: '', stderr: 'Error response from daemon: {"message":"boom"}\n' },
    'like docker, a JSON error without the exact Content-Type is shown raw');
});

t.test('version negotiation: the engine\'s lower version is used; HEAD refused → GET', async (t) => {
  const { fake, host } = await engine(t);
  fake.apiVersion = '1.45';
  fake.headStatus = 405;
  t.equal((await cli(host, ['node', 'ls', '-q'])).code, 0);
  t.same(fake.lines(), ['HEAD /_ping', 'GET /_ping', 'GET /v1.45/nodes']);
  fake.requests.length = 0;
  fake.apiVersion = '1.51';
  fake.headStatus = 200;
  await cli(host, ['node', 'ls', '-q']);
  t.same(fake.lines(), ['HEAD /_ping', 'GET /v1.50/nodes'], 'never above what the client speaks');
});

t.test('nothing listening: a message that names the address and how to start a cluster', async (t) => {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.78.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const run = await cli(`tcp://127.78.0.1:${port}`, ['service', 'ls']);
  t.equal(run.code, 1);
  t.match(run.stderr, `Cannot connect to the routemesh engine at tcp://127.78.0.1:${port}: connection refused.`);
  t.match(run.stderr, /`npm start` or `routemesh up`, or set ROUTEMESH_HOST/);
});

t.test('usage errors exit 2; help exits 0', async (t) => {
  const { fake, host } = await engine(t);
  const bogus = await cli(host, ['bogus']);
  t.same(bogus, { code: 2, stdout: '', stderr: "routemesh: 'bogus' is not a routemesh command.\nSee 'routemesh --help'\n" });
  t.equal((await cli(host, ['service', 'create', '--nope', 'nginx'])).code, 2);
  t.equal((await cli(host, ['node', 'update', 'a', 'b'])).code, 2);
  t.match((await cli(host, ['node', 'update'])).stderr, /^"routemesh node update" requires exactly 1 argument\./);
  const help = await cli(host, ['--help']);
  t.equal(help.code, 0);
  for (const verb of ['up', 'node', 'service', 'swarm']) t.match(help.stdout, new RegExp(`^  ${verb} `, 'm'));
  const createHelp = await cli(host, ['service', 'create', '--help']);
  t.match(createHelp.stdout, /Usage:  routemesh service create \[OPTIONS\] IMAGE \[COMMAND\] \[ARG\.\.\.\]/);
  t.match(createHelp.stdout, /--update-parallelism uint/);
  t.match((await cli(host, ['node', '--help'])).stdout, /Commands:\n  ls /);
  t.same(fake.lines(), [], 'none of this talked to the engine');
});

t.test('up: starts the cluster, prints nodes, runs the demo, stops on Ctrl-C', async (t) => {
  const { fake, host } = await engine(t);
  fake.services.splice(0, fake.services.length); // a fresh cluster: the demo creates my-web
  const base = host.replace('tcp://', 'http://');
  let options: UpOptions | undefined;
  let closed = 0;
  const cluster: UpCluster = {
    nodes: [1, 2, 3].map((i) => ({ hostname: `node${i}`, address: `127.78.0.${i}`, role: i === 1 ? 'manager' : 'worker', apiUrl: base, socketUrl: `unix:///run/user/7/routemesh/127.78.0.${i}.sock`, nodeId: `n${i}` })),
    dnsServer: { address: '127.78.0.53', port: 10053, upstreams: [{ address: '127.78.0.99', port: 53 }] },
    vipEndpoint: async (vip, port) => `${vip}:${port + 10000}`,
    close: async () => { closed++; },
  };
  let interrupt: (() => void) | undefined;
  let unsubscribed = false;
  let printed: () => void = () => {};
  const ready = new Promise<void>((resolve) => { printed = resolve; });
  const stdout = { text: '', write(s: string) { this.text += s; if (this.text.includes('Press Ctrl-C')) printed(); } };
  const io: Io = {
    ...testIo(host),
    stdout,
    onInterrupt: (listener) => { interrupt = listener; return () => { unsubscribed = true; }; },
    command: './routemesh',
  };
  const up = createUpCommand(async (o) => { options = o; return cluster; });
  const exit = main(['up', '--demo', '--subnet', '127.78.0.0/24'], io, up);
  await ready;
  t.equal(closed, 0, 'stays up until told to stop');
  interrupt!();
  t.equal(await exit, 0);
  t.equal(closed, 1);
  t.ok(unsubscribed);
  t.match(options, { nodes: 3, managers: 1, subnet: '127.78.0.0/24', apiPort: 2375, taskSubnet: '127.20.0.0/16', vipSubnet: '127.10.0.0/16', bare: false,
    dns: '127.0.0.11', dnsVipTtl: 600, dnsTaskTtl: 5 });
  t.notOk(options!.dnsUpstreams, 'no --dns-upstream: the cluster reads /etc/resolv.conf');
  const text = stdout.text;
  t.match(text, /^HOSTNAME   ROLE      ADDRESS      ENGINE API\nnode1      manager   127\.78\.0\.1   tcp:\/\/127\.78\.0\.1:\d+\nnode2      worker    127\.78\.0\.2   /);
  t.match(text, /my-web\.1   manager1   127\.20\.0\.2:10080->80\n/);
  t.match(text, /\nEngine sockets: unix:\/\/\/run\/user\/7\/routemesh\/127\.78\.0\.1\.sock \.\.\. 127\.78\.0\.3\.sock \(only this user may connect; e\.g\. DOCKER_HOST=<socket> docker node ls\)\n/);
  t.match(text, /\nDNS: 127\.78\.0\.53:10053 answers for services and tasks; other names go to 127\.78\.0\.99:53\n/);
  t.match(text, /\nDashboard: http:\/\/127\.78\.0\.1:\d+\/ui\/ \(live, in a browser; every manager serves it\)\n/);
  t.match(text, /    curl http:\/\/127\.78\.0\.2:8080\/ +# any node reaches the service; the answer names the task\n/);
  t.match(text, /    dig @127\.78\.0\.53 -p 10053 my-web \+short +# its VIP, from the embedded DNS server\n    dig @127\.78\.0\.53 -p 10053 tasks\.my-web \+short +# the addresses of its tasks\n/);
  // Said the way the user runs routemesh (./routemesh in a fresh clone: src/cli/invocation.ts), not `routemesh`, which is not on its PATH.
  t.match(text, /\n    \.\/routemesh service ps my-web\n    \.\/routemesh service scale my-web=3\n/);
  t.match(text, /export ROUTEMESH_HOST=tcp:\/\/127\.78\.0\.1:\d+/, 'not the default address: say how to reach it');
  const create = fake.requests.find((r) => r.line === 'POST /v1.50/services/create');
  t.match(JSON.parse(create!.body), {
    Name: 'my-web', TaskTemplate: { ContainerSpec: { Image: 'traefik/whoami:latest' } }, Mode: { Replicated: { Replicas: 6 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
  }, 'the demo is what `service create --name my-web --publish published=8080,target=80 --replicas 6 traefik/whoami` sends');
});

t.test('up without --demo, and with --bare: what to try next, as the user runs routemesh', async (t) => {
  const { host } = await engine(t);
  for (const [argv, role, expected] of [
    [[], 'manager', '\nFrom another terminal:\n    ./routemesh node ls\n    ./routemesh service create --name web --publish published=9090,target=80 --replicas 2 nginx\n\nPress Ctrl-C to stop the cluster.\n'],
    [['--bare'], 'none', '\nThe engines are not in a swarm yet. From another terminal:\n    ./routemesh swarm init --advertise-addr 127.1.0.1\n\nPress Ctrl-C to stop.\n'],
  ] as const) {
    let interrupt: (() => void) | undefined;
    let printed: () => void = () => {};
    const ready = new Promise<void>((resolve) => { printed = resolve; });
    const stdout = { text: '', write(s: string) { this.text += s; if (this.text.includes('Press Ctrl-C')) printed(); } };
    const cluster: UpCluster = {
      nodes: [{ hostname: 'node1', address: '127.1.0.1', role, apiUrl: 'http://127.1.0.1:2375', socketUrl: 'unix:///run/routemesh/127.1.0.1.sock', nodeId: 'n1' }],
      dnsServer: { address: '127.0.0.11', port: 53, upstreams: [] },
      vipEndpoint: async () => undefined,
      close: async () => {},
    };
    const exit = main(['up', ...argv], { ...testIo(host), stdout, command: './routemesh', onInterrupt: (l) => { interrupt = l; return () => {}; } },
      createUpCommand(async () => cluster));
    await ready;
    t.ok(stdout.text.endsWith(expected), argv.join(' ') || 'no flags');
    t.equal(stdout.text.includes('Dashboard: http://127.1.0.1:2375/ui/'), role === 'manager', 'the dashboard, once there is a swarm');
    interrupt!();
    t.equal(await exit, 0);
  }
});

t.test('up --demo: a demo that cannot start leaves the cluster up and says why', async (t) => {
  const { host } = await engine(t);
  let interrupt: (() => void) | undefined;
  let printed: () => void = () => {};
  const ready = new Promise<void>((resolve) => { printed = resolve; });
  const io = testIo(host);
  const stdout = { text: '', write(s: string) { this.text += s; if (this.text.includes('Press Ctrl-C')) printed(); } };
  let closed = false;
  // A manager whose engine API is gone (its port closed): the demo cannot create its service there.
  const gone = http.createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.78.0.1', resolve));
  const port = (gone.address() as AddressInfo).port;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const cluster: UpCluster = {
    nodes: [{ hostname: 'node1', address: '127.78.0.1', role: 'manager', apiUrl: `http://127.78.0.1:${port}`, socketUrl: 'unix:///run/user/7/routemesh/127.78.0.1.sock', nodeId: 'n1' }],
    dnsServer: { address: '127.78.0.53', port: 53, upstreams: [] },
    vipEndpoint: async () => undefined,
    close: async () => { closed = true; },
  };
  const exit = main(['up', '--demo', '--nodes', '1'], { ...io, stdout, onInterrupt: (l) => { interrupt = l; return () => {}; } },
    createUpCommand(async () => cluster));
  await ready;
  t.match(io.stderr.text, `The demo service could not start: Cannot connect to the routemesh engine at tcp://127.78.0.1:${port}`);
  interrupt!();
  t.equal(await exit, 0);
  t.ok(closed);
});

t.test('up: bad options are usage errors and start nothing', async (t) => {
  const { host } = await engine(t);
  let started = false;
  const up = createUpCommand(async () => { started = true; throw new Error('not reached'); });
  for (const argv of [['--nodes', '0'], ['--nodes', '3', '--managers', '4'], ['--subnet', '127.1.0.0/33'], ['--subnet', '10.0.0.0/30', '--nodes', '3'], ['--bare', '--demo'], ['--api-port', '70000'], ['--heartbeat-period', 'soon'], ['--heartbeat-period', '0s'], ['--fence-period', 'soon'], ['--fence-period', '-1s'], ['--dns-task-ttl', '1.5s'], ['--dns-vip-ttl', '-1s'], ['--dns-vip-ttl', 'long'],
    ['--metrics-port', '0'], ['--metrics-port', '70000'], ['--metrics-port', 'none'], ['--metrics-port', 'off', '--prometheus-sd', '/tmp/x.json']]) {
    const io = testIo(host);
    t.equal(await main(['up', ...argv], io, up), 2, argv.join(' '));
  }
  t.notOk(started);
});

t.test('up: --heartbeat-period reaches the cluster in milliseconds', async (t) => {
  const { host } = await engine(t);
  let options: UpOptions | undefined;
  const up = createUpCommand(async (o) => { options = o; throw new Error('stop here'); });
  await main(['up', '--heartbeat-period', '250ms'], testIo(host), up);
  t.equal(options?.heartbeatPeriodMs, 250);
});

t.test('up: --fence-period reaches the cluster in milliseconds, 0 included', async (t) => {
  const { host } = await engine(t);
  const seen: (number | undefined)[] = [];
  const up = createUpCommand(async (o) => { seen.push(o.fencePeriodMs); throw new Error('stop here'); });
  for (const argv of [[], ['--fence-period', '500ms'], ['--fence-period', '0s']]) await main(['up', ...argv], testIo(host), up);
  t.same(seen, [undefined, 500, 0]);
});

t.test('up: metrics on 9323 unless told otherwise; off turns them off', async (t) => {
  const { host } = await engine(t);
  const seen: (number | undefined)[] = [];
  const up = createUpCommand(async (o) => { seen.push(o.metricsPort); throw new Error('stop here'); });
  for (const argv of [[], ['--metrics-port', '9400'], ['--metrics-port', 'off']]) await main(['up', ...argv], testIo(host), up);
  t.same(seen, [9323, 9400, undefined]);
});

t.test('up: the DNS flags reach the cluster (TTLs in seconds, upstreams repeatable)', async (t) => {
  const { host } = await engine(t);
  let options: UpOptions | undefined;
  const up = createUpCommand(async (o) => { options = o; throw new Error('stop here'); });
  await main(['up', '--dns', '127.78.0.53:5353', '--dns-upstream', '127.78.0.98', '--dns-upstream', '127.78.0.99:5300',
    '--dns-vip-ttl', '1m', '--dns-task-ttl', '0s'], testIo(host), up);
  t.match(options, { dns: '127.78.0.53:5353', dnsUpstreams: ['127.78.0.98', '127.78.0.99:5300'], dnsVipTtl: 60, dnsTaskTtl: 0 });
});

t.test('up hands every node setting to its node processes as node start flags that say it again', async (t) => {
  const argv = ['--fence-period', '500ms', '--heartbeat-period', '2s', '--max-replicas', '7', '--metrics-port', 'off', '--dns-upstream', '127.9.0.1',
    '--store', 'etcd://127.9.0.2:2379', '--leader-lease', '3s'];
  const settings = nodeSettings(parseArgs(argv, NODE_FLAGS, { command: 'routemesh up' }));
  t.equal(settings.fencePeriodMs, 500);
  t.match(settings, { store: 'etcd://127.9.0.2:2379', leaderLeaseSeconds: 3 });
  t.same(nodeSettings(parseArgs(nodeSettingsArgs(settings), NODE_FLAGS, { command: 'routemesh node start' })), settings);
});
