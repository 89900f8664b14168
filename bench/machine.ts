// The facts about the machine that a benchmark figure means nothing without: Node version, CPU, cores,
// how busy it already was (taken before the cluster starts, so the bench's own work is not in it), and
// how much CPU time the hypervisor took away while a run went on.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { LoadResult } from './protocol.js';

export interface Machine {
  node: string;
  cpu: string;
  cores: number;
  platform: string;
  /** 1-minute load average when the bench began; near or above `cores`, other work skewed the figures. */
  loadBefore: number;
}

export function describeMachine(): Machine {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    // What this process may use (cgroup/affinity aware), which is what the figures ran on.
    cores: os.availableParallelism(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadBefore: os.loadavg()[0] ?? 0,
  };
}

/** CPU time of all cores since boot, in clock ticks: all of it, and the part stolen by the hypervisor. */
export interface CpuTimes {
  total: number;
  steal: number;
}

/** From Linux's /proc/stat; undefined where there is none. */
export function cpuTimes(): CpuTimes | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal; the guest columns after them are already in user.
    const counted = fields.slice(0, 8);
    if (counted.length < 8 || counted.some((n) => !Number.isFinite(n))) return undefined;
    return { total: counted.reduce((a, b) => a + b, 0), steal: counted[7]! };
  } catch {
    return undefined;
  }
}

/**
 * The share of CPU time the hypervisor gave to other machines between two readings: on a shared
 * virtual machine a run that lost a tenth of its CPU this way is slower for reasons the bench cannot see.
 */
export function stealPercent(before: CpuTimes | undefined, after: CpuTimes | undefined): number | undefined {
  if (before === undefined || after === undefined || after.total <= before.total) return undefined;
  return (100 * (after.steal - before.steal)) / (after.total - before.total);
}

/** Linux counts a process's CPU time in clock ticks of 10 ms (USER_HZ 100). */
const MICROSECONDS_PER_TICK = 10_000;

/** CPU time of process `pid` so far, in µs, from /proc/<pid>/stat (utime + stime). */
export function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: the fields after its last ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * MICROSECONDS_PER_TICK;
}

/**
 * CPU µs per request of a process that spent `cpuUs` over a load run: its readings span the warm-up too,
 * so the warm-up's answers count, and non-2xx answers with them (they are requests it passed).
 */
export function cpuPerRequest(cpuUs: number, result: LoadResult): number {
  return cpuUs / (result.warmupResponses + result.responses + result.non2xx);
}

/** CPU time of `pid` and of the processes it started (nginx's master and its worker), in µs. */
export function cpuOfTree(pid: number): number {
  return cpuOf(pid) + childrenOf(pid).reduce((sum, child) => sum + cpuOf(child), 0);
}

/** This process's CPU time so far, in µs. */
export function ownCpu(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The processes `pid` started that still run (Linux's /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** `pid`'s command line as `ps` shows it: a process that set its title shows that (`routemesh node1`). */
export function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replaceAll('\0', ' ');
}
