// The runtime against real sockets: each built-in image answers as its real counterpart does, tasks
// exit with the right codes, low ports fall back. Task addresses stay in 127.77.0.0/16 (this file's block).

import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { Runtime, RuntimeError } from '../src/runtime/index.js';
import type { RunningTask, RuntimeOptions, TaskRunSpec } from '../src/runtime/index.js';
import { parseImageRef } from '../src/runtime/catalogue.js';
import { PortBinder } from '../src/runtime/PortBinder.js';
import { killAll, processesRunning, remaining, uniqueSleep } from './support/processes.js';

const CLIENT = '127.77.255.250';
let nextHost = 2;
/** A fresh task address per test, so no test trips over another's listener. */
const address = () => `127.77.0.${nextHost++}`;

function spec(image: string, over: Partial<TaskRunSpec> = {}): TaskRunSpec {
  return {
    taskId: 'x1y2z3',
    taskName: 'web.1.x1y2z3',
    slot: 1,
    hostname: 'a1b2c3d4e5f6',
    address: address(),
    image,
    ports: [],
    ...over,
  };
}

async function start(tt: { teardown(fn: () => unknown): void }, runtime: Runtime, s: TaskRunSpec): Promise<RunningTask> {
  const task = await runtime.start(s);
  tt.teardown(() => task.stop(0));
  return task;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply & { localPort: number }> {
  return new Promise((resolve, reject) => {
    let localPort = 0;
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false, localAddress: CLIENT }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, localPort }));
      res.on('error', reject);
    });
    req.on('socket', (socket) => socket.once('connect', () => (localPort = socket.localPort ?? 0)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** 'connected', or the error code a connection attempt got. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve('connected');
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Resolves when a log line matching `pattern` appears (already there, or later); fails after `ms`. */
function logLine(task: RunningTask, pattern: RegExp, ms = 5000): Promise<string> {
  const found = task.logs.find((l) => pattern.test(l.text));
  if (found) return Promise.resolve(found.text);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no log line matching ${pattern} within ${ms} ms; have: ${task.logs.map((l) => l.text).join(' | ')}`));
    }, ms);
    const off = task.onLog((line) => {
      if (pattern.test(line.text)) {
        clearTimeout(timer);
        off();
        resolve(line.text);
      }
    });
  });
}

/** Settles with the promise's outcome, or 'pending' if it has not settled within `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

t.test('image references: digest ignored, missing tag means latest, Docker Hub prefixes dropped', async (t) => {
  const cases: [string, string, string, string][] = [
    ['nginx', 'nginx', 'latest', 'nginx'],
    ['nginx:1.25', 'nginx', '1.25', 'nginx:1.25'],
    ['nginx:latest@sha256:abc', 'nginx', 'latest', 'nginx:latest'],
    ['docker.io/library/nginx:1.27', 'nginx', '1.27', 'docker.io/library/nginx:1.27'],
    ['madvirus/simplenode', 'madvirus/simplenode', 'latest', 'madvirus/simplenode'],
    ['localhost:5000/team/app', 'localhost:5000/team/app', 'latest', 'localhost:5000/team/app'],
  ];
  for (const [given, repository, tag, named] of cases) {
    t.same(parseImageRef(given), { repository, tag, named }, given);
  }
  const runtime = new Runtime();
  t.ok(runtime.hasImage('nginx:latest@sha256:5be1ec'));
  t.ok(runtime.hasImage('traefik/whoami:v1.10'));
  t.ok(runtime.hasImage('madvirus/simplenode:0.1'));
  t.notOk(runtime.hasImage('madvirus/simplenode:0.3'));
  t.ok(runtime.hasImage('redis'));
  t.notOk(runtime.hasImage('postgres'));
});

t.test('redis answers RESP on 6379, in both forms, and keeps keys per task', async (t) => {
  const runtime = new Runtime();
  const s = spec('redis');
  const task = await start(t, runtime, s);
  t.same(task.ports.map((p) => `${p.TargetPort}/${p.Protocol}->${p.ListenPort}`), ['6379/tcp->6379'], 'on 6379 whatever the service publishes, as the real one');
  const socket = net.connect(6379, s.address);
  t.teardown(() => { socket.destroy(); });
  socket.setEncoding('utf8');
  let received = '';
  socket.on('data', (chunk: string) => { received += chunk; });
  const ask = async (bytes: string, expect: string): Promise<void> => {
    const before = received.length;
    socket.write(bytes);
    await waitFor(() => received.length >= before + expect.length);
    t.equal(received.slice(before), expect, JSON.stringify(bytes));
  };
  await ask('PING\r\n', '+PONG\r\n');
  await ask('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n', '+OK\r\n');
  // One command split across writes waits for its whole; two in one write get two answers.
  socket.write('*2\r\n$3\r\nGET');
  await ask('\r\n$1\r\nk\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n', '$5\r\nhello\r\n:1\r\n');
  await ask('GET nothing\r\n', '$-1\r\n');
  await ask('FLY away\r\n', "-ERR unknown command 'FLY', with args beginning with: 'away'\r\n");
  await ask('QUIT\r\n', '+OK\r\n');
  t.match(task.logs.map((l) => l.text).join('\n'), /Ready to accept connections tcp \(port 6379\)/);
});

t.test('an unknown image is refused with the image named as given, less its digest', async (t) => {
  const runtime = new Runtime();
  await t.rejects(runtime.start(spec('nosuch/thing:1@sha256:abc')), {
    constructor: RuntimeError,
    code: 'NO_SUCH_IMAGE',
    message: 'No such image: nosuch/thing:1',
  });
  await t.rejects(runtime.start(spec('madvirus/simplenode:0.3')), {
    code: 'NO_SUCH_IMAGE',
    message: 'No such image: madvirus/simplenode:0.3',
  });
});

t.test('nginx serves its welcome page on port 80 and logs each request in combined format', async (t) => {
  const runtime = new Runtime();
  const s = spec('nginx:latest@sha256:abc', { ports: [{ protocol: 'tcp', targetPort: 80 }] });
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 80 }]);
  t.equal(task.pid, process.pid);

  const home = await request(`http://${s.address}/`, { headers: { 'User-Agent': 'curl/8.5.0' } });
  t.equal(home.status, 200);
  t.equal(home.headers.server, 'nginx/1.27.3');
  t.equal(home.headers['content-type'], 'text/html');
  t.equal(home.headers['content-length'], '615');
  t.match(home.body, /<title>Welcome to nginx!<\/title>/);
  t.match(home.body, /If you see this page, the nginx web server is successfully installed and\nworking\./);
  const access = await logLine(task, /"GET \/ HTTP\/1\.1"/);
  t.match(access, /^127\.77\.255\.250 - - \[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/ HTTP\/1\.1" 200 615 "-" "curl\/8\.5\.0"$/);

  const missing = await request(`http://${s.address}/nope`);
  t.equal(missing.status, 404);
  t.equal(
    missing.body,
    '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n' +
      '<hr><center>nginx/1.27.3</center>\r\n</body>\r\n</html>\r\n',
  );
  await logLine(task, /"GET \/nope HTTP\/1\.1" 404 \d+ "-" "-"$/);
  t.ok(task.logs.some((l) => l.stream === 'stderr' && /open\(\) "\/usr\/share\/nginx\/html\/nope" failed/.test(l.text)));

  const post = await request(`http://${s.address}/`, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(await task.stop(1000), 0, 'nginx exits 0 on a graceful stop');
  t.equal(await tryConnect(s.address, 80), 'ECONNREFUSED');
});

t.test('nginx reports the version its tag names', async (t) => {
  const runtime = new Runtime();
  const s = spec('nginx:1.25');
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 80 }], 'the image port is listed though not published');
  const reply = await request(`http://${s.address}/index.html`);
  t.equal(reply.headers.server, 'nginx/1.25.5');
});

