// The --publish flag in both of docker's syntaxes: published=8080,target=80[,protocol=udp][,mode=host]
// and the short 8080:80[/udp] (ranges too). Defaults as docker: tcp, ingress.
import type { ApiPortConfig } from './apiTypes.js';
import { usageError } from './errors.js';

export function parsePublish(value: string, flag = '-p, --publish'): ApiPortConfig[] {
  try {
    return /\w+=\w+(,\w+=\w+)*/.test(value) ? [parseLong(value)] : parseShort(value);
  } catch (e) {
    throw usageError(`invalid argument "${value}" for "${flag}" flag: ${(e as Error).message}`);
  }
}

function parseLong(value: string): ApiPortConfig {
  let protocol = '';
  let mode = '';
  let target = 0;
  let published: number | undefined;
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = eq === -1 ? '' : field.slice(0, eq).toLowerCase();
    const val = eq === -1 ? '' : field.slice(eq + 1).toLowerCase();
    if (key === '') throw new Error(`invalid field: ${field}`);
    switch (key) {
      case 'protocol':
        if (!['tcp', 'udp', 'sctp'].includes(val)) throw new Error(`invalid protocol value '${val}'`);
        protocol = val;
        break;
      case 'mode':
        if (val !== 'ingress' && val !== 'host') {
          throw new Error(`invalid publish mode value (${val}): must be either 'ingress' or 'host'`);
        }
        mode = val;
        break;
      case 'target':
        target = port(val);
        break;
      case 'published':
        published = port(val);
        break;
      default:
        throw new Error(`invalid field key: ${key}`);
    }
  }
  if (target === 0) throw new Error("missing mandatory field 'target'");
  return portConfig(protocol || 'tcp', target, published, mode || 'ingress');
}

function parseShort(value: string): ApiPortConfig[] {
  const slash = value.lastIndexOf('/');
  const protocol = slash === -1 ? 'tcp' : value.slice(slash + 1).toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new Error(`invalid proto: ${protocol}`);
  const spec = slash === -1 ? value : value.slice(0, slash);
  const parts = spec.split(':');
  if (parts.length > 2) throw new Error('hostip is not supported');
  const [hostPart, containerPart] = parts.length === 2 ? [parts[0]!, parts[1]!] : ['', parts[0]!];
  const targets = range(containerPart, 'containerPort');
  const published = hostPart === '' ? undefined : range(hostPart, 'hostPort');
  if (published !== undefined && published.length !== targets.length && published.length !== 1) {
    throw new Error(`invalid ranges specified for container and host Ports: ${containerPart} and ${hostPart}`);
  }
  return targets.map((t, i) => portConfig(protocol, t, published?.[published.length === 1 ? 0 : i], 'ingress'));
}

function range(text: string, what: string): number[] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (m === null) throw new Error(`invalid ${what}: ${text}`);
  const start = port(m[1]!);
  const end = m[2] === undefined ? start : port(m[2]);
  if (end < start) throw new Error(`invalid range specified for ${what}: ${text}`);
  return Array.from({ length: end - start + 1 }, (_, i) => start + i);
}

function port(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new Error(`strconv.ParseUint: parsing "${text}": ${/^\d+$/.test(text) ? 'value out of range' : 'invalid syntax'}`);
  }
  return Number(text);
}

/** Field order of Go's PortConfig; PublishedPort left out when 0 (omitempty). */
function portConfig(protocol: string, target: number, published: number | undefined, mode: string): ApiPortConfig {
  return {
    Protocol: protocol,
    TargetPort: target,
    ...(published ? { PublishedPort: published } : {}),
    PublishMode: mode,
  };
}
