// Which engine a command talks to: ROUTEMESH_HOST, else DOCKER_HOST, else the first node of the
// default cluster; and the check that an address is tcp://HOST:PORT, http://HOST:PORT or unix:///PATH,
// made before any request so that a typo is a usage error naming the variable, not a late getaddrinfo failure.
import { isIP } from 'node:net';
import { usageError } from './errors.js';

export const DEFAULT_ENGINE_HOST = 'tcp://127.1.0.1:2375';

export interface EngineTarget {
  /** As the user wrote it (or the default): what error messages name. */
  readonly host: string;
  /** Where requests go, e.g. http://127.1.0.1:2375 (http://localhost over a socket). */
  readonly baseUrl: string;
  /** The engine's Unix socket, for unix:///PATH. */
  readonly socketPath?: string;
}

/** The environment variable an address came from, for the error that names it. */
export type AddressSource = 'ROUTEMESH_HOST' | 'DOCKER_HOST';

export function engineTarget(env: Record<string, string | undefined>): EngineTarget {
  const own = nonEmpty(env['ROUTEMESH_HOST']);
  if (own !== undefined) return toTarget(own, 'ROUTEMESH_HOST');
  // A DOCKER_HOST of another engine's socket (docker.sock, podman.sock) or ssh://, npipe:// is the machine's
  // own engine, never a routemesh one: pass it by. One that says tcp:// or http://, or names a node's socket
  // (<IPv4>.sock, as EngineSocket names them), was meant for us, so it is checked.
  const docker = nonEmpty(env['DOCKER_HOST']);
  if (docker !== undefined && (/^(tcp|http):\/\//i.test(docker) || isNodeSocket(docker))) return toTarget(docker, 'DOCKER_HOST');
  return toTarget(DEFAULT_ENGINE_HOST);
}

/** unix:///PATH as a socket to send requests down; anything else as toBaseUrl takes it. */
export function toTarget(address: string, source: AddressSource = 'ROUTEMESH_HOST'): EngineTarget {
  const unix = /^unix:\/\/(.*)$/is.exec(address);
  if (unix === null) return { host: address, baseUrl: toBaseUrl(address, source) };
  if (!unix[1]!.startsWith('/')) return refuseAddress(address, source, 'a socket path is absolute, like unix:///run/routemesh/127.1.0.1.sock');
  return { host: address, baseUrl: 'http://localhost', socketPath: unix[1]! };
}

/**
 * tcp://HOST:PORT or http://HOST:PORT (one trailing slash allowed) as http://HOST:PORT; HOST is an IPv4
 * address, an IPv6 address in brackets or a host name, PORT 1-65535. Anything else throws a usage error
 * that says what to set. Without a port, 2375, as the docker CLI does.
 */
export function toBaseUrl(address: string, source: AddressSource = 'ROUTEMESH_HOST'): string {
  const refuse = (why: string): never => refuseAddress(address, source, why);

  const schemed = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/is.exec(address);
  if (schemed === null) return refuse('it does not start with tcp://, http:// or unix://');
  const scheme = schemed[1]!.toLowerCase();
  if (scheme === 'npipe') return refuse("npipe:// is Windows' named pipe; routemesh engines listen on TCP and Unix sockets");
  if (scheme !== 'tcp' && scheme !== 'http') return refuse(`${scheme}:// is not supported`);

  const authority = schemed[2]!.replace(/\/$/, '');
  if (/[/?#@]/.test(authority)) return refuse('an engine address has no path, user, query or fragment');
  if (isIP(authority) === 6) return refuse('an IPv6 address goes in brackets, e.g. tcp://[::1]:2375');
  // [IPv6]:PORT, or NAME:PORT split at the first colon (a second one then shows in the port).
  const bracketed = /^\[(.*)\](?::(.*))?$/.exec(authority);
  if (bracketed === null && authority.startsWith('[')) return refuse('an IPv6 address goes in brackets, e.g. tcp://[::1]:2375');
  const colon = authority.indexOf(':');
  const ipv6 = bracketed?.[1];
  const name = bracketed !== null ? '' : colon === -1 ? authority : authority.slice(0, colon);
  const port = bracketed !== null ? bracketed[2] : colon === -1 ? undefined : authority.slice(colon + 1);

  let host: string;
  if (ipv6 !== undefined) {
    if (isIP(ipv6) !== 6) return refuse(`[${ipv6}] is not an IPv6 address`);
    host = `[${ipv6}]`;
  } else if (name === '') {
    return refuse('it names no host');
  } else if (/^[\d.]+$/.test(name)) {
    // All digits and dots is meant as IPv4; the URL parser would take "127.1" or "2130706433" for one.
    if (isIP(name) !== 4) return refuse(`${name} is not an IPv4 address`);
    host = name;
  } else {
    if (!isHostName(name)) return refuse(`${name} is neither an IP address nor a host name`);
    host = name.toLowerCase();
  }

  if (port === undefined) return `http://${host}:2375`;
  if (port === '') return refuse('it has no port');
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    return refuse(`the port ${port} is not a number from 1 to 65535`);
  }
  return `http://${host}:${Number(port)}`;
}

function refuseAddress(address: string, source: AddressSource, why: string): never {
  const fix = source === 'DOCKER_HOST'
    ? 'Fix DOCKER_HOST, or set ROUTEMESH_HOST (it comes first)'
    : 'Set ROUTEMESH_HOST';
  throw usageError(`${source}=${address} is not a routemesh engine address: ${why}.\n` +
    `${fix} to tcp://HOST:PORT, http://HOST:PORT or unix:///PATH, e.g. ${DEFAULT_ENGINE_HOST} (node1 of \`routemesh up\`).`);
}

/** RFC 1123: dot-separated labels of letters, digits and inner hyphens, 63 characters each, 253 in all. */
function isHostName(name: string): boolean {
  const labels = (name.endsWith('.') ? name.slice(0, -1) : name).split('.');
  return name.length <= 253 && labels.every((l) => /^[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/i.test(l));
}

function isNodeSocket(address: string): boolean {
  const socket = /^unix:\/\/(?:.*\/)?([^/]+)\.sock$/is.exec(address);
  return socket !== null && isIP(socket[1]!) === 4;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