t.test('traefik/whoami describes the task and echoes the request as the Go original does', async (t) => {
  const runtime = new Runtime();
  const s = spec('traefik/whoami', { hostname: '0123456789ab' });
  const task = await start(t, runtime, s);
  const reply = await request(`http://${s.address}/hello?x=1`, {
    headers: { 'user-agent': 'curl/8.5.0', accept: '*/*', 'x-forwarded-for': '10.0.0.1' },
  });
  t.equal(reply.status, 200);
  t.equal(reply.headers['content-type'], 'text/plain; charset=utf-8');
  t.equal(
    reply.body,
    `Hostname: 0123456789ab\nIP: 127.0.0.1\nIP: ${s.address}\nRemoteAddr: ${CLIENT}:${reply.localPort}\n` +
      `GET /hello?x=1 HTTP/1.1\r\nHost: ${s.address}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n` +
      `Connection: close\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n`,
  );
  const noAgent = await request(`http://${s.address}/`);
  t.match(noAgent.body, /\r\nUser-Agent: Go-http-client\/1\.1\r\n/, 'Go fills in its own User-Agent');

  const posted = await request(`http://${s.address}/`, { method: 'POST', body: 'abc' });
  t.match(posted.body, /POST \/ HTTP\/1\.1\r\nHost: [\d.]+\r\nUser-Agent: Go-http-client\/1\.1\r\nContent-Length: 3\r\n(.+\r\n)*\r\nabc$/);

  const health = await request(`http://${s.address}/health`);
  t.equal(health.status, 200);
  t.equal(health.body, '');
  await request(`http://${s.address}/health`, { method: 'POST', body: '503' });
  t.equal((await request(`http://${s.address}/health`)).status, 503, 'POST /health sets the status, as whoami allows');
  t.match(task.logs[0]?.text, /Starting up on port 80$/);
});

