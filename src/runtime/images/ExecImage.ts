// routemesh/exec: runs the service's command and args as a real child process, told where to listen
// through HOST and PORT, with a container's environment (not routemesh's), as the task's user, with
// pipes for stdout and stderr. What the program does is its own business; the process is ChildTask's.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import { ChildTask } from '../ChildTask.js';
import { outputPipes } from '../OutputPipe.js';
import { findExecutable, taskArgv } from '../taskProcess.js';
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

    // What a container gets: PATH and HOME, then the service's --env, then where the task is.
    const env: Record<string, string | undefined> = { PATH: process.env.PATH ?? DEFAULT_PATH, HOME: user.home };
    for (const entry of spec.env ?? []) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    env['HOST'] = spec.address;
    if (ports[0]) env['PORT'] = String(ports[0].ListenPort);
    env['HOSTNAME'] = spec.hostname;
    env['TASK_NAME'] = spec.taskName;
    if (spec.slot !== undefined) env['TASK_SLOT'] = String(spec.slot);

    const words = argv.map((word) => expand(word, env));
    // Looked up before setpriv runs it, so a missing program fails the start instead of exiting 127.
    if ((await findExecutable(words[0]!, env['PATH'] ?? '')) === undefined) {
      throw new RuntimeError(
        'START_FAILED',
        `routemesh/exec cannot run '${words[0]}': executable file not found in $PATH; pass a command that exists on this machine (e.g. node).`,
      );
    }
    const [file, args] = await taskArgv(user, words);
    const { stdout, stderr } = await outputPipes(user.switchTo ? user : undefined);
    let child: ChildProcess;
    try {
      // Its own process group, as a container has its own PID namespace: stopping the task reaches every process it started.
      child = spawn(file, args, { env, stdio: ['ignore', stdout.writeFd, stderr.writeFd], detached: true });
    } catch (err) {
      stdout.reader.destroy();
      stderr.reader.destroy();
      throw err;
    } finally {
      // The child has its own copies: the read ends see EOF once the task's last process is gone.
      closeSync(stdout.writeFd);
      closeSync(stderr.writeFd);
    }
    const task = new ChildTask(child, spec.address, ports, host.newLog(), { stdout: stdout.reader, stderr: stderr.reader });
    await task.started();
    return task;
  }
}

/** Docker's PATH for a container whose image sets none. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `${VAR}` from the task's environment, unset ones empty: what a shell would have done with the words. */
function expand(word: string, env: Record<string, string | undefined>): string {
  return word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => env[name] ?? '');
}
