// Where nodes keep their swarm between runs when --data-dir is not given: per user, like a daemon's
// /var/lib/docker/swarm, and per node block, so two clusters on different --subnet never share one.
import os from 'node:os';
import path from 'node:path';

/** `/var/lib/routemesh` as root, else `$XDG_STATE_HOME/routemesh` (`~/.local/state/routemesh`). */
export function stateHome(env: Record<string, string | undefined>): string {
  if (process.getuid?.() === 0) return '/var/lib/routemesh';
  const xdg = env['XDG_STATE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state'), 'routemesh');
}

/** `up`'s default: one directory per node block (127.1.0.0/24 -> 127.1.0.0-24), each node in `<dir>/<hostname>`. */
export function defaultClusterDataDir(env: Record<string, string | undefined>, subnet: string): string {
  return path.join(stateHome(env), subnet.replace('/', '-'));
}

/** `node start`'s default: one directory per node address. */
export function defaultNodeDataDir(env: Record<string, string | undefined>, address: string): string {
  return path.join(stateHome(env), address);
}