t.test('traefik/whoami honours --port', async (t) => {
  const runtime = new Runtime();
  const s = spec('traefik/whoami:v1.10', { args: ['--port', '8081'], ports: [{ protocol: 'tcp', targetPort: 8081 }] });
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 8081, ListenPort: 8081 }]);
  t.match((await request(`http://${s.address}:8081/`)).body, /^Hostname: /);
});

t.test('madvirus/simplenode:0.1 greets with V0.1 and its hostname on port 5000', async (t) => {
  const runtime = new Runtime();
  const s = spec('madvirus/simplenode:0.1', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  const reply = await request(`http://${s.address}:5000/`);
  t.equal(reply.body, 'Hello V0.1: a1b2c3d4e5f6');
  await logLine(task, /^request arrived\.$/);
});

t.test('madvirus/simplenode without a tag is 0.2: greets, logs, answers /health', async (t) => {
  const runtime = new Runtime();
  const s = spec('madvirus/simplenode', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  t.equal((await request(`http://${s.address}:5000/`)).body, 'Hello V0.2: a1b2c3d4e5f6');
  t.equal((await request(`http://${s.address}:5000/health`)).body, 'OK');
  t.equal((await request(`http://${s.address}:5000/health?x=1`)).body, 'Hello V0.2: a1b2c3d4e5f6', 'app.js compares the whole url');
  const texts = task.logs.map((l) => l.text);
  t.same(texts.slice(0, 2), ['Connected', 'request arrived.']);
  t.equal(texts.filter((x) => x === 'request arrived.').length, 3);
});

t.test('simplenode:0.2 ?stop=true answers, then the task exits with code 1', async (t) => {
  const runtime = new Runtime({ simplenode: { stopDelayMs: 50 } });
  const s = spec('madvirus/simplenode:0.2', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  t.equal((await request(`http://${s.address}:5000/?stop=true`)).body, 'Process down: a1b2c3d4e5f6');
  t.equal(await task.exited, 1);
  t.equal(await task.stop(10_000), 1, 'stopping an exited task answers at once with its code');
  t.equal(await tryConnect(s.address, 5000), 'ECONNREFUSED', 'the listener is gone');
});

t.test('simplenode:0.2 ?slow=true makes /health answer SLOW after the slow delay', async (t) => {
  const runtime = new Runtime({ simplenode: { slowHealthMs: 300 } });
  const s = spec('madvirus/simplenode:0.2', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  await start(t, runtime, s);
  t.equal((await request(`http://${s.address}:5000/?slow=true`)).body, 'Health check slowdown');
  const begun = Date.now();
  t.equal((await request(`http://${s.address}:5000/health`)).body, 'SLOW');
  t.ok(Date.now() - begun >= 250, 'not before the delay');
});

t.test('simplenode:0.2 by default keeps a slow /health waiting; a stop cuts it after the grace period', async (t) => {
  const runtime = new Runtime();
  const s = spec('madvirus/simplenode:0.2', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  await request(`http://${s.address}:5000/?slow=true`);
  const health = request(`http://${s.address}:5000/health`);
  health.catch(() => {});
  t.equal(await within(health, 200), 'pending', 'no answer within 200 ms');
  t.equal(await task.stop(50), 0);
  await t.rejects(health, 'the in-flight request is cut when the grace period ends');
});

t.test('a graceful stop lets an in-flight request finish and refuses new connections', async (t) => {
  const runtime = new Runtime({ simplenode: { slowHealthMs: 300 } });
  const s = spec('madvirus/simplenode:0.2', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  await request(`http://${s.address}:5000/?slow=true`);
  const health = request(`http://${s.address}:5000/health`);
  await waitFor(() => task.logs.filter((l) => l.text === 'request arrived.').length === 2);
  const stopped = task.stop(10_000);
  t.equal(await tryConnect(s.address, 5000), 'ECONNREFUSED');
  t.equal((await health).body, 'SLOW');
  t.equal(await stopped, 0);
  t.equal(await task.exited, 0);
  t.equal(await task.stop(10_000), 0);
});

t.test('routemesh/echo echoes on every target port, TCP and UDP', async (t) => {
  const runtime = new Runtime();
  const s = spec('routemesh/echo', {
    ports: [
      { protocol: 'tcp', targetPort: 9007 },
      { protocol: 'tcp', targetPort: 9008 },
      { protocol: 'udp', targetPort: 9007 },
    ],
  });
  const task = await start(t, runtime, s);
  t.same(
    task.ports.map((p) => `${p.TargetPort}/${p.Protocol}->${p.ListenPort}`),
    ['9007/tcp->9007', '9008/tcp->9008', '9007/udp->9007'],
  );
  for (const port of [9007, 9008]) t.equal(await tcpEcho(s.address, port, `ping ${port}`), `ping ${port}`);
  t.equal(await udpEcho(s.address, 9007, 'datagram'), 'datagram');
  t.equal(await task.stop(1000), 0);
});

t.test('stopping routemesh/echo closes its open connections with a FIN and exits 0', async (t) => {
  const runtime = new Runtime();
  const s = spec('routemesh/echo', { ports: [{ protocol: 'tcp', targetPort: 9009 }] });
  const task = await start(t, runtime, s);
  const socket = net.connect({ host: s.address, port: 9009 });
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write('still here');
  await new Promise((resolve) => socket.once('data', resolve));
  const ended = new Promise((resolve) => socket.once('end', resolve));
  t.equal(await task.stop(10_000), 0);
  await ended;
});

t.test('routemesh/echo without ports listens on 7', async (t) => {
  const runtime = new Runtime();
  const s = spec('routemesh/echo');
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 7, ListenPort: 7 }]);
  t.equal(await tcpEcho(s.address, 7, 'hello'), 'hello');
});

t.test('a refused low port moves to port + 10000 on the same task address', async (t) => {
  const runtime = new Runtime({ canBindLowPorts: false });
  const s = spec('nginx', { ports: [{ protocol: 'tcp', targetPort: 80 }] });
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 10080 }]);
  t.equal((await request(`http://${s.address}:10080/`)).status, 200);
  t.equal(await tryConnect(s.address, 80), 'ECONNREFUSED');
});

