// Test support: another process on this host holding the host lock or an engine's host services
// (test/fixtures/hold-host.ts), for tests that SIGKILL the holder and watch who takes over.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { deadline } from './dns.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/hold-host.ts', import.meta.url));

export interface HostHolder {
  /** Its first line: `held` (with the DNS port for `dns`) or `waiting`. */
  said: string;
  /** SIGKILLs it; resolves once it has exited. */
  kill(): Promise<void>;
}

/** Starts the holder process (`lock NAME` or `dns ADDR`) and waits for its first line; SIGKILLed when the test ends. */
export async function hostHolder(t: Test, mode: 'lock' | 'dns', name: string): Promise<HostHolder> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, mode, name], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.setEncoding('utf8');
  const said = new Promise<string>((resolve) => {
    child.stdout.on('data', (chunk: string) => { out += chunk; if (out.includes('\n')) resolve(out.trim()); });
    void exited.then(() => resolve(out.trim()));
  });
  return {
    said: await deadline(`the ${mode} holder process to start`, said, 20_000),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
