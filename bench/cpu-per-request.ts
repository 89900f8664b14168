// `node --import tsx bench/cpu-per-request.ts`: what each proxy spends per request, in CPU microseconds
// (its process's user + system time over the responses it passed), for the mesh in tcp and http mode (and
// on a twin cluster with metrics off, for what counting costs), a minimal Node proxy (http.request over a
// kept-alive agent: the floor for anything built on Node's http),
// HAProxy and nginx, all in front of the same bench/backend.ts task, with keep-alive and with a new
// connection per request. On a machine whose few cores the load, the task and the proxy share, req/s
// follows this figure, and it moves far less than req/s with the neighbours' load. Figures: bench/README.md.
import http from 'node:http';
import type net from 'node:net';
import { LoadRunner } from './LoadRunner.js';
import { childrenOf, cpuOf } from './machine.js';
import { startPeers } from './peers.js';
import { Resources } from './Resources.js';
import { deployTargets, startClusterAt } from './targets.js';

const BLOCK = Number(process.env.BENCH_BLOCK ?? 150);
const SECONDS = 3;
/** CPU time of `pid` and its children (nginx's master and its worker). */
function cpuOfTree(pid: number): number {
  return cpuOf(pid) + childrenOf(pid).reduce((sum, child) => sum + cpuOf(child), 0);
}

function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * The least a Node proxy does per request: one kept-alive agent, the request and the answer piped. Each
 * Connection header stays on its own hop: the client's `close` must not close the kept-alive task
 * connection, nor the task's `keep-alive` hold open a client connection that asked to be closed.
 */
function minimalProxy(task: string): { server: http.Server; close(): void } {
  const [host, port] = task.split(':');
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const { connection: _connection, ...headers } = req.headers;
    const upstream = http.request({ host, port: Number(port), method: req.method, path: req.url, headers, agent }, (answer) => {
      const { connection: _hop, 'keep-alive': _idle, ...answerHeaders } = answer.headers;
      res.writeHead(answer.statusCode ?? 502, answerHeaders);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return {
    server,
    close: () => {
      server.closeAllConnections();
      server.close();
      agent.destroy();
    },
  };
}

const resources = new Resources();
resources.closeOnSignals();
const runner = new LoadRunner();
resources.add(runner);
try {
  const cluster = resources.add(await startClusterAt(BLOCK));
  const targets = await deployTargets(cluster);
  const quiet = resources.add(await startClusterAt(BLOCK + 3, { metricsPort: undefined }));
  const quietTargets = await deployTargets(quiet);
  const peers = resources.add(await startPeers(targets.task, `127.${BLOCK}.0.201`, `127.${BLOCK}.0.202`));
  const { server: minimal } = resources.add(minimalProxy(targets.task));
  await new Promise<void>((resolve) => minimal.listen(0, `127.${BLOCK}.0.203`, resolve));
  const minimalUrl = `http://127.${BLOCK}.0.203:${(minimal.address() as net.AddressInfo).port}/`;
  const { haproxy, nginx } = peers.pids;
  const routes: [string, string | undefined, () => number][] = [
    ['mesh tcp', targets.sameNode, ownCpu],
    ['mesh http', targets.httpSameNode, ownCpu],
    ['mesh tcp, metrics off', quietTargets.sameNode, ownCpu],
    ['mesh http, metrics off', quietTargets.httpSameNode, ownCpu],
    ['minimal Node http proxy', minimalUrl, ownCpu],
    ['HAProxy, mode tcp', peers.urls['haproxy tcp'], () => cpuOfTree(haproxy!)],
    ['HAProxy, mode http', peers.urls['haproxy http'], () => cpuOfTree(haproxy!)],
    ['nginx, stream', peers.urls['nginx stream'], () => cpuOfTree(nginx!)],
    ['nginx, http', peers.urls['nginx http'], () => cpuOfTree(nginx!)],
  ];
  console.log('| proxy | connections | req/s | CPU µs per request | share of a core |');
  console.log('|---|---|---:|---:|---:|');
  for (const newConnectionPerRequest of [false, true]) {
    // Unmeasured: the first route of a block would otherwise be charged the compiling of this process's
    // paths for the mode (a new connection per request cost the first mesh tcp run 2-3 times the next).
    await runner.run(targets.sameNode, { connections: 10, pipelining: 1, durationSec: SECONDS, warmupSec: 1, newConnectionPerRequest });
    for (const [name, url, cpu] of routes) {
      if (!url) continue;
      const before = cpu();
      const result = await runner.run(url, { connections: 10, pipelining: 1, durationSec: SECONDS, warmupSec: 1, newConnectionPerRequest });
      // The warm-up's requests are in the CPU time too: counted at the measured rate, so the figure is per request.
      const requests = result.reqPerSec * (result.elapsedSec + 1);
      const used = cpu() - before;
      console.log(`| ${name} | ${newConnectionPerRequest ? 'new per request' : 'keep-alive'} | ${result.reqPerSec.toFixed(0)} | ` +
        `${(used / requests).toFixed(1)} | ${((100 * used) / 1e6 / (result.elapsedSec + 1)).toFixed(0)}% |`);
    }
  }
} finally {
  await resources.closeAll();
}