t.test('when the fallback port is taken too, any free port is used', async (t) => {
  const runtime = new Runtime({ canBindLowPorts: false });
  const s = spec('nginx', { ports: [{ protocol: 'tcp', targetPort: 80 }] });
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(10080, s.address, resolve));
  t.teardown(() => squatter.close());
  const task = await start(t, runtime, s);
  const listen = task.ports[0]!.ListenPort;
  t.not(listen, 10080);
  t.not(listen, 80);
  t.equal((await request(`http://${s.address}:${listen}/`)).status, 200);
});

t.test('lowPortFallback chooses where refused low ports go', async (t) => {
  const runtime = new Runtime({ canBindLowPorts: false, lowPortFallback: (p) => p + 20000 });
  const s = spec('routemesh/echo', { ports: [{ protocol: 'tcp', targetPort: 7 }, { protocol: 'udp', targetPort: 7 }] });
  const task = await start(t, runtime, s);
  t.same(task.ports.map((p) => p.ListenPort), [20007, 20007]);
  t.equal(await udpEcho(s.address, 20007, 'u'), 'u');
});

t.test('PortBinder falls back only for EACCES on a port below 1024', async (t) => {
  const binder = new PortBinder();
  const denied = (p: number) => Object.assign(new Error(`bind ${p}`), { code: p < 1024 ? 'EACCES' : 'EADDRINUSE' });
  const tried: number[] = [];
  const lowDenied = async (p: number) => {
    tried.push(p);
    if (p < 1024 && p !== 0) throw denied(p);
    return p;
  };
  t.equal(await binder.bind(80, lowDenied), 10080);
  t.same(tried, [80, 10080]);

  tried.length = 0;
  const fallbackBusy = async (p: number) => {
    tried.push(p);
    if (p !== 0) throw denied(p);
    return 43210;
  };
  t.equal(await binder.bind(53, fallbackBusy), 43210);
  t.same(tried, [53, 10053, 0]);

  await t.rejects(binder.bind(8080, async () => Promise.reject(denied(8080))), { code: 'EADDRINUSE' }, 'high ports never move');
  await t.rejects(
    binder.bind(80, async () => Promise.reject(Object.assign(new Error('x'), { code: 'EADDRINUSE' }))),
    { code: 'EADDRINUSE' },
    'a low port in use is not a permission problem',
  );
});

