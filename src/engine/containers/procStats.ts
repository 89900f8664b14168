// What the kernel says of a process tree and of the machine, from /proc, in the units Docker's stats use:
// CPU time in nanoseconds (utime + stime of every process of the tree), resident memory in bytes, the
// number of processes, bytes read and written to storage, and the machine's CPU time as /proc/stat counts it.
import { readFile, readdir } from 'node:fs/promises';
import os from 'node:os';

/** Linux's USER_HZ, the unit of /proc's CPU times: 100 on every architecture Node runs on. */
const CLOCK_TICKS = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS;
const PAGE_SIZE = 4096;

export interface TreeUsage {
  cpuNs: number;
  userNs: number;
  kernelNs: number;
  rssBytes: number;
  pids: number;
  readBytes: number;
  writeBytes: number;
}

async function read(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

/** `pid` and every descendant still alive (children of each of its threads). */
export async function processTree(pid: number): Promise<number[]> {
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length && tree.length < 10_000) {
    const next = queue.shift()!;
    if ((await read(`/proc/${next}/stat`)) === undefined) continue;
    tree.push(next);
    const threads = (await readDir(`/proc/${next}/task`)) ?? [String(next)];
    for (const thread of threads) {
      const children = await read(`/proc/${next}/task/${thread}/children`);
      for (const child of children?.split(' ').filter(Boolean) ?? []) queue.push(Number(child));
    }
  }
  return tree;
}

async function readDir(path: string): Promise<string[] | undefined> {
  return readdir(path).catch(() => undefined);
}

/** The sums over a tree of processes; those gone meanwhile count nothing. */
export async function treeUsage(pids: readonly number[]): Promise<TreeUsage> {
  const usage: TreeUsage = { cpuNs: 0, userNs: 0, kernelNs: 0, rssBytes: 0, pids: 0, readBytes: 0, writeBytes: 0 };
  for (const pid of pids) {
    const stat = await read(`/proc/${pid}/stat`);
    if (stat === undefined) continue;
    // The fields after the command's closing parenthesis (the command may hold spaces and parentheses).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const user = Number(fields[11]) * NS_PER_TICK;
    const kernel = Number(fields[12]) * NS_PER_TICK;
    usage.userNs += user;
    usage.kernelNs += kernel;
    usage.cpuNs += user + kernel;
    usage.rssBytes += Number(fields[21]) * PAGE_SIZE;
    usage.pids++;
    // Another user's process (a task run as nobody) may not show its io to us: then it counts none.
    const io = await read(`/proc/${pid}/io`);
    usage.readBytes += Number(/^read_bytes:\s*(\d+)/m.exec(io ?? '')?.[1] ?? 0);
    usage.writeBytes += Number(/^write_bytes:\s*(\d+)/m.exec(io ?? '')?.[1] ?? 0);
  }
  return usage;
}

/** The machine's CPU time so far (user through steal, as moby's getSystemCPUUsage sums), in nanoseconds. */
export async function systemCpuNs(): Promise<number> {
  const line = (await read('/proc/stat'))?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  return line.trim().split(/\s+/).slice(1, 9).reduce((sum, ticks) => sum + Number(ticks), 0) * NS_PER_TICK;
}

/** CPUs online, as /proc/stat lists them. */
export async function onlineCpus(): Promise<number> {
  const stat = await read('/proc/stat');
  const count = stat?.split('\n').filter((l) => /^cpu\d+ /.test(l)).length ?? 0;
  return count || os.cpus().length;
}
