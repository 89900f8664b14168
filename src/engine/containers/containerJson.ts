// Docker's JSON for a container: the summary `docker ps` lists (GET /containers/json) and the whole of
// `docker inspect` (GET /containers/{id}/json), with the status words the daemon writes ("Up 3 minutes").
import { createHash } from 'node:crypto';
import { humanDuration } from '../../shared/index.js';
import { parseImageRef } from '../../runtime/index.js';
import type { ContainerFacts, ContainerPort } from './ContainerFacts.js';
import { ZERO_TIME } from './ContainerFacts.js';

/** What moby's State.String() says: `Up 3 minutes`, `Exited (3) 2 seconds ago`, `Created`. */
export function statusText(c: ContainerFacts, now = Date.now()): string {
  switch (c.state) {
    case 'running':
      return `Up ${humanDuration(now - (c.startedAt?.getTime() ?? now))}`;
    case 'exited':
      return c.finishedAt ? `Exited (${c.exitCode}) ${humanDuration(now - c.finishedAt.getTime())} ago` : '';
    case 'removing':
      return 'Removal In Progress';
    case 'created':
      return 'Created';
  }
}

/** `repository:tag`, whatever form the reference takes (`nginx`, `docker.io/library/nginx:latest`). */
export function canonicalImage(image: string): string {
  const { repository, tag } = parseImageRef(image);
  return `${repository}:${tag}`;
}

/** A built-in image has no layers: its ID is a digest of its name, stable across runs. */
export function imageIdOf(image: string): string {
  return `sha256:${createHash('sha256').update(`routemesh-image:${canonicalImage(image)}`).digest('hex')}`;
}

/** The command as `docker ps` shows it: the words joined by spaces. */
function commandLine(c: ContainerFacts): string {
  return c.command.join(' ');
}

function networksJson(c: ContainerFacts): Record<string, unknown> {
  const networks: Record<string, unknown> = {};
  for (const [name, endpoint] of Object.entries(c.networks)) {
    networks[name] = {
      IPAMConfig: null, Links: null, Aliases: endpoint.Aliases.length ? endpoint.Aliases : null, MacAddress: '', DriverOpts: null,
      NetworkID: endpoint.NetworkID, EndpointID: c.state === 'running' ? createHash('sha256').update(`${c.id}/${name}`).digest('hex') : '',
      Gateway: endpoint.Gateway, IPAddress: endpoint.IPAddress, IPPrefixLen: endpoint.IPPrefixLen,
      IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
      // routemesh's addition: what the container really binds, on loopback.
      RoutemeshBindAddress: endpoint.BindAddress,
    };
  }
  return networks;
}

/** One entry of GET /containers/json. */
export function containerSummary(c: ContainerFacts, now = Date.now()): Record<string, unknown> {
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: imageIdOf(c.image),
    Command: commandLine(c),
    Created: Math.floor(c.created.getTime() / 1000),
    Ports: c.ports.map((p) => ({ ...(p.IP !== undefined ? { IP: p.IP } : {}), PrivatePort: p.PrivatePort, ...(p.PublicPort !== undefined ? { PublicPort: p.PublicPort } : {}), Type: p.Type })),
    Labels: { ...c.labels },
    State: c.state,
    Status: statusText(c, now),
    HostConfig: { NetworkMode: c.networkMode },
    NetworkSettings: { Networks: networksJson(c) },
    Mounts: [],
  };
}

/** `"80/tcp": [{HostIp, HostPort}]`: NetworkSettings.Ports (null for a port only exposed). */
function portMap(ports: readonly ContainerPort[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const map: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const p of ports) {
    const key = `${p.PrivatePort}/${p.Type}`;
    if (p.PublicPort === undefined) map[key] ??= null;
    else (map[key] ??= []).push({ HostIp: p.IP ?? '', HostPort: String(p.PublicPort) });
  }
  return map;
}

/** GET /containers/{id}/json: ContainerJSON, the fields the docker CLI and users read. */
export function containerInspect(c: ContainerFacts): Record<string, unknown> {
  const [path = '', ...args] = c.command;
  const exposed = Object.fromEntries(c.ports.map((p) => [`${p.PrivatePort}/${p.Type}`, {}]));
  return {
    Id: c.id,
    Created: c.created.toISOString(),
    Path: path,
    Args: args,
    State: {
      Status: c.state,
      Running: c.state === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: c.state === 'running' ? c.pid : 0,
      ExitCode: c.exitCode,
      Error: c.error,
      StartedAt: c.startedAt?.toISOString() ?? ZERO_TIME,
      FinishedAt: c.finishedAt?.toISOString() ?? ZERO_TIME,
    },
    Image: imageIdOf(c.image),
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: '',
    Name: `/${c.name}`,
    RestartCount: 0,
    Driver: 'routemesh',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      NetworkMode: c.networkMode,
      PortBindings: Object.fromEntries(Object.entries(portMap(c.ports)).filter(([, v]) => v).map(([k, v]) => [k, v])),
      AutoRemove: c.autoRemove,
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      Binds: null,
      Mounts: null,
    },
    GraphDriver: { Name: 'routemesh', Data: null },
    Mounts: [],
    Config: {
      Hostname: c.hostname,
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: !c.task,
      AttachStderr: !c.task,
      ExposedPorts: Object.keys(exposed).length ? exposed : null,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [...c.env],
      Cmd: args.length || path ? [path, ...args] : null,
      Image: c.image,
      Volumes: null,
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: { ...c.labels },
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: portMap(c.ports),
      Networks: networksJson(c),
    },
  };
}