t.test('a port already in use fails the start with START_FAILED and releases what was bound', async (t) => {
  const runtime = new Runtime();
  const s = spec('routemesh/echo', { ports: [{ protocol: 'tcp', targetPort: 9100 }, { protocol: 'tcp', targetPort: 9101 }] });
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(9101, s.address, resolve));
  t.teardown(() => squatter.close());
  await t.rejects(runtime.start(s), {
    constructor: RuntimeError,
    code: 'START_FAILED',
    message: new RegExp(`^Cannot listen on ${s.address.replace(/\./g, '\\.')}:9101/tcp: the port is already in use`),
  });
  await waitFor(async () => (await tryConnect(s.address, 9100)) === 'ECONNREFUSED');
});

t.test('the log buffer keeps the last lines and feeds live readers until they unsubscribe', async (t) => {
  const runtime = new Runtime({ logLines: 3 });
  const s = spec('madvirus/simplenode:0.1', { ports: [{ protocol: 'tcp', targetPort: 5000 }] });
  const task = await start(t, runtime, s);
  const seen: string[] = [];
  const off = task.onLog((l) => seen.push(l.text));
  for (let i = 0; i < 4; i++) await request(`http://${s.address}:5000/?n=${i}`);
  off();
  await request(`http://${s.address}:5000/`);
  t.equal(seen.length, 4);
  t.equal(task.logs.length, 3);
  t.ok(task.logs.every((l) => l.stream === 'stdout' && l.time instanceof Date));
});

