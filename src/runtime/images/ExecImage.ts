// routemesh/exec: runs the service's command and args as a real child process, told where to listen
// through HOST and PORT, with a container's environment (not routemesh's), as the task's user, with
// pipes for stdout and stderr. What the program does is its own business; the process is ChildTask's.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ChildTask } from '../ChildTask.js';
import { outputPipes } from '../OutputPipe.js';
import { containmentHere, findExecutableAs, otherUser, taskArgv, taskPath } from '../taskProcess.js';
import { ROOT_VARIABLE, mountNamespacesHere } from '../TaskFiles.js';
import type { PreparedFiles } from '../TaskFiles.js';
import { RuntimeError } from '../TaskRun.js';
import type { ListenPort, RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

export class ExecImage implements Image {
  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const argv = [...(spec.command ?? []), ...(spec.args ?? [])];
    if (argv.length === 0) {
      throw new RuntimeError(
        'START_FAILED',
        'routemesh/exec has nothing to run: pass a command after the image, e.g. `docker service create routemesh/exec node server.js`.',
      );
    }
    const { user } = host;
    // Only the first target port is handed over (as PORT), so only it may move to a fallback port.
    const ports: ListenPort[] = [];
    for (const [i, { protocol, targetPort }] of spec.ports.entries()) {
      const listenPort = i === 0 ? await host.binder.probe(spec.address, targetPort, protocol) : targetPort;
      ports.push({ Protocol: protocol, TargetPort: targetPort, ListenPort: listenPort });
    }

    const cwd = await workingDirectory(spec.dir);
    // What a container gets: PATH and HOME, then the service's --env, then where the task is.
    const env: Record<string, string | undefined> = { PATH: taskPath(user), HOME: user.home };
    for (const entry of spec.env ?? []) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    env['HOST'] = spec.address;
    // routemesh's, for a task on networks: every address it has, and which is on which network.
    const networks = spec.networkAddresses ?? [];
    if (networks.length) {
      env['HOST_ADDRESSES'] = [spec.address, ...networks.map((n) => n.address)].join(' ');
      env['TASK_NETWORKS'] = networks.map((n) => `${n.name}=${n.address}`).join(' ');
    }
    if (ports[0]) env['PORT'] = String(ports[0].ListenPort);
    env['HOSTNAME'] = spec.hostname;
    env['TASK_NAME'] = spec.taskName;
    if (spec.slot !== undefined) env['TASK_SLOT'] = String(spec.slot);

    const files = spec.files ?? [];
    const mounts = spec.mounts ?? [];
    const namespaces = host.mountNamespaces && (files.length > 0 || mounts.length > 0) && await mountNamespacesHere();
    const prepared = await host.files.prepare(spec.taskId, user, files, mounts, namespaces);
    try {
      if (prepared?.how === 'directory') pointAtTree(env, prepared.env, [...files.map((f) => f.target), ...mounts.map((m) => m.Target!)]);
      return await this.#start(spec, host, argv, env, cwd, ports, prepared);
    } catch (error) {
      await host.files.release(prepared);
      throw error;
    }
  }

  async #start(spec: TaskRunSpec, host: ImageHost, argv: string[], env: Record<string, string | undefined>, cwd: string, ports: ListenPort[], prepared: PreparedFiles | undefined): Promise<RunningTask> {
    const { user } = host;
    const words = argv.map((word) => expand(word, env));
    // Looked up as the task's user before setpriv runs it, so a program that user cannot run fails the start
    // with the reason instead of exiting 126 or 127 at every restart.
    if ((await findExecutableAs(user, words[0]!, env['PATH'] ?? '', cwd)) === undefined) {
      const who = otherUser(user) ? ` that uid ${user.uid} may run` : '';
      throw new RuntimeError(
        'START_FAILED',
        `routemesh/exec cannot run '${words[0]}': executable file not found in $PATH${who} (${env['PATH']}); pass a command that exists on this machine${who}, e.g. node, or set PATH with --env.`,
      );
    }
    const containment = host.pidNamespaces ? await containmentHere() : 'group';
    const [file, args] = await taskArgv(user, words, containment, prepared?.how === 'namespace' ? prepared.script : undefined);
    const { stdout, stderr } = await outputPipes(user.switchTo ? user : undefined);
    let child: ChildProcess;
    try {
      // Its own process group, which a stop signals (taskArgv).
      child = spawn(file, args, { env, cwd, stdio: ['ignore', stdout.writeFd, stderr.writeFd], detached: true });
    } catch (err) {
      stdout.reader.destroy();
      stderr.reader.destroy();
      throw err;
    } finally {
      // The child has its own copies: the read ends see EOF once the task's last process is gone.
      closeSync(stdout.writeFd);
      closeSync(stderr.writeFd);
    }
    const task = new ChildTask(child, spec.address, ports, host.newLog(), { stdout: stdout.reader, stderr: stderr.reader }, containment,
      () => host.files.release(prepared));
    // As root, its health command joins its mount namespace (the child is in it from its unshare on).
    if (prepared?.how === 'namespace' && process.getuid?.() === 0) task.mountNamespacePid = child.pid;
    await task.started();
    return task;
  }
}

/** A container's working directory: `/`, or the service's --workdir (ContainerSpec.Dir), which must exist here. */
async function workingDirectory(dir: string | undefined): Promise<string> {
  if (dir === undefined || dir === '') return '/';
  if (!path.isAbsolute(dir)) {
    throw new RuntimeError('START_FAILED', `the working directory '${dir}' is invalid, it needs to be an absolute path; set --workdir to one.`);
  }
  const found = await stat(dir).catch(() => undefined);
  if (!found?.isDirectory()) {
    // Docker would create it in the container's file system; a task's is this machine's, which routemesh leaves alone.
    throw new RuntimeError('START_FAILED', `the working directory '${dir}' is not a directory on this machine; create it, or set --workdir to one that exists.`);
  }
  return dir;
}

/**
 * Without a mount namespace: $ROUTEMESH_ROOT names the task's tree, and each --env value naming one of its
 * targets (MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db) names the same path in the tree instead.
 */
function pointAtTree(env: Record<string, string | undefined>, tree: Record<string, string>, targets: readonly string[]): void {
  const root = tree[ROOT_VARIABLE]!;
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && targets.some((t) => value === t || value.startsWith(`${t}/`))) env[name] = path.join(root, value);
  }
  Object.assign(env, tree);
}

/** `${VAR}` from the task's environment, unset ones empty: what a shell would have done with the words. */
function expand(word: string, env: Record<string, string | undefined>): string {
  return word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}
