// Kills what is left of routemesh's task process groups once routemesh is gone, however it went: the
// fallback where tasks get no PID namespace (taskProcess). setpriv's death signal reaches a task's own
// process only; what that process started (npm's node, a shell's background job) would live on holding the
// task's address and port. One awk process per routemesh keeps the live groups and, at the end of its input
// (the kernel closes that pipe when routemesh dies), kills them.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

const PROGRAM = `
/^\\+/ { live[substr($0, 2)] = 1 }
/^-/ { delete live[substr($0, 2)] }
END { for (group in live) system("kill -9 -" group " 2>/dev/null") }`;

let reaper: ChildProcess | undefined;

/** Puts the process group `pgid` in the reaper's care; the function returned takes it back once the group is gone. */
export function reapOnExit(pgid: number): () => void {
  const watcher = reaperProcess();
  watcher.stdin?.write(`+${pgid}\n`);
  return () => { watcher.stdin?.write(`-${pgid}\n`); };
}

function reaperProcess(): ChildProcess {
  if (reaper?.exitCode === null && reaper.signalCode === null) return reaper;
  // Its own process group: a Ctrl-C to routemesh's terminal must not end it before routemesh's tasks.
  const child = spawn('awk', [PROGRAM], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.on('error', () => {}); // no awk: tasks still die with routemesh, only their own children may not
  child.stdin!.on('error', () => {}); // the reaper killed by someone: the next task starts another
  // Neither the process nor its pipe keeps routemesh running.
  child.unref();
  (child.stdin as Socket).unref();
  reaper = child;
  return child;
}