const NODE = process.execPath;

t.test('routemesh/exec runs the command with the task environment and serves at HOST:PORT', async (t) => {
  const runtime = new Runtime();
  const program = `
    const { HOST, PORT, HOSTNAME, TASK_NAME, TASK_SLOT, GREETING } = process.env;
    console.log(JSON.stringify({ HOST, PORT, HOSTNAME, TASK_NAME, TASK_SLOT, GREETING }));
    console.error('to stderr');
    require('node:http').createServer((q, s) => s.end(GREETING + ' from ' + TASK_NAME))
      .listen(Number(PORT), HOST, () => console.log('listening'));`;
  const s = spec('routemesh/exec', {
    command: [NODE],
    args: ['-e', program],
    env: ['GREETING=hi'],
    ports: [{ protocol: 'tcp', targetPort: 8080 }],
    // tap's hooks, which it puts into every child, write into this checkout when node exits: as nobody, they could not.
    user: String(process.getuid!()),
  });
  const task = await start(t, runtime, s);
  t.not(task.pid, process.pid);
  t.ok(task.pid > 0);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 8080, ListenPort: 8080 }]);
  await logLine(task, /^listening$/);
  t.same(JSON.parse(task.logs[0]!.text), {
    HOST: s.address,
    PORT: '8080',
    HOSTNAME: 'a1b2c3d4e5f6',
    TASK_NAME: 'web.1.x1y2z3',
    TASK_SLOT: '1',
    GREETING: 'hi',
  });
  // stdout and stderr are separate pipes: the stderr line may come after 'listening'.
  await logLine(task, /^to stderr$/);
  t.ok(task.logs.some((l) => l.stream === 'stderr' && l.text === 'to stderr'));
  t.equal((await request(`http://${s.address}:8080/`)).body, 'hi from web.1.x1y2z3');
  t.equal(await task.stop(5000), 128 + 15, 'node dies of SIGTERM: 143');
});

t.test('routemesh/exec expands ${VAR} in command and args, and reports the exit code', async (t) => {
  const runtime = new Runtime();
  const s = spec('routemesh/exec', {
    args: ['${NODE_BIN}', '-e', 'console.log(process.argv.slice(1).join(" ")); process.exit(3)', '${HOST}:${PORT}', '${GREETING}!', '${UNSET}.'],
    env: [`NODE_BIN=${NODE}`, 'GREETING=hello'],
    ports: [{ protocol: 'tcp', targetPort: 8080 }],
  });
  const task = await start(t, runtime, s);
  t.equal(await task.exited, 3);
  t.equal(task.logs.find((l) => l.stream === 'stdout')?.text, `${s.address}:8080 hello! .`);
  t.equal(await task.stop(1000), 3);
});

t.test('routemesh/exec gives a low target port its fallback in PORT when low ports are refused', async (t) => {
  const runtime = new Runtime({ canBindLowPorts: false });
  const s = spec('routemesh/exec', {
    command: [NODE, '-e', 'console.log("port=" + process.env.PORT)'],
    ports: [{ protocol: 'tcp', targetPort: 80 }],
  });
  const task = await start(t, runtime, s);
  t.same(task.ports, [{ Protocol: 'tcp', TargetPort: 80, ListenPort: 10080 }]);
  t.equal(await task.exited, 0);
  t.equal(task.logs[0]?.text, 'port=10080');
});

