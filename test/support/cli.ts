// Test support: the routemesh command, and the real docker CLI, as child processes, the way a user runs them.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { waitFor } from './cluster.js';
import { childrenOf, gone, killWithChildren } from './processes.js';

/**
 * The installed command, running the build in dist/ (`npm test` builds it first; after changing src,
 * `npm run build` before running one of these files alone): it starts in a third of the time the sources
 * take through a TypeScript loader, and it is what users run.
 */
const bin = fileURLToPath(new URL('../../bin/routemesh.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Short poll and verify waits keep convergence displays fast; the behaviour is the same. */
export function cliEnv(engine: string): NodeJS.ProcessEnv {
  return { ...process.env, ROUTEMESH_HOST: engine, ROUTEMESH_POLL_MS: '50', ROUTEMESH_MONITOR_MS: '300' };
}

/**
 * Runs `file args` to its end (at most 60 s) with its exit code and output; rejects only when `file` is
 * not installed (ENOENT), so a caller can skip what needs it.
 */
export function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') return reject(error);
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: error?.killed ? `${stderr}[${file} ${args.join(' ')}: killed after 60 s]` : stderr });
    });
  });
}

export function routemesh(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return run(process.execPath, [bin, ...args], env);
}

/** The real docker CLI's environment for the engine at `address`: no TLS setting or context of the developer's in the way. */
export function dockerEnv(address: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `tcp://${address}:2375` };
  delete env.DOCKER_TLS_VERIFY;
  delete env.DOCKER_CONTEXT;
  return env;
}

/** `DOCKER_HOST=tcp://<address>:2375 docker ...args`; rejects only when no docker client is installed. */
export function docker(address: string, ...args: string[]): Promise<CliResult> {
  return run('docker', args, dockerEnv(address));
}

/**
 * `routemesh args` as a child process: `runAs` (setpriv and its options) goes before node, `nodeArgs` go to
 * node before the command (`--import` a fixture); its stdin is /dev/null unless a pipe is asked for.
 */
export function spawnRoutemesh(args: string[], env: NodeJS.ProcessEnv = process.env, options: { runAs?: string[]; nodeArgs?: string[]; stdin?: 'pipe' } = {}): ChildProcess {
  const [file, ...rest] = [...options.runAs ?? [], process.execPath, ...options.nodeArgs ?? [], bin, ...args];
  return spawn(file!, rest, { env, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
}

export interface UpProcess {
  child: ChildProcess;
  /** Its exit code and signal. */
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  stdout(): string;
  stderr(): string;
}

/**
 * A directory for a test's --data-dir (`up` and `node start` default to the user's real one), as
 * `<root>/data`; `root` is open to a `runAs` user, who makes the data directory inside. The caller removes root.
 */
export function tempDataDir(openToAll = false): { root: string; dataDir: string } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'routemesh-data-'));
  if (openToAll) chmodSync(root, 0o777);
  return { root, dataDir: path.join(root, 'data') };
}

/**
 * `routemesh up args` as a child process, once it has printed its start-up table. When the test ends it
 * is SIGKILLed with its node processes, and its --data-dir, a temporary one unless `args` name one, removed.
 */
export async function upProcess(t: Test, args: string[], env: NodeJS.ProcessEnv = process.env, options: { runAs?: string[]; nodeArgs?: string[] } = {}): Promise<UpProcess> {
  const temp = args.includes('--data-dir') ? undefined : tempDataDir(options.runAs !== undefined);
  const child = spawnRoutemesh(['up', ...(temp ? ['--data-dir', temp.dataDir] : []), ...args], env, options);
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  t.teardown(() => {
    if (child.pid !== undefined) killWithChildren(child.pid);
    if (temp) rmSync(temp.root, { recursive: true, force: true });
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => { stdout += chunk; });
  child.stderr!.on('data', (chunk) => { stderr += chunk; });
  await waitFor('the start-up table', () => stdout.includes('Ctrl-C'), 30_000).catch((err: Error) => { throw new Error(`${err.message}: ${stderr}`); });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** The node processes `up` (pid) runs, by hostname (ps shows each as `routemesh nodeN`), once there are `count`. */
export async function nodeProcesses(pid: number, count: number): Promise<Map<string, number>> {
  return waitFor(`${count} node processes`, () => {
    const named = childrenOf(pid).flatMap((c) => { const m = /^routemesh (node\d+)$/.exec(c.cmdline); return m ? [[m[1]!, c.pid] as const] : []; });
    return named.length === count ? new Map(named) : undefined;
  });
}

/** SIGKILLs `up` and its node processes (from nodeProcesses) in the same instant, as a power loss would, and waits until none is left. */
export async function powerLoss(up: UpProcess, nodes: readonly number[]): Promise<void> {
  for (const pid of [up.child.pid!, ...nodes]) process.kill(pid, 'SIGKILL');
  await up.exited;
  const left = await gone([...nodes], 5000);
  if (left.length) throw new Error(`node processes ${left.join(', ')} outlived their SIGKILL`);
}

/** Once `up` has said node `hostname` (pid) died: the command it printed to start it again. */
export async function restartCommandSaid(up: UpProcess, hostname: string, pid: number): Promise<string> {
  const said = await waitFor(`up to say ${hostname} died`, () => new RegExp(`${hostname} \\(pid ${pid}\\) died \\(SIGKILL\\): start it again with (.*)\n`).exec(up.stderr()) ?? undefined);
  return said[1]!;
}

/** Runs a `routemesh node start ...` command as `up` printed it, killed at teardown. */
export function startAsSaid(t: Test, command: string): ChildProcess {
  const words = command.split(' ');
  const child = spawnRoutemesh(words.slice(words.indexOf('node')));
  t.teardown(() => { child.kill('SIGKILL'); });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}
