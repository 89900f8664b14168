// A `POST /networks/create` body (Docker's NetworkCreateRequest) checked and turned into what the swarm
// keeps: overlay networks for the swarm, bridge networks for one node's standalone containers.
import { intToIp, ipToInt, parseCidr } from '../vip-dns/index.js';
import { SwarmError, invalidArgument } from './errors.js';
import { checkStringMap, isObject } from './specChecks.js';

/** swarmkit's rule for object names: one DNS label (a network's name is a DNS suffix, `<service>.<network>`). */
const NAME = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

/** Names Docker keeps for its own networks. */
export const PREDEFINED_NETWORKS = ['ingress', 'bridge', 'host', 'none'] as const;

export interface NetworkRequest {
  Name: string;
  Driver: 'overlay' | 'bridge';
  Attachable: boolean;
  Internal: boolean;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  /** As given; absent: the swarm picks one of its default pool. */
  Subnet?: string;
  Gateway?: string;
}

function bad(message: string): SwarmError {
  return new SwarmError('invalid_argument', message);
}

export function normalizeNetworkRequest(input: unknown): NetworkRequest {
  if (!isObject(input)) throw bad('the network must be a JSON object, like {"Name":"mynet","Driver":"overlay"}');
  const name = input.Name;
  if (typeof name !== 'string' || name === '') throw bad('network name must be given');
  if (!NAME.test(name) || name.length > 63) {
    throw invalidArgument(`name must be valid as a DNS name component: '${name}' may use only letters, digits, '-' and '_', ` +
      'start and end with a letter or digit, and be up to 63 characters long');
  }
  const driver = input.Driver === undefined || input.Driver === '' ? 'bridge' : input.Driver;
  if (driver !== 'overlay' && driver !== 'bridge') {
    throw new SwarmError('not_found', `plugin "${String(driver)}" not found: routemesh's networks are overlay (for the swarm) or bridge (for one node's containers)`);
  }
  if (input.Ingress === true) throw bad('routemesh has one ingress network, made with the swarm: create an overlay network without --ingress');
  if (input.EnableIPv6 === true) throw bad('routemesh networks are IPv4 only (they live on 127.0.0.0/8): create it without --ipv6');
  if (input.ConfigOnly === true || (isObject(input.ConfigFrom) && input.ConfigFrom.Network)) {
    throw bad('routemesh does not support --config-only or --config-from networks: give the subnet with --subnet');
  }
  const ipam = isObject(input.IPAM) ? input.IPAM : {};
  if (ipam.Driver !== undefined && ipam.Driver !== '' && ipam.Driver !== 'default') {
    throw new SwarmError('not_found', `plugin "${String(ipam.Driver)}" not found: routemesh's IPAM driver is default`);
  }
  const configs = Array.isArray(ipam.Config) ? ipam.Config : [];
  if (configs.length > 1) throw bad('routemesh networks have one subnet: give --subnet once');
  const config: Record<string, unknown> = isObject(configs[0]) ? configs[0] : {};
  if (config.IPRange || (isObject(config.AuxiliaryAddresses) && Object.keys(config.AuxiliaryAddresses).length)) {
    throw bad('routemesh does not support --ip-range or --aux-address: tasks get addresses from the whole --subnet');
  }
  const request: NetworkRequest = {
    Name: name,
    Driver: driver,
    Attachable: input.Attachable === true,
    Internal: input.Internal === true,
    Labels: checkStringMap(input.Labels, 'Labels'),
    Options: checkStringMap(input.Options, 'Options'),
  };
  if (config.Subnet !== undefined && config.Subnet !== '') request.Subnet = checkSubnet(config.Subnet);
  if (config.Gateway !== undefined && config.Gateway !== '') {
    if (!request.Subnet) throw bad('a gateway needs a subnet: give --subnet with --gateway');
    request.Gateway = checkGateway(config.Gateway, request.Subnet);
  }
  return request;
}

function checkSubnet(value: unknown): string {
  const text = String(value);
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(text)) throw bad(`invalid subnet ${text}: give an IPv4 CIDR like 10.0.9.0/24`);
  let cidr;
  try {
    cidr = parseCidr(text);
  } catch {
    throw bad(`invalid subnet ${text}: give an IPv4 CIDR with a prefix between /8 and /30, like 10.0.9.0/24`);
  }
  // Docker refuses a subnet with host bits set less kindly; the base address is what it means.
  if (`${intToIp(cidr.base)}/${cidr.prefix}` !== text) throw bad(`invalid subnet ${text}: it has host bits set; did you mean ${intToIp(cidr.base)}/${cidr.prefix}?`);
  return text;
}

function checkGateway(value: unknown, subnet: string): string {
  const text = String(value);
  const { base, size } = parseCidr(subnet);
  let ip: number;
  try {
    ip = ipToInt(text);
  } catch {
    throw bad(`invalid gateway ${text}: give an IPv4 address inside ${subnet}`);
  }
  if (ip <= base || ip >= base + size - 1) throw bad(`invalid gateway ${text}: it is not a host address of ${subnet}`);
  return text;
}
