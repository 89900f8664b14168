// `routemesh up --etcd`: one local etcd member for the managers to keep the swarm in, started and stopped
// with the cluster, its data in the cluster's data directory (so `up` again finds the same swarm, and
// `--fresh` starts over). Auto-compaction is on: without it etcd keeps every revision, and a busy swarm
// grows its database by the hundred megabytes. A real cluster runs its own members (README: Beyond one machine).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import http from 'node:http';
import { sleep } from './sleep.js';

export interface LocalEtcd {
  /** `--store`'s value for the nodes: `etcd://<address>:2379`. */
  readonly store: string;
  stop(): Promise<void>;
}

const START_DEADLINE_MS = 15_000;
const STOP_GRACE_MS = 3_000;

export async function startLocalEtcd(options: { address: string; dataDir: string; log: (line: string) => void }): Promise<LocalEtcd> {
  const { address, dataDir } = options;
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const client = `http://${address}:2379`;
  const peer = `http://${address}:2380`;
  const args = [
    '--name', 'routemesh', '--data-dir', dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `routemesh=${peer}`,
    '--auto-compaction-mode', 'revision', '--auto-compaction-retention', '1000', '--log-level', 'error',
  ];
  // Bound to routemesh's life: should `up` be killed, its etcd ends too (as its node processes do).
  const setpriv = existsSync('/usr/bin/setpriv');
  const child = spawn(setpriv ? '/usr/bin/setpriv' : 'etcd', setpriv ? ['--pdeathsig', 'TERM', '--', 'etcd', ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  let exited = false;
  const exit = once(child, 'exit').then(() => { exited = true; });
  const failed = new Promise<Error>((resolve) => child.once('error', resolve));
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    const error = await Promise.race([failed, healthy(client).then(() => undefined, (e: Error) => e)]);
    if (error === undefined) break;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || /etcd.*No such file/.test(stderr)) {
      throw new Error('--etcd starts etcd, which is not installed: apt-get install etcd-server (or give --store etcd://... of an etcd of yours)');
    }
    if (exited || Date.now() > deadline) {
      await stop(child, exit);
      throw new Error(`--etcd: etcd on ${client} ${exited ? 'exited' : `did not answer within ${START_DEADLINE_MS / 1000} s`}: ${stderr.trim() || error.message}` +
        ` (is ${address}:2379 or :2380 taken? its data is in ${dataDir})`);
    }
    await sleep(100);
  }
  let stopping = false;
  void exit.then(() => { if (!stopping) options.log(`etcd on ${client} exited: the managers cannot change the swarm until it is back (${stderr.trim()})`); });
  return {
    store: `etcd://${address}:2379`,
    stop: async () => {
      stopping = true;
      await stop(child, exit);
    },
  };
}

async function stop(child: ChildProcess, exit: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exit;
  clearTimeout(timer);
}

/** Resolves once etcd says it is healthy (it has a leader). */
function healthy(client: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${client}/health`, { timeout: 1000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => (/"health":\s*"true"/.test(body) ? resolve() : reject(new Error(`not healthy yet: ${body.trim()}`))));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', reject);
  });
}
