// The main bench's routes and their runs, shared by `npm run bench` (bench/run.ts) and its CPU table alone
// (bench/cpu-per-request.ts): two 3-node clusters as users run them, every node an OS process
// (`routemesh up`, bench/upCluster.ts), the second with metrics off, each with the two services on node1
// (bench/targets.ts); node-http-proxy in this process; HAProxy and nginx (bench/peers.ts). Each run reads,
// around it, the CPU time of the process that takes its load: node1's for the mesh's same-node routes (its
// tasks are processes of their own, not in its figure), HAProxy's, nginx's (master and worker), and this
// process's for node-http-proxy.
import { LoadRunner } from './LoadRunner.js';
import { cpuOf, cpuOfTree, cpuPerRequest, cpuTimes, ownCpu, stealPercent } from './machine.js';
import { startNaiveProxy } from './naiveProxy.js';
import { startPeers } from './peers.js';
import type { Resources } from './Resources.js';
import type { Scenario } from './schedule.js';
import type { BenchSettings } from './settings.js';
import { ROUTE_LABEL, type Measurement, type Route } from './table.js';
import { deployTargets, HOME_NODE, type Targets } from './targets.js';
import { dnsServerOf, startUp, type Addressing } from './upCluster.js';

export interface Subjects {
  urls: Partial<Record<Route, string>>;
  /** For each route whose CPU per request is reported: the CPU time so far, in µs, of the process that takes its load. */
  cpu: Partial<Record<Route, () => number>>;
  targets: Targets;
  quietTargets: Targets;
  /** One line per peer: its version, or why it is missing. */
  peerNotes: string[];
  /** The main cluster's DNS server, for the scale section's DNS load. */
  dns: { address: string; port: number };
  /** Everything started here, to release before the scale section reuses the addresses. */
  started: { close(): Promise<void> | void }[];
}

/** Cluster nodes on 127.B.0.0/24, task addresses on 127.(B+1)/16, VIPs on 127.(B+2)/16; nothing listens on its DNS upstream. */
export function addressing(block: number): Addressing {
  return {
    subnet: `127.${block}.0.0/24`,
    taskSubnet: `127.${block + 1}.0.0/16`,
    vipSubnet: `127.${block + 2}.0.0/16`,
    dns: `127.${block}.0.250`,
    upstream: `127.${block}.0.253`,
  };
}

/** Starts everything the routes reach, on blocks B to B+5, and resolves once every URL answers. */
export async function startSubjects(block: number, resources: Resources): Promise<Subjects> {
  const cluster = resources.add(startUp(addressing(block), 3, []));
  // The same services on a cluster with metrics off, for what counting costs.
  const quiet = resources.add(startUp(addressing(block + 3), 3, ['--metrics-port', 'off']));
  await Promise.all([cluster.ready, quiet.ready]);
  const apiOf = (b: number): string => `http://127.${b}.0.1:2375`;
  const [targets, quietTargets] = await Promise.all([deployTargets(apiOf(block)), deployTargets(apiOf(block + 3))]);
  const naive = resources.add(await startNaiveProxy(targets.direct, `127.${block}.0.200`));
  const peers = resources.add(await startPeers(targets.task, `127.${block}.0.201`, `127.${block}.0.202`));
  const node = cluster.nodePid(HOME_NODE);
  const quietNode = quiet.nodePid(HOME_NODE);
  const { haproxy, nginx } = peers.pids;
  const peerCpu = (pid: number | undefined): (() => number) | undefined => (pid === undefined ? undefined : () => cpuOfTree(pid));
  return {
    urls: {
      direct: targets.direct, 'same node': targets.sameNode, 'other node': targets.otherNode, vip: targets.vip,
      'http same node': targets.httpSameNode, 'node-http-proxy': naive.url, ...peers.urls,
      'same node, no metrics': quietTargets.sameNode, 'http same node, no metrics': quietTargets.httpSameNode,
    },
    cpu: {
      'same node': () => cpuOf(node), 'http same node': () => cpuOf(node),
      'same node, no metrics': () => cpuOf(quietNode), 'http same node, no metrics': () => cpuOf(quietNode),
      'haproxy tcp': peerCpu(haproxy), 'haproxy http': peerCpu(haproxy),
      'nginx stream': peerCpu(nginx), 'nginx http': peerCpu(nginx),
      'node-http-proxy': ownCpu,
    },
    targets,
    quietTargets,
    peerNotes: peers.notes,
    dns: dnsServerOf(cluster),
    started: [naive, peers, cluster, quiet],
  };
}

export type RunSettings = Pick<BenchSettings, 'connections' | 'pipelining' | 'durationSec' | 'warmupSec'>;

/** The routes whose proxy is a Node process (a node's mesh, node-http-proxy), which starts cold. */
const NODE_ROUTES: readonly Route[] = ['same node', 'other node', 'vip', 'http same node', 'node-http-proxy', 'same node, no metrics', 'http same node, no metrics'];

/**
 * `seconds` of load on each route through a Node process, with keep-alive and with a new connection per
 * request, recorded nowhere: fresh node processes compile their hot paths during the first thousands of
 * requests (at a load average of 10, a 2.5 s run's CPU per request fell 1178, 557, 251 µs over three rounds
 * in http mode), and HAProxy and nginx have nothing to warm.
 */
export async function warmPass(subjects: Subjects, runner: LoadRunner, settings: RunSettings & { warmPassSec: number },
  say: (line: string) => void): Promise<void> {
  if (settings.warmPassSec <= 0) return;
  const routes = NODE_ROUTES.filter((route) => subjects.urls[route] !== undefined);
  say(`warming the Node processes: ${routes.length} routes, ${settings.warmPassSec} s each with keep-alive and with a new connection per request`);
  for (const route of routes) {
    for (const newConnectionPerRequest of [false, true]) {
      await runner.run(subjects.urls[route]!, { connections: settings.connections, pipelining: settings.pipelining, durationSec: settings.warmPassSec, warmupSec: 0, newConnectionPerRequest });
    }
  }
}

/** Runs each round's scenarios in order; each measurement with its CPU steal, and its CPU per request where `subjects.cpu` reads one. */
export async function runRounds(orders: readonly (readonly Scenario[])[], subjects: Subjects, runner: LoadRunner, settings: RunSettings,
  say: (line: string) => void): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (const [r, order] of orders.entries()) {
    for (const [i, { route, mode }] of order.entries()) {
      const url = subjects.urls[route]!;
      say(`round ${r + 1}/${orders.length}, run ${i + 1}/${order.length}: ${ROUTE_LABEL[route]}, ${mode}: ${url} for ${settings.durationSec} s`);
      const cpu = subjects.cpu[route];
      const stealBefore = cpuTimes();
      const cpuBefore = cpu?.();
      const startedAt = performance.now();
      const result = await runner.run(url, {
        connections: mode === 'one connection' ? 1 : settings.connections,
        pipelining: settings.pipelining,
        durationSec: settings.durationSec,
        warmupSec: settings.warmupSec,
        newConnectionPerRequest: mode === 'new per request',
      });
      const spentUs = cpu && cpuBefore !== undefined ? cpu() - cpuBefore : undefined;
      const wallUs = (performance.now() - startedAt) * 1000;
      measurements.push({
        route, mode, round: r + 1, position: i + 1, result, stealPercent: stealPercent(stealBefore, cpuTimes()),
        ...(spentUs !== undefined ? { cpu: { usPerRequest: cpuPerRequest(spentUs, result), coreShare: spentUs / wallUs } } : {}),
      });
    }
  }
  return measurements;
}
