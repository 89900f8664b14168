// The checks every node's addresses pass before anything listens, for `up` and `node start` alike:
// blocks inside 127.0.0.0/8 that share no address, a DNS address outside the task and VIP blocks, and
// DNS upstreams on loopback only, since routemesh sends nothing beyond this machine's loopback.
import { parseStoreAddress } from './storeAddress.js';
import { isIPv4 } from 'node:net';
import { intToIp, ipToInt, isLoopback, parseCidr, parseDnsAddress, systemUpstreams } from '../vip-dns/index.js';
import type { Upstream } from '../vip-dns/index.js';

/** The defaults the messages suggest (`routemesh up`'s). */
export const DEFAULT_BLOCKS = { subnet: '127.1.0.0/24', taskSubnet: '127.20.0.0/16', vipSubnet: '127.10.0.0/16', dns: '127.0.0.11' };

/**
 * Where networks' loopback blocks come from unless `--network-pool` says: the upper half of the /16 of
 * the nodes' block (127.1.128.0/17 for 127.1.0.0/24), or, where that holds a block already given (a
 * `--vip-subnet` of that /16), the highest /18, /19 or /20 of it that holds none; every node of one
 * cluster, given the same flags, derives the same. Nothing free: the upper half, which checkBlocks refuses.
 */
export function defaultNetworkPool(nodeAddress: string, given: readonly string[] = []): string {
  const start = ipToInt(`127.${nodeAddress.split('.')[1]}.0.0`);
  // A malformed block is left out here: checkBlocks then says what is wrong with it.
  const taken = [...given, `${nodeAddress.split('.').slice(0, 3).join('.')}.0/24`].flatMap((text) => {
    try {
      return [parseCidr(text)];
    } catch {
      return [];
    }
  });
  for (const prefix of [17, 18, 19, 20]) {
    const size = 2 ** (32 - prefix);
    for (let base = start + 65536 - size; base >= start + size; base -= size) {
      if (taken.every((b) => b.base >= base + size || base >= b.base + b.size)) return `${intToIp(base)}/${prefix}`;
    }
  }
  return `${intToIp(start + 32768)}/17`;
}

/** The blocks whose addresses go to tasks, VIPs and networks: nothing else may take one of theirs. */
export interface AddressBlocks {
  taskSubnet: string;
  vipSubnet: string;
  networkPool: string;
}

function ownedBlocks(blocks: AddressBlocks): (readonly ['--task-subnet' | '--vip-subnet' | '--network-pool', string, string])[] {
  return [
    ['--task-subnet', blocks.taskSubnet, 'tasks'],
    ['--vip-subnet', blocks.vipSubnet, "services' VIPs"],
    ['--network-pool', blocks.networkPool, "networks' tasks and VIPs"],
  ];
}

/**
 * Node, task and VIP addresses come from blocks that must not share an address: the allocator would hand
 * a node's address to a task or a VIP, and its listeners would collide. Each block is `[flag, CIDR]`.
 */
export function checkBlocks(blocks: readonly (readonly [string, string])[]): void {
  const parsed = blocks.map(([flag, text]) => ({ flag, text, cidr: flagValue(flag, () => parseCidr(text)) }));
  for (const { flag, text, cidr } of parsed) {
    if (!isLoopback(intToIp(cidr.base)) || !isLoopback(intToIp(cidr.base + cidr.size - 1))) {
      throw new Error(`${flag} ${text} is not inside 127.0.0.0/8: routemesh's nodes, tasks and VIPs live on this machine's ` +
        `loopback, which needs no set-up on Linux; choose a block like ${DEFAULT_BLOCKS.subnet}`);
    }
  }
  parsed.forEach((a, i) => {
    for (const b of parsed.slice(i + 1)) {
      if (a.cidr.base < b.cidr.base + b.cidr.size && b.cidr.base < a.cidr.base + a.cidr.size) {
        throw new Error(`${a.flag} ${a.text} and ${b.flag} ${b.text} overlap: give each a block of its own ` +
          `(the defaults are --subnet ${DEFAULT_BLOCKS.subnet}, --task-subnet ${DEFAULT_BLOCKS.taskSubnet}, --vip-subnet ${DEFAULT_BLOCKS.vipSubnet} ` +
          `and --network-pool the upper half of the --subnet's /16, ${defaultNetworkPool(DEFAULT_BLOCKS.subnet)})`);
      }
    }
  });
}

