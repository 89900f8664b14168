// The body of POST /containers/create (`docker run`, `docker create`), checked and reduced to what a
// routemesh container can be: refused with Docker's status codes where it asks for what routemesh lacks.
import { ApiError } from '../api/http.js';
import type { PortRequest } from './PortPublisher.js';

export interface ContainerConfig {
  image: string;
  /** Entrypoint then Cmd. */
  command: string[];
  env: string[];
  labels: Record<string, string>;
  /** `host`, `bridge` (Docker's default), or a network's name or ID. */
  network: string;
  aliases: string[];
  /** `-p`: TCP ports published on the node's address (none on the host network, where Docker discards them). */
  publish: PortRequest[];
  /** Ports the container says it listens on without publishing them (`--expose`, and `-p`'s targets). */
  exposed: number[];
  autoRemove: boolean;
}

/** What Docker checks a container name against. */
const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function checkName(name: string): string {
  if (!NAME.test(name)) throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.replace(/^\//, '');
}

function strings(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ApiError(400, `${field} must be a list of strings`);
  return value as string[];
}

/** Docker's strslice: a list of words, or one string as one word. */
function words(value: unknown, field: string): string[] {
  return typeof value === 'string' ? [value] : strings(value, field);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, `${field} must be an object`);
  return value as Record<string, unknown>;
}

/** `"80/tcp"` → 80; other protocols refused. */
function tcpPort(key: string): number {
  const match = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
  const port = Number(match?.[1]);
  if (!match || port < 1 || port > 65535) throw new ApiError(400, `invalid port specification: "${key}"`);
  if (match[2] && match[2] !== 'tcp') {
    throw new ApiError(400, `routemesh publishes and exposes TCP ports of standalone containers only, not ${key}: publish ${port}/tcp, or run the program as a service (docker service create --publish ${port}:${port}/udp)`);
  }
  return port;
}

export function parseCreateRequest(body: unknown): ContainerConfig {
  const config = object(body, 'the request body');
  const host = object(config.HostConfig, 'HostConfig');
  if (typeof config.Image !== 'string' || !config.Image) throw new ApiError(400, 'No image was specified: config.Image is required');
  if (config.Tty === true || config.OpenStdin === true || config.AttachStdin === true) {
    throw new ApiError(400, 'routemesh does not give containers a terminal or stdin (docker run -i/-t): run without -it; a foreground `docker run IMAGE CMD` streams the output and returns the exit code, `docker run -d` then `docker logs -f` follows it');
  }
  if (strings(host.Binds, 'HostConfig.Binds').length || (Array.isArray(host.Mounts) && host.Mounts.length) || Object.keys(object(config.Volumes, 'Volumes')).length) {
    throw new ApiError(400, 'routemesh does not mount volumes or binds into standalone containers (-v, --mount): use a service (docker service create --mount ...)');
  }
  const restart = object(host.RestartPolicy, 'HostConfig.RestartPolicy');
  if (restart.Name !== undefined && restart.Name !== '' && restart.Name !== 'no') {
    throw new ApiError(400, `routemesh does not restart standalone containers (--restart ${String(restart.Name)}): a service restarts its tasks (docker service create --restart-condition any)`);
  }
  const labels = object(config.Labels, 'Labels');
  if (Object.values(labels).some((v) => typeof v !== 'string')) throw new ApiError(400, 'Labels must map strings to strings');
  const mode = typeof host.NetworkMode === 'string' && host.NetworkMode !== '' && host.NetworkMode !== 'default' ? host.NetworkMode : 'bridge';
  if (mode === 'none' || mode.startsWith('container:')) {
    throw new ApiError(400, `routemesh does not run a container with --network ${mode}: give it the node's network (--network host), its bridge (the default) or an attachable network of the swarm`);
  }
  const endpoints = object(object(config.NetworkingConfig, 'NetworkingConfig').EndpointsConfig, 'NetworkingConfig.EndpointsConfig');
  const aliases = Object.values(endpoints).flatMap((e) => strings(object(e, 'EndpointsConfig').Aliases, 'Aliases'));

  const publish: PortRequest[] = [];
  for (const [key, bindings] of Object.entries(object(host.PortBindings, 'HostConfig.PortBindings'))) {
    const targetPort = tcpPort(key);
    const list = bindings === null ? [] : bindings;
    if (!Array.isArray(list)) throw new ApiError(400, 'HostConfig.PortBindings must map ports to lists');
    for (const binding of list.length ? list : [{}]) {
      const hostIp = String(object(binding, 'PortBinding').HostIp ?? '');
      if (!['', '0.0.0.0', '::'].includes(hostIp)) {
        throw new ApiError(400, `routemesh publishes a container's port on its node's own address only, not on ${hostIp}: leave the address out (-p ${String(object(binding, 'PortBinding').HostPort ?? '')}:${key.split('/')[0]})`);
      }
      const raw = String(object(binding, 'PortBinding').HostPort ?? '');
      const hostPort = raw === '' ? 0 : Number(raw);
      if (!/^\d{0,5}$/.test(raw) || hostPort > 65535) {
        throw new ApiError(400, `invalid host port "${raw}" for ${key}: routemesh publishes one port, not a range`);
      }
      publish.push({ targetPort, hostPort });
    }
  }
  const exposed = [...new Set([...Object.keys(object(config.ExposedPorts, 'ExposedPorts')).map(tcpPort), ...publish.map((p) => p.targetPort)])];
  return {
    image: config.Image,
    command: [...words(config.Entrypoint, 'Entrypoint'), ...words(config.Cmd, 'Cmd')],
    env: strings(config.Env, 'Env'),
    labels: labels as Record<string, string>,
    network: mode,
    aliases,
    publish,
    exposed,
    autoRemove: host.AutoRemove === true,
  };
}
