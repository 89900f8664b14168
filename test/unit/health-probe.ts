// Health probes: curl/wget aimed at localhost become HTTP requests to the task (on its real port);
// other commands run in a shell that a timeout ends together with everything it started.
import { chmodSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { healthProbe } from '../../src/runtime/index.js';
import { killAll, remaining, uniqueSleep } from '../support/processes.js';

const HOST = '127.212.0.2';

t.test('no test, an empty one or NONE: no probe', async (t) => {
  t.equal(healthProbe(undefined, HOST, []), undefined);
  t.equal(healthProbe([], HOST, []), undefined);
  t.equal(healthProbe(['NONE'], HOST, []), undefined);
});

t.test('curl -f against localhost probes the task over HTTP, on its real port', async (t) => {
  let status = 200;
  const paths: string[] = [];
  const server = http.createServer((req, res) => { paths.push(req.url!); res.statusCode = status; res.end(); });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const listen = (server.address() as { port: number }).port;
  const ports = [{ Protocol: 'tcp' as const, TargetPort: 5000, ListenPort: listen }];
  const curl = healthProbe(['CMD-SHELL', 'curl -f http://localhost:5000/health'], HOST, ports)!;
  const lenient = healthProbe(['CMD-SHELL', 'curl http://localhost:5000/health'], HOST, ports)!;
  const wget = healthProbe(['CMD', 'wget', '-q', '-O', '-', 'http://127.0.0.1:5000/ready'], HOST, ports)!;
  t.equal(await curl(new AbortController().signal), true);
  status = 500;
  t.equal(await curl(new AbortController().signal), false, 'curl -f fails on a 5xx');
  t.equal(await lenient(new AbortController().signal), true, 'curl without -f takes any answer');
  t.equal(await wget(new AbortController().signal), false, 'wget fails on a 5xx by itself');
  t.same(paths, ['/health', '/health', '/health', '/ready']);
});

t.test('a shell check sees HOST as the task and ends with everything it started when it times out', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'routemesh-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o777); // as root, the check runs as nobody
  const ok = healthProbe(['CMD-SHELL', `test "$HOST" = ${HOST}`], HOST, [])!;
  t.equal(await ok(new AbortController().signal), true);
  const sleeper = uniqueSleep();
  t.teardown(() => killAll(sleeper));
  const started = path.join(dir, 'started');
  const stuck = healthProbe(['CMD-SHELL', `trap "" TERM; ${sleeper.join(' ')} & touch ${started}; wait`], HOST, [])!;
  const controller = new AbortController();
  const result = stuck(controller.signal);
  const deadline = Date.now() + 5000;
  while (!existsSync(started)) {
    if (Date.now() > deadline) throw new Error('the check never started');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  controller.abort();
  t.equal(await result, false);
  t.same(await remaining(sleeper, 5000), [], 'the process the check started is gone too');
});
