// Docker's StatsJSON for one container (GET /containers/{id}/stats), from which the docker CLI computes
// CPU %, MEM USAGE / LIMIT, NET I/O, BLOCK I/O and PIDS. A routemesh/exec container's figures are its
// process tree's (/proc). A built-in image runs inside routemesh's node process and has no process of its
// own: its figures are that whole process's, shared with every other built-in container of the process,
// and its name in the stats says so.
import os from 'node:os';
import type { ContainerFacts } from './ContainerFacts.js';
import { ZERO_TIME } from './ContainerFacts.js';
import { onlineCpus, processTree, systemCpuNs, treeUsage } from './procStats.js';
import type { TreeUsage } from './procStats.js';

/** What the stats of a built-in image's container are named with, after the container's own name. */
export const SHARED_PROCESS_NOTE = ' (shares routemesh process)';

export interface StatsSample {
  read: Date;
  usage: TreeUsage;
  systemNs: number;
  cpus: number;
}

const NONE: TreeUsage = { cpuNs: 0, userNs: 0, kernelNs: 0, rssBytes: 0, pids: 0, readBytes: 0, writeBytes: 0 };

/** Whether the container's processes are routemesh's own (a built-in image). */
export function sharesProcess(c: ContainerFacts): boolean {
  return c.state === 'running' && c.pid === process.pid;
}

/** One reading of a container's usage now; a container that is not running reads zero. */
export async function sampleStats(c: ContainerFacts): Promise<StatsSample> {
  const [systemNs, cpus] = await Promise.all([systemCpuNs(), onlineCpus()]);
  let usage = NONE;
  if (c.state === 'running' && c.pid > 0) usage = await treeUsage(sharesProcess(c) ? [process.pid] : await processTree(c.pid));
  return { read: new Date(), usage, systemNs, cpus };
}

function cpuStats(sample: StatsSample | undefined): Record<string, unknown> {
  return {
    cpu_usage: { total_usage: sample?.usage.cpuNs ?? 0, usage_in_kernelmode: sample?.usage.kernelNs ?? 0, usage_in_usermode: sample?.usage.userNs ?? 0 },
    system_cpu_usage: sample?.systemNs ?? 0,
    online_cpus: sample?.cpus ?? 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** StatsJSON: `current` against `previous` (none: the CLI shows 0 % CPU for the first reading). */
export function statsJson(c: ContainerFacts, current: StatsSample, previous: StatsSample | undefined): Record<string, unknown> {
  const running = c.state === 'running';
  const { usage } = current;
  return {
    name: `/${c.name}${sharesProcess(c) ? SHARED_PROCESS_NOTE : ''}`,
    id: c.id,
    read: running ? current.read.toISOString() : ZERO_TIME,
    preread: previous && running ? previous.read.toISOString() : ZERO_TIME,
    pids_stats: running ? { current: usage.pids } : {},
    blkio_stats: {
      io_service_bytes_recursive: running ? [{ major: 0, minor: 0, op: 'read', value: usage.readBytes }, { major: 0, minor: 0, op: 'write', value: usage.writeBytes }] : null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(running ? current : undefined),
    precpu_stats: cpuStats(running ? previous : undefined),
    memory_stats: running ? { usage: usage.rssBytes, stats: {}, limit: os.totalmem() } : {},
  };
}
