// An address pool over one IPv4 CIDR block: hands out each address once until it is released.
// Knows nothing of what the addresses are for; callers (the swarm allocator) decide.

export class IpamError extends Error {
  override readonly name = 'IpamError';
  readonly code = 'POOL_EXHAUSTED';
}

export function ipToInt(ip: string): number {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new Error(`'${ip}' is not an IPv4 address`);
  const parts = ip.split('.').map(Number);
  if (parts.some((p) => p > 255)) throw new Error(`'${ip}' is not an IPv4 address`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  base: number;
  prefix: number;
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, bits, ...rest] = cidr.split('/');
  const prefix = /^\d{1,2}$/.test(bits ?? '') ? Number(bits) : NaN;
  if (!ip || rest.length || !(prefix >= 8 && prefix <= 30)) {
    throw new Error(`'${cidr}' is not a CIDR block like 127.20.0.0/16 (prefix between /8 and /30)`);
  }
  const size = 2 ** (32 - prefix);
  const base = (ipToInt(ip) & ~(size - 1)) >>> 0;
  return { base, prefix, size };
}

export class Ipam {
  readonly cidr: string;
  readonly prefix: number;
  #first: number;
  #last: number;
  #next: number;
  #inUse = new Set<number>();

  /** Skips the block's first two addresses (network and, as in Docker's pools, the gateway) and its last. */
  constructor(cidr: string) {
    const { base, prefix, size } = parseCidr(cidr);
    this.cidr = cidr;
    this.prefix = prefix;
    this.#first = base + 2;
    this.#last = base + size - 2;
    this.#next = this.#first;
  }

  /** Next free address, scanning forward from the last one handed out so released ones are reused late. */
  allocate(): string {
    const span = this.#last - this.#first + 1;
    // A full pool says so at once: scanning it would cost every caller that waits for an address the whole block.
    for (let i = 0; i < span && this.#inUse.size < span; i++) {
      const candidate = this.#first + ((this.#next - this.#first + i) % span);
      if (!this.#inUse.has(candidate)) {
        this.#inUse.add(candidate);
        this.#next = candidate + 1 > this.#last ? this.#first : candidate + 1;
        return intToIp(candidate);
      }
    }
    throw new IpamError(`address pool ${this.cidr} is exhausted: remove services or tasks, or choose a larger block`);
  }

  /** Marks an address taken that was handed out before (a swarm restored from its data directory). */
  reserve(ip: string): void {
    const n = ipToInt(ip);
    if (n < this.#first || n > this.#last) throw new Error(`${ip} is not an address of pool ${this.cidr}`);
    this.#inUse.add(n);
  }

  release(ip: string): void {
    this.#inUse.delete(ipToInt(ip));
  }

  get used(): number {
    return this.#inUse.size;
  }
}
