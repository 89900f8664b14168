// The peers the mesh is measured against, each in front of the same task as the mesh: HAProxy (mode tcp,
// and mode http with keep-alive to the task; nbthread 1) and nginx (stream, and http with an upstream
// keepalive pool; one worker), from the machine's own packages, started from configs written to a
// temporary directory and stopped with the bench. A peer that is not installed is reported with the
// command that installs it, and the bench runs without it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type PeerRoute = 'haproxy tcp' | 'haproxy http' | 'nginx stream' | 'nginx http';

export interface Peers {
  urls: Partial<Record<PeerRoute, string>>;
  /** The processes, for what they spend (bench/mainRuns.ts); nginx's does its work in a child. */
  pids: { haproxy?: number | undefined; nginx?: number | undefined };
  /** One line per peer: its version, or why it is missing and how to install it. */
  notes: string[];
  close(): Promise<void>;
}

const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const PORTS = { 'haproxy tcp': 8090, 'haproxy http': 8091, 'nginx stream': 8092, 'nginx http': 8093 } as const;
const STARTUP_MS = 10_000;

function output(command: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, (error, stdout, stderr) => resolve(error ? undefined : `${stdout}${stderr}`.trim()));
  });
}

/** Resolves once `host:port` accepts a connection; rejects if the peer exits first or takes too long. */
async function accepting(host: string, port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host, () => { socket.destroy(); resolve(true); });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${host}:${port} within ${STARTUP_MS / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** SIGTERM, and SIGKILL if the peer is still there 5 s later: a stuck peer must not hang the bench. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function haproxyConfig(host: string, task: string): string {
  return `global
  nbthread 1
  maxconn 4096

defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s

frontend tcp_in
  mode tcp
  bind ${host}:${PORTS['haproxy tcp']}
  default_backend tcp_task

backend tcp_task
  mode tcp
  server task ${task}

# Mode http keeps client connections alive by default (option http-keep-alive). http-reuse always lets any
# request take an idle connection to the task, as the mesh's agent and nginx's keepalive pool do; with the
# default (safe), the first request of every client connection opens a new one.
frontend http_in
  mode http
  bind ${host}:${PORTS['haproxy http']}
  default_backend http_task

backend http_task
  mode http
  http-reuse always
  server task ${task}
`;
}

/** How this nginx gets its stream module: built in, loaded from Debian's module package, or not at all. */
function streamModule(nginxBuild: string): 'static' | 'dynamic' | undefined {
  if (/--with-stream(\s|$)/.test(nginxBuild)) return 'static';
  return existsSync(NGINX_STREAM_MODULE) ? 'dynamic' : undefined;
}

function nginxConfig(host: string, task: string, dir: string, stream: 'static' | 'dynamic' | undefined): string {
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`).join('\n');
  const streamBlock = `stream {
  server {
    listen ${host}:${PORTS['nginx stream']};
    proxy_pass ${task};
  }
}
`;
  return `${stream === 'dynamic' ? `load_module ${NGINX_STREAM_MODULE};\n` : ''}worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
  worker_connections 4096;
}

${stream ? streamBlock : ''}
http {
  access_log off;
${temp}
  # nginx closes a client's connection after 1000 requests by default; autocannon would count each as an
  # error and time the requests it had queued on it from before the reconnect.
  keepalive_requests 1000000;
  upstream task {
    server ${task};
    keepalive 32;
    keepalive_requests 1000000;
  }
  server {
    listen ${host}:${PORTS['nginx http']};
    location / {
      proxy_pass http://task;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

/** Starts both peers in front of `task` (host:port), HAProxy on `haproxyHost`, nginx on `nginxHost`. */
export async function startPeers(task: string, haproxyHost: string, nginxHost: string): Promise<Peers> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'routemesh-bench-'));
  // nginx started by root runs its worker as nobody, which must reach the temp paths.
  await chmod(dir, 0o755);
  const children: ChildProcess[] = [];
  const urls: Partial<Record<PeerRoute, string>> = {};
  const pids: Peers['pids'] = {};
  const notes: string[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(children.map(stop));
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const haproxyVersion = (await output('haproxy', ['-v']))?.split('\n')[0];
    if (!haproxyVersion) {
      notes.push('HAProxy: not installed, its rows are missing (Debian/Ubuntu: apt-get install haproxy)');
    } else {
      await writeFile(`${dir}/haproxy.cfg`, haproxyConfig(haproxyHost, task));
      const child = spawn('haproxy', ['-db', '-q', '-f', `${dir}/haproxy.cfg`], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      pids.haproxy = child.pid;
      await accepting(haproxyHost, PORTS['haproxy tcp'], child, 'HAProxy');
      await accepting(haproxyHost, PORTS['haproxy http'], child, 'HAProxy');
      urls['haproxy tcp'] = `http://${haproxyHost}:${PORTS['haproxy tcp']}/`;
      urls['haproxy http'] = `http://${haproxyHost}:${PORTS['haproxy http']}/`;
      notes.push(`${haproxyVersion}: nbthread 1, at ${haproxyHost}; mode tcp on ${PORTS['haproxy tcp']}, mode http (keep-alive, http-reuse always) on ${PORTS['haproxy http']}`);
    }

    const nginxBuild = await output('nginx', ['-V']);
    if (!nginxBuild) {
      notes.push('nginx: not installed, its rows are missing (Debian/Ubuntu: apt-get install nginx libnginx-mod-stream)');
    } else {
      const nginxVersion = /nginx version: (\S+)/.exec(nginxBuild)?.[1] ?? 'nginx';
      const stream = streamModule(nginxBuild);
      await writeFile(`${dir}/nginx.conf`, nginxConfig(nginxHost, task, dir, stream));
      const child = spawn('nginx', ['-e', `${dir}/error.log`, '-p', dir, '-c', `${dir}/nginx.conf`], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      pids.nginx = child.pid;
      await accepting(nginxHost, PORTS['nginx http'], child, 'nginx');
      urls['nginx http'] = `http://${nginxHost}:${PORTS['nginx http']}/`;
      if (stream) {
        await accepting(nginxHost, PORTS['nginx stream'], child, 'nginx');
        urls['nginx stream'] = `http://${nginxHost}:${PORTS['nginx stream']}/`;
      }
      notes.push(`${nginxVersion}: 1 worker, at ${nginxHost}; http with an upstream keepalive pool of 32 on ${PORTS['nginx http']}; ` +
        (stream ? `stream on ${PORTS['nginx stream']}` : 'no stream module, so no stream row (Debian/Ubuntu: apt-get install libnginx-mod-stream)'));
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { urls, pids, notes, close };
}
