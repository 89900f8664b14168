// Turns a health check's test (`CMD-SHELL curl -f http://localhost:5000/health`) into a probe of the
// task. `curl` and `wget` aimed at localhost become HTTP requests to the task's own address (and its real
// port, should that have moved); any other command runs in a shell with HOST set and `localhost` meaning the
// task, as the task's user.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { reapOnExit } from './groupReaper.js';
import { containmentHere, taskArgv, taskPath } from './taskProcess.js';
import type { ListenPort } from './TaskRun.js';
import { resolveTaskUser } from './TaskUser.js';
import type { TaskUser } from './TaskUser.js';

export type Probe = (signal: AbortSignal) => Promise<boolean>;

const HTTP_TOOL = /^\s*(curl|wget)\s+(.*)$/;
const LOCAL_URL = /(?:^|\s)['"]?(?:https?:\/\/)?(localhost|127\.0\.0\.1)(?::(\d+))?(\/[^\s'"]*)?['"]?(?=\s|$)/;

/**
 * `undefined` when the test says there is no check (absent, empty, or ["NONE"]). `user` is the service's
 * --user (ContainerSpec.User), whom a command runs as; `mountNamespacePid`, the task's mount namespace it
 * runs in (RunningTask.mountNamespacePid).
 */
export function healthProbe(test: readonly string[] | undefined, address: string, ports: readonly ListenPort[], user?: string, mountNamespacePid?: number): Probe | undefined {
  if (!test || test.length === 0 || test[0] === 'NONE') return undefined;
  const [kind, ...rest] = test;
  const command = kind === 'CMD-SHELL' ? rest.join(' ') : kind === 'CMD' ? rest.join(' ') : test.join(' ');
  const tool = HTTP_TOOL.exec(command);
  const url = tool ? LOCAL_URL.exec(tool[2]!) : null;
  if (tool && url) {
    const port = Number(url[2] ?? 80);
    const listen = ports.find((p) => p.TargetPort === port)?.ListenPort ?? port;
    // curl succeeds on any answer unless -f/--fail; wget fails on 4xx and 5xx by itself.
    const failOnError = tool[1] === 'wget' || /(^|\s)(-[a-zA-Z]*f[a-zA-Z]*|--fail)(\s|$)/.test(tool[2]!);
    return (signal) => httpProbe(address, listen, url[3] ?? '/', failOnError, signal);
  }
  const shellCommand = kind === 'CMD' ? rest.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ') : command;
  let resolved: Promise<TaskUser> | undefined;
  return async (signal) => {
    // Resolved once; a user that cannot be found fails the check (the task itself was refused at start).
    resolved ??= resolveTaskUser(user);
    try {
      return await shellProbe(shellCommand.replace(/\blocalhost\b/g, address), address, await resolved, signal, mountNamespacePid);
    } catch {
      return false;
    }
  };
}

function httpProbe(host: string, port: number, path: string, failOnError: boolean, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, signal, headers: { 'User-Agent': 'routemesh-healthcheck' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(!failOnError || (res.statusCode ?? 500) < 400));
      res.on('error', () => resolve(false));
    });
    req.on('error', () => resolve(false));
  });
}

/** Grace between SIGTERM and SIGKILL for a check that outlived its timeout. */
const KILL_AFTER_MS = 1000;

/**
 * Contained as a task is (taskArgv: a PID namespace of its own where the machine allows, else a process
 * group), so a timed-out check takes everything it started with it; its environment is the task's view
 * (PATH, HOME and HOST), not routemesh's own, and it runs in `/`.
 */
async function shellProbe(command: string, host: string, user: TaskUser, signal: AbortSignal, mountNamespacePid: number | undefined): Promise<boolean> {
  const containment = await containmentHere();
  const [file, args] = await taskArgv(user, ['sh', '-c', command], containment, undefined, mountNamespacePid);
  if (signal.aborted) return false;
  const grouped = containment === 'group';
  return new Promise((resolve) => {
    const env = { PATH: taskPath(user), HOME: user.home, HOST: host };
    const child = spawn(file, args, { env, cwd: '/', stdio: 'ignore', detached: true });
    const group = (sig: NodeJS.Signals): void => {
      try { process.kill(-child.pid!, sig); } catch { /* already gone */ }
    };
    let killer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      group('SIGTERM');
      killer = setTimeout(() => group('SIGKILL'), KILL_AFTER_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('error', () => resolve(false));
    const release = grouped && child.pid !== undefined ? reapOnExit(child.pid) : () => {};
    child.on('exit', (code) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killer);
      if (grouped) group('SIGKILL'); // what it left running in its group dies with it (in a namespace, the kernel saw to that)
      release();
      resolve(code === 0);
    });
  });
}
