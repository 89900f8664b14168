// A cluster as users run it, for the bench to measure: `node bin/routemesh.js up --nodes N ...`, each node
// an OS process of its own (`routemesh node start`, from dist/), which the bench reaches by their
// addresses and whose CPU time it reads by their pids. Used by bench/run.ts (the main bench's mesh) and
// bench/node-processes.ts (start-up, memory, and the same cluster in one process beside it).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, commandLine } from './machine.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/routemesh.js', import.meta.url));
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc');

/**
 * `npm run build`'s compile, so the node processes run the code of this checkout: dist/ can be behind
 * src/ without its files' times showing it (tsc leaves an output alone when its source's text is the
 * same), and a no-change build takes seconds. Rejects with tsc's errors.
 */
export function buildDist(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT }, (error, stdout, stderr) => {
      if (!error) return resolve();
      reject(new Error(`building dist/ failed (\`npm run build\` shows the same):\n${`${stdout}${stderr}`.trim().split('\n').slice(0, 20).join('\n')}`));
    });
  });
}

/** Where a cluster lives: its nodes' subnet, its tasks' and VIPs', its DNS server, and its DNS upstream (nothing need listen there). */
export interface Addressing {
  subnet: string;
  taskSubnet: string;
  vipSubnet: string;
  dns: string;
  upstream: string;
}

export interface Up {
  child: ChildProcess;
  spawnedAt: number;
  /** Resolves once it has printed its table (and, with --demo, its demo's tasks). */
  ready: Promise<void>;
  stdout(): string;
  stderr(): string;
  /** The pid of node `hostname`'s process (`routemesh node1`), once `ready`. */
  nodePid(hostname: string): number;
  close(): Promise<void>;
}

/**
 * `routemesh up --nodes N ...` on `addressing`, with `extra` flags; its --data-dir is `<dir>/data`, a new
 * one unless `dir` is given, removed at close only if new. Needs dist/ built (buildDist).
 */
export function startUp(addressing: Addressing, nodes: number, extra: string[], dir?: string): Up {
  const a = addressing;
  const dataParent = dir ?? mkdtempSync(path.join(os.tmpdir(), 'routemesh-bench-'));
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [BIN, 'up', '--nodes', String(nodes), '--subnet', a.subnet, '--task-subnet', a.taskSubnet,
    '--vip-subnet', a.vipSubnet, '--dns', a.dns, '--dns-upstream', a.upstream, '--data-dir', path.join(dataParent, 'data'), ...extra],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = once(child, 'exit');
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (): void => { if (stdout.includes('Ctrl-C')) { child.stdout!.off('data', onData); resolve(); } };
    child.stdout!.on('data', onData);
    void exited.then(() => reject(new Error(`routemesh up ended before it was up: ${stderr.slice(-500)}`)));
  });
  ready.catch(() => {});
  return {
    child, spawnedAt, ready, stdout: () => stdout, stderr: () => stderr,
    nodePid(hostname) {
      const pid = childrenOf(child.pid!).find((p) => commandLine(p) === `routemesh ${hostname}`);
      if (pid === undefined) throw new Error(`routemesh up (pid ${child.pid}) runs no process for ${hostname}`);
      return pid;
    },
    // SIGTERM: up stops its node processes, and they their tasks; SIGKILL if that hangs (the nodes then close on their stdin's end).
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
      if (dir === undefined) rmSync(dataParent, { recursive: true, force: true });
    },
  };
}

/** Where `up`'s DNS server answers, from its table ("DNS: 127.150.0.250:53 answers ..."): port 53, or another without root. */
export function dnsServerOf(up: Up): { address: string; port: number } {
  const found = /^DNS: ([\d.]+):(\d+) answers/m.exec(up.stdout());
  if (!found) throw new Error(`routemesh up printed no DNS address: ${up.stdout().slice(0, 500)}`);
  return { address: found[1]!, port: Number(found[2]) };
}
