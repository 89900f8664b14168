// Test support: the routemesh command as a child process, the way a user runs it.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../fixtures/routemesh.ts', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Short poll and verify waits keep convergence displays fast; the behaviour is the same. */
export function cliEnv(engine: string): NodeJS.ProcessEnv {
  return { ...process.env, ROUTEMESH_HOST: engine, ROUTEMESH_POLL_MS: '50', ROUTEMESH_MONITOR_MS: '300' };
}

export function routemesh(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', entry, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export function spawnRoutemesh(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}