/** A node's own address: on loopback, outside the task, VIP and network blocks (their addresses go to tasks and VIPs). */
export function checkNodeAddress(address: string, blocks: AddressBlocks): void {
  if (!isIPv4(address) || !isLoopback(address)) {
    throw new Error(`--address ${address} is not an IPv4 address in 127.0.0.0/8: routemesh's nodes live on this machine's loopback; choose one like 127.1.0.4`);
  }
  // The node's own address first: inside a block, it is what to change, whatever else overlaps.
  const ip = ipToInt(address);
  for (const [flag, text, what] of ownedBlocks(blocks)) {
    const { base, size } = flagValue(flag, () => parseCidr(text));
    if (ip >= base && ip < base + size) throw new Error(`--address ${address} is inside ${flag} ${text}, whose addresses go to ${what}: choose one outside it`);
  }
  checkBlocks(ownedBlocks(blocks).map(([flag, text]) => [flag, text] as const));
}

/** The DNS server listens on loopback, outside the task, VIP and network blocks, whose addresses go to tasks and services. */
export function checkDnsAddress(address: string, blocks: AddressBlocks): void {
  if (!isLoopback(address)) throw new Error(`--dns ${address} is not a loopback address: choose one in 127.0.0.0/8 (Swarm's is ${DEFAULT_BLOCKS.dns})`);
  if (!isIPv4(address)) return;
  const ip = ipToInt(address);
  for (const [flag, text, what] of ownedBlocks(blocks)) {
    const { base, size } = parseCidr(text);
    if (ip >= base && ip < base + size) {
      throw new Error(`--dns ${address} is inside ${flag} ${text}, whose addresses go to ${what}: ` +
        `choose a DNS address outside the task, VIP and network blocks (Swarm's is ${DEFAULT_BLOCKS.dns})`);
    }
  }
}

/** An upstream the user named: routemesh sends to nothing beyond this machine's loopback. */
export function loopbackUpstream(text: string): Upstream {
  const upstream = flagValue('--dns-upstream', () => parseDnsAddress(text));
  if (!isLoopback(upstream.address)) {
    throw new Error(`--dns-upstream: '${text}' is not on loopback: routemesh forwards names only to a resolver on this machine's loopback ` +
      '(127.0.0.0/8 or ::1), such as systemd-resolved at 127.0.0.53 or a local dnsmasq');
  }
  return upstream;
}

/**
 * /etc/resolv.conf's resolvers on loopback (systemd-resolved's 127.0.0.53, a local dnsmasq). Others are
 * left out, and said so: routemesh sends nothing beyond this machine's loopback.
 */
export function hostUpstreams(log?: (line: string) => void): Upstream[] {
  const all = systemUpstreams();
  const local = all.filter((u) => isLoopback(u.address));
  const skipped = all.filter((u) => !local.includes(u)).map((u) => u.address);
  if (skipped.length) {
    log?.(`DNS: /etc/resolv.conf's ${skipped.join(', ')} ${skipped.length > 1 ? 'are' : 'is'} not on loopback, and routemesh ` +
      'sends nothing beyond it: other names get SERVFAIL unless --dns-upstream names a resolver on 127.0.0.0/8 or ::1');
  }
  return local;
}

/**
 * What a node process checks of its addressing before it starts, as a one-process cluster checks it: `up`
 * for its nodes' block before it starts any (`subnet`), a node for its own `address`.
 */
export function checkAddressing(options: { subnet?: string; address?: string; taskSubnet: string; vipSubnet: string; networkPool?: string | undefined; dns: string; dnsUpstreams?: string[] | undefined; store?: string | undefined }): void {
  if (options.store !== undefined) parseStoreAddress(options.store);
  const networkPool = options.networkPool ??
    defaultNetworkPool(options.subnet ?? options.address ?? DEFAULT_BLOCKS.subnet, [options.taskSubnet, options.vipSubnet]);
  const blocks = { ...options, networkPool };
  if (options.subnet !== undefined) {
    checkBlocks([['--subnet', options.subnet], ...ownedBlocks(blocks).map(([flag, text]) => [flag, text] as const)]);
  }
  if (options.address !== undefined) checkNodeAddress(options.address, blocks);
  checkDnsAddress(flagValue('--dns', () => parseDnsAddress(options.dns, 0)).address, blocks);
  options.dnsUpstreams?.forEach(loopbackUpstream);
}

/** A flag's parsed value, or its parse error with the flag's name in front. */
export function flagValue<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`);
  }
}
