// How a task's processes start (routemesh/exec's program, a health command): as the task's user, with a
// container's PATH, and contained as a container is. Where the machine allows it, each gets a PID namespace
// of its own (util-linux's unshare) whose init is tini (Docker's `--init`): when the program exits, or its
// init is killed, the kernel kills every process in the namespace, those that left its process group
// (setsid) included. Elsewhere (user namespaces disabled, no tini) each gets a process group: what a
// program moves out of it escapes. Either way util-linux's setpriv sets PR_SET_PDEATHSIG, which survives
// the exec, so the kernel SIGKILLs the task when routemesh dies however it dies (SIGKILL included).

import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { RuntimeError } from './TaskRun.js';
import type { TaskUser } from './TaskUser.js';

const execFileAsync = promisify(execFile);

/** How a task's processes are held together: a PID namespace each, or (the fallback) a process group each. */
export type Containment = 'namespace' | 'group';

/** Docker's PATH for a container whose image sets none. */
export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where a program named without a slash is looked for, in order; undefined when nowhere. */
async function findExecutable(word: string, searchPath: string): Promise<string | undefined> {
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

/** Whether the task runs as a user other than routemesh's own (routemesh is root and switches). */
export function otherUser(user: TaskUser): boolean {
  return user.switchTo && user.uid !== process.getuid?.();
}

/**
 * The task's PATH: Docker's for a task run as another user (the operator's may name directories that user
 * cannot enter, e.g. root's ~/.pyenv); the operator's own when the task runs as routemesh's user, so what
 * the operator can type (a node from nvm, a tool in ~/.local/bin) runs as a task too.
 */
export function taskPath(user: TaskUser): string {
  return otherUser(user) ? CONTAINER_PATH : (process.env.PATH ?? CONTAINER_PATH);
}

interface Tools {
  setpriv: string;
  /** unshare and tini, when every task can have a PID namespace of its own. */
  namespace?: { unshare: string; tini: string };
}

let tools: Promise<Tools> | undefined;

/** What this machine offers, found once: setpriv (required), and whether PID namespaces work with tini as their init. */
function toolsHere(): Promise<Tools> {
  tools ??= (async () => {
    const searchPath = process.env.PATH ?? CONTAINER_PATH;
    const [setpriv, unshare, tini] = await Promise.all(['setpriv', 'unshare', 'tini'].map((tool) => findExecutable(tool, searchPath)));
    if (setpriv === undefined) {
      throw new RuntimeError('START_FAILED', 'routemesh runs task commands through setpriv, which is not installed: install util-linux (Debian: apt-get install util-linux).');
    }
    if (unshare === undefined || tini === undefined) return { setpriv };
    const namespace = { unshare, tini };
    try {
      // Tried once as routemesh's user: refused where unprivileged user namespaces are disabled (Ubuntu 24.04's AppArmor default, a container without CAP_SYS_ADMIN).
      await execFileAsync(unshare, [...unshareArgs(), namespace.tini, '--', 'true'], { env: {}, timeout: 10_000 });
      return { setpriv, namespace };
    } catch {
      return { setpriv };
    }
  })();
  // A failure (no setpriv) is not kept: installing it must not need a restart.
  tools.catch(() => { tools = undefined; });
  return tools;
}

/**
 * unshare's options: a PID namespace whose first process dies with unshare, with a /proc of its own (in a
 * private mount namespace): through the host's /proc a task would see every other task's processes, and
 * their files through /proc/<pid>/root. Without root, inside a user namespace mapping routemesh's own ids.
 */
function unshareArgs(): string[] {
  const asRoot = process.getuid?.() === 0;
  return [...(asRoot ? [] : ['--user', '--map-current-user']), '--mount', '--propagation', 'private', ...OWN_PROC, '--'];
}

/** A PID namespace and the /proc that shows it: unshare mounts it before it runs anything. */
const OWN_PROC = ['--pid', '--fork', '--mount-proc', '--kill-child'];

/** How tasks' processes are contained on this machine: 'namespace' when it allows, else 'group'. */
export async function containmentHere(): Promise<Containment> {
  return (await toolsHere()).namespace ? 'namespace' : 'group';
}

/**
 * The file and arguments that run `argv` as `user`, contained as `containment` says (a namespace only where
 * containmentHere() found one), killed when routemesh dies. The process started must be spawned detached
 * (its own process group): a stop signals that group. In a namespace, tini (-g) passes a SIGTERM on to the
 * program's process group, reaps what it started, and exits with the program's status (128 + n for signal n).
 */
export async function taskArgv(user: TaskUser, argv: readonly string[], containment: Containment, mountScript?: string, joinMounts?: number): Promise<[string, string[]]> {
  const { setpriv, namespace } = await toolsHere();
  // A health command of a task with a mount namespace (as root) joins it first, before any user switch.
  if (joinMounts !== undefined) {
    const [file, args] = await taskArgv(user, argv, containment, mountScript);
    const rest = file === setpriv && args[0] === '--pdeathsig' ? args.slice(2) : [file, ...args];
    const inner = rest[0] === '--' ? rest.slice(1) : [setpriv, '--pdeathsig', 'KILL', ...rest];
    return [setpriv, ['--pdeathsig', 'KILL', '--', 'nsenter', `--target=${joinMounts}`, '--mount', '--', ...inner]];
  }
  const identity = user.switchTo ? identityArgs(user) : [];
  // Docker leaves a container CAP_NET_BIND_SERVICE, so a program run as nobody may still listen on port 80.
  const lowPorts = user.switchTo && user.uid !== 0 ? ['--inh-caps', '+net_bind_service', '--ambient-caps', '+net_bind_service'] : [];
  const asUser = identity.length > 0 ? [setpriv, ...identity, ...lowPorts, '--'] : [];
  if (mountScript !== undefined) return mountedArgv(setpriv, namespace, asUser, argv, containment, mountScript);
  if (containment === 'namespace' && namespace) {
    // The user switch happens inside, after unshare (which needs root for a PID namespace without a user namespace).
    return [setpriv, ['--pdeathsig', 'KILL', '--', namespace.unshare, ...unshareArgs(), namespace.tini, '-g', '--', ...asUser, ...argv]];
  }
  return [setpriv, ['--pdeathsig', 'KILL', ...identity, ...lowPorts, '--', ...argv]];
}

/**
 * As taskArgv, in a private mount namespace of the task's own where `mountScript` (TaskFiles) runs first, as
 * root there, then execs the rest: the task's user switch (setpriv as root, which sets PDEATHSIG again
 * since a uid change clears it; else a second user namespace mapping routemesh's own ids back), its program.
 */
function mountedArgv(setpriv: string, namespace: Tools['namespace'], asUser: string[], argv: readonly string[], containment: Containment, mountScript: string): [string, string[]] {
  const uid = process.getuid?.() ?? 0;
  const unshare = namespace?.unshare ?? 'unshare';
  const mountNs = [...(uid === 0 ? [] : ['--user', '--map-root-user']), '--mount', '--propagation', 'private'];
  const back = uid === 0
    ? (asUser.length ? [setpriv, '--pdeathsig', 'KILL', ...asUser.slice(1)] : [])
    : [unshare, '--user', `--map-user=${uid}`, `--map-group=${process.getgid?.() ?? 0}`, '--'];
  const setup = ['sh', '-c', mountScript, 'routemesh-mounts'];
  if (containment === 'namespace' && namespace) {
    return [setpriv, ['--pdeathsig', 'KILL', '--', unshare, ...mountNs, ...OWN_PROC, '--', ...setup, namespace.tini, '-g', '--', ...back, ...argv]];
  }
  return [setpriv, ['--pdeathsig', 'KILL', '--', unshare, ...mountNs, '--', ...setup, ...back, ...argv]];
}

/** setpriv's options that make a process `user`. */
function identityArgs(user: TaskUser): string[] {
  return ['--reuid', String(user.uid), '--regid', String(user.gid), user.groups === 'init' ? '--init-groups' : '--clear-groups'];
}

/**
 * The program `word` names, looked for in `searchPath` as `user` would find it (the directories it may
 * enter, the files it may run), from `cwd`; undefined when that user finds none.
 */
export async function findExecutableAs(user: TaskUser, word: string, searchPath: string, cwd: string): Promise<string | undefined> {
  const which = otherUser(user) ? await findExecutable('which', process.env.PATH ?? CONTAINER_PATH) : undefined;
  if (which === undefined) return findExecutable(word.includes('/') ? path.resolve(cwd, word) : word, searchPath);
  // Only the kernel knows what another user may run (modes, ACLs): debianutils' which, run as that user, asks it.
  const { setpriv } = await toolsHere();
  try {
    const { stdout } = await execFileAsync(setpriv, [...identityArgs(user), '--', which, '--', word], { env: { PATH: searchPath }, cwd, timeout: 10_000 });
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}
