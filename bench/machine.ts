// The facts about the machine that a benchmark figure means nothing without: Node version, CPU, cores,
// and how busy it already was (taken before the cluster starts, so the bench's own work is not in it).
import os from 'node:os';

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