t.test('routemesh/exec stop: a program that exits on SIGTERM exits with its code, one that ignores it is killed', async (t) => {
  const runtime = new Runtime();
  const graceful = await start(t, runtime, spec('routemesh/exec', {
    command: [NODE, '-e', 'process.on("SIGTERM", () => { console.log("bye"); process.exit(0) }); setInterval(() => {}, 1000); console.log("ready")'],
  }));
  const stubborn = await start(t, runtime, spec('routemesh/exec', {
    command: [NODE, '-e', 'process.on("SIGTERM", () => console.log("ignoring")); setInterval(() => {}, 1000); console.log("ready")'],
  }));
  await Promise.all([logLine(graceful, /^ready$/), logLine(stubborn, /^ready$/)]);
  const [a, b] = await Promise.all([graceful.stop(5000), stubborn.stop(200)]);
  t.equal(a, 0);
  t.ok(graceful.logs.some((l) => l.text === 'bye'));
  t.equal(b, 128 + 9, 'SIGKILL after the grace period: 137');
  t.ok(stubborn.logs.some((l) => l.text === 'ignoring'));
  t.equal(await stubborn.exited, 137);
});

t.test('routemesh/exec: stopping a task, or its program ending, ends every process it started', async (t) => {
  const runtime = new Runtime();
  // The shell ignores SIGTERM and its background child inherits that, like a daemon that forks.
  const child = uniqueSleep();
  t.teardown(() => killAll(child));
  const stubborn = await start(t, runtime, spec('routemesh/exec', {
    command: ['sh', '-c', `trap "" TERM; ${child.join(' ')} & echo started; wait`],
  }));
  await logLine(stubborn, /^started$/);
  // The shell may print before its background child has become the sleep (fork, then exec).
  await waitFor(() => processesRunning(child).length === 1);
  t.equal(await stubborn.stop(200), 137, 'killed after the grace period');
  t.same(await remaining(child, 5000), [], 'the background child went with it');

  // The program exits while a child it left behind still holds its output pipes.
  const left = uniqueSleep();
  t.teardown(() => killAll(left));
  const leaver = await start(t, runtime, spec('routemesh/exec', {
    command: ['sh', '-c', `${left.join(' ')} & echo started; exit 3`],
  }));
  await logLine(leaver, /^started$/);
  t.equal(await leaver.exited, 3, 'the task ends with its program, not with the last process holding its pipes');
  t.same(await remaining(left, 5000), [], 'the child it left behind was ended');
});

t.test('routemesh/exec without a command, or with one that does not exist, fails to start', async (t) => {
  const runtime = new Runtime();
  await t.rejects(runtime.start(spec('routemesh/exec')), { code: 'START_FAILED', message: /pass a command/ });
  await t.rejects(runtime.start(spec('routemesh/exec', { command: ['/nonexistent/program'] })), {
    code: 'START_FAILED',
    message: /cannot run '\/nonexistent\/program': executable file not found/,
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tcpEcho(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => socket.end(text));
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (got += c));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

function udpEcho(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP echo within 2 s'));
    }, 2000);
    socket.on('message', (msg) => {
      clearTimeout(timer);
      socket.close();
      resolve(msg.toString());
    });
    socket.send(text, port, host);
  });
}

t.test('traefik/whoami reads a PROXY header and stops at once with a silent client still connected', async (t) => {
  const runtime = new Runtime();
  const s = spec('traefik/whoami');
  const task = await start(t, runtime, s);
  const port = task.ports[0]!.ListenPort;
  // Through a PROXY header, RemoteAddr is the client the header names.
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect({ host: s.address, port });
    let text = '';
    socket.on('connect', () => socket.write('PROXY TCP4 203.0.113.9 127.0.0.1 4321 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk) => { text += chunk; });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  t.match(answer, /\nRemoteAddr: 203\.0\.113\.9:4321\n/);
  // A client that connects and says nothing (a browser's preconnect) must not keep the task from stopping.
  const silent = net.connect({ host: s.address, port });
  t.teardown(() => silent.destroy());
  await new Promise((resolve) => silent.once('connect', resolve));
  const stopped = await Promise.race([task.stop(300), new Promise((resolve) => { setTimeout(resolve, 5000, 'still running').unref(); })]);
  t.equal(stopped, 0, 'it exits 0 within its grace period');
});
