// A pool of address blocks inside one larger block: hands out aligned sub-blocks of the size asked for,
// each once until it is released. The swarm gives each network one, from its network pool.
import { intToIp, ipToInt, parseCidr } from './Ipam.js';
import type { Cidr } from './Ipam.js';

export class BlockPool {
  readonly cidr: string;
  readonly #pool: Cidr;
  /** Taken blocks by their base address, with their size. */
  readonly #taken = new Map<number, number>();

  constructor(cidr: string) {
    this.cidr = cidr;
    this.#pool = parseCidr(cidr);
  }

  /** The first free aligned block of this prefix length (`127.1.128.0/24`), or undefined when none is free or it is larger than the pool. */
  allocate(prefix: number): string | undefined {
    const size = 2 ** (32 - prefix);
    if (size > this.#pool.size) return undefined;
    for (let base = this.#pool.base; base + size <= this.#pool.base + this.#pool.size; base += size) {
      if (!this.#overlaps(base, size)) {
        this.#taken.set(base, size);
        return `${intToIp(base)}/${prefix}`;
      }
    }
    return undefined;
  }

  /** Takes a block handed out before (a restored swarm's); throws if it is not in the pool or overlaps a taken one. */
  reserve(cidr: string): void {
    const { base, size } = parseCidr(cidr);
    if (base < this.#pool.base || base + size > this.#pool.base + this.#pool.size) throw new Error(`${cidr} is not inside the network pool ${this.cidr}`);
    if (this.#taken.get(base) === size) return;
    if (this.#overlaps(base, size)) throw new Error(`${cidr} overlaps another network's block in ${this.cidr}`);
    this.#taken.set(base, size);
  }

  release(cidr: string): void {
    const { base, size } = parseCidr(cidr);
    if (this.#taken.get(base) === size) this.#taken.delete(base);
  }

  #overlaps(base: number, size: number): boolean {
    for (const [b, s] of this.#taken) if (base < b + s && b < base + size) return true;
    return false;
  }
}

/**
 * The address at the same offset of another block of the same size: how a network's own subnet (as the
 * user gave it, only ever shown) maps one to one onto the loopback block its tasks really bind.
 */
export function mapAddress(address: string, from: string, to: string): string {
  const a = parseCidr(from);
  const b = parseCidr(to);
  if (a.size !== b.size) throw new Error(`${from} and ${to} are not the same size`);
  const ip = ipToInt(address);
  const offset = (ip - a.base) >>> 0;
  if (offset >= a.size) throw new Error(`${address} is not inside ${from}`);
  return intToIp(b.base + offset);
}

