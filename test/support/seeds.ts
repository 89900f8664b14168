// Test support for the seed flows: runs a command of test/fixtures/seed-commands.ts through the real docker
// CLI against a flow's cluster, its placeholders filled in, and reads docker's tables.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Test } from 'tap';
import { seedCommand } from '../fixtures/seed-commands.js';
import { docker, dockerEnv } from './cli.js';
import type { CliResult } from './cli.js';
import { waitFor } from './cluster.js';

export interface SeedFlow {
  /** What `{name}` in a command's argv stands for; `{n1}`… are the node addresses. */
  vars: Record<string, string>;
  /** The command's argv, filled in. */
  argv(id: string): string[];
  /** Runs it on its node (or `node`, 1-based, for a command the seed types on several). */
  run(id: string, node?: number): Promise<CliResult>;
  /** Starts one that runs until stopped (events, stats, a foreground run); killed when the test ends. */
  follow(t: Test, id: string, node?: number): Followed;
}

export interface Followed {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Its exit code (null when a signal ended it) once it has ended. */
  exited: Promise<number | null>;
}

export function seedFlow(addresses: readonly string[]): SeedFlow {
  const vars: Record<string, string> = Object.fromEntries(addresses.map((address, i) => [`n${i + 1}`, address]));
  const argv = (id: string): string[] => seedCommand(id).argv.map((word) => word.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`seed command ${id}: nothing given for ${whole}`);
    return value;
  }));
  const address = (id: string, node?: number): string => addresses[(node ?? seedCommand(id).node) - 1]!;
  return {
    vars,
    argv,
    run: (id, node) => docker(address(id, node), ...argv(id)),
    follow(t, id, node) {
      const child = spawn('docker', argv(id), { env: dockerEnv(address(id, node)), stdio: ['ignore', 'pipe', 'pipe'] });
      t.teardown(() => { child.kill('SIGKILL'); });
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (chunk) => { stdout += chunk; });
      child.stderr!.on('data', (chunk) => { stderr += chunk; });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, stdout: () => stdout, stderr: () => stderr, exited };
    },
  };
}

/** The rows of one of docker's tables (columns two or more spaces apart), the header left out. */
export function rows(table: string): string[][] {
  return table.trimEnd().split('\n').slice(1).map((line) => line.trim().split(/ {2,}/));
}

/** Waits until a followed command has printed what `pattern` matches; the match. */
export function printed(followed: Followed, pattern: RegExp, what: string, timeoutMs?: number): Promise<RegExpExecArray> {
  return waitFor(what, () => pattern.exec(followed.stdout()) ?? undefined, timeoutMs)
    .catch((error: Error) => { throw new Error(`${error.message}; it printed: ${followed.stdout()}${followed.stderr()}`); });
}

export const isRoot = process.getuid?.() === 0;
