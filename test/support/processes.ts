// Test support: this machine's live processes, read from /proc, for tests that check what a task runs
// and what it leaves behind. A task's own PIDs (`$!`) are its PID namespace's, so tests find processes
// by a command line no other process has, or as descendants of the PID routemesh reports.
import { readdirSync, readFileSync } from 'node:fs';

function pids(): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number);
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined; // it ended while we looked
  }
}

/** `sleep <a number no other process uses>`: a process a test can find by its command line. */
export function uniqueSleep(): string[] {
  return ['sleep', `${100_000 + Math.floor(Math.random() * 100_000)}.${process.pid}${Math.floor(Math.random() * 1000)}`];
}

/** PIDs of the processes whose command line is exactly `argv`. */
export function processesRunning(argv: readonly string[]): number[] {
  const wanted = argv.join('\0');
  return pids().filter((pid) => read(`/proc/${pid}/cmdline`)?.replace(/\0$/, '') === wanted);
}

/** The processes running `argv` once none is left, or `withinMs` has passed. */
export async function remaining(argv: readonly string[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const left = processesRunning(argv);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** SIGKILLs every process running `argv`: a teardown for what a failing test may leave. */
export function killAll(argv: readonly string[]): void {
  for (const pid of processesRunning(argv)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** The parent PID of a live process. */
function parentOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: the fields after its last ')' are plain.
  return stat === undefined ? undefined : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The direct children of `pid`, each with its command line as `ps` shows it (a process.title shows as set). */
export function childrenOf(pid: number): { pid: number; cmdline: string }[] {
  return pids().filter((p) => parentOf(p) === pid)
    .map((p) => ({ pid: p, cmdline: read(`/proc/${p}/cmdline`)?.replace(/\0+$/, '').replaceAll('\0', ' ') ?? '' }));
}

/** SIGKILLs a process and its children (`up` and its node processes, which a failed test must not leave running). */
export function killWithChildren(pid: number): void {
  for (const target of [...childrenOf(pid).map((c) => c.pid), pid]) {
    try { process.kill(target, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** A process under `ancestor` (itself included) whose command name is `comm`, once one runs (within 5 s). */
export async function descendantNamed(ancestor: number, comm: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = pids().find((pid) => {
      if (read(`/proc/${pid}/comm`)?.trim() !== comm) return false;
      for (let at: number | undefined = pid; at !== undefined && at > 1; at = parentOf(at)) if (at === ancestor) return true;
      return false;
    });
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no process ${comm} under ${ancestor} within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once none of `pids` is left (SIGKILLing what is left after `ms`, and saying so). */
export async function gone(pids: number[], ms: number): Promise<number[]> {
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const deadline = Date.now() + ms;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const left = pids.filter(alive);
  for (const pid of left) process.kill(pid, 'SIGKILL');
  return left;
}
