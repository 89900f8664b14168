// How a task's processes start (routemesh/exec's program, a health command): as the task's user, and
// bound to routemesh's life. util-linux's setpriv sets PR_SET_PDEATHSIG, which survives the exec, so the
// kernel SIGKILLs the process when routemesh dies however it dies (SIGKILL included): no task outlives its cluster.

import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { RuntimeError } from './TaskRun.js';
import type { TaskUser } from './TaskUser.js';

/** Where a program named without a slash is looked for, in order; undefined when nowhere. */
export async function findExecutable(word: string, searchPath: string): Promise<string | undefined> {
  const candidates = word.includes('/') ? [word] : searchPath.split(':').filter(Boolean).map((dir) => path.join(dir, word));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let setpriv: Promise<string | undefined> | undefined;

/** The file and arguments that run `argv` as `user`, killed when routemesh dies. */
export async function taskArgv(user: TaskUser, argv: readonly string[]): Promise<[string, string[]]> {
  setpriv ??= findExecutable('setpriv', process.env.PATH ?? '/usr/bin:/bin');
  const file = await setpriv;
  if (file === undefined) {
    throw new RuntimeError('START_FAILED', 'routemesh runs task commands through setpriv, which is not installed: install util-linux (Debian: apt-get install util-linux).');
  }
  const identity = user.switchTo
    ? ['--reuid', String(user.uid), '--regid', String(user.gid), user.groups === 'init' ? '--init-groups' : '--clear-groups']
    : [];
  // Docker leaves a container CAP_NET_BIND_SERVICE, so a program run as nobody may still listen on port 80.
  const lowPorts = user.switchTo && user.uid !== 0 ? ['--inh-caps', '+net_bind_service', '--ambient-caps', '+net_bind_service'] : [];
  return [file, ['--pdeathsig', 'KILL', ...identity, ...lowPorts, '--', ...argv]];
}
