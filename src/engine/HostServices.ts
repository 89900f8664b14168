// What one engine serves for its whole host while it holds the host lock: the embedded DNS server and
// the VIPs (whose listeners the engine's mesh opens while held() says so). Every engine of a host has
// one, all naming one lock, so exactly one serves; when it stops or dies another takes over.
import { DNS_PORT, DnsServer } from '../vip-dns/index.js';
import type { DnsServerOptions, ScopeOf, ServiceRecord } from '../vip-dns/index.js';
import { UNPRIVILEGED_PORT_SHIFT } from '../swarm/index.js';
import type { DnsSink, VipHolding } from '../mesh/index.js';
import { HostLock } from './HostLock.js';

/** Where DNS goes when 53 cannot be bound (no root, or taken): the shift tasks' low ports get. */
const DNS_FALLBACK_PORT = DNS_PORT + UNPRIVILEGED_PORT_SHIFT;

export interface HostServicesOptions {
  /** The engine's hostname, for messages. */
  holder: string;
  /**
   * The DNS server; a port of 0 means 53, or if that cannot be bound 10053, or else any free port. Its
   * address and port name the host lock.
   */
  dns: DnsServerOptions;
  /** How often an engine that does not hold them tries again (HostLock's 500 ms). */
  retryMs?: number;
  log?: (line: string) => void;
}

export class HostServices implements VipHolding, DnsSink {
  readonly dnsServer: DnsServer;
  readonly #holder: string;
  readonly #lock: HostLock;
  readonly #log: (line: string) => void;
  /** `--dns ADDR:PORT` named its port: that one or none; `--dns ADDR` may fall back. */
  readonly #portFixed: boolean;
  readonly #listeners = new Set<() => void>();
  /** The DNS server is listening (or has failed to and said so) as of the lock's last take. */
  #serving: Promise<void> = Promise.resolve();
  /** start()'s own try, which says how it went itself. */
  #firstTry = false;

  constructor(options: HostServicesOptions) {
    this.#holder = options.holder;
    this.#log = options.log ?? (() => {});
    this.#portFixed = options.dns.port !== 0;
    this.dnsServer = new DnsServer({ ...options.dns, port: options.dns.port || DNS_PORT });
    this.#lock = new HostLock(`routemesh:${options.dns.address}:${options.dns.port || DNS_PORT}`, {
      ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
      log: this.#log,
    });
    this.#lock.on('held', () => {
      if (!this.#firstTry) this.#tookOver();
    });
  }

  held(): boolean {
    return this.#lock.held;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  setRecords(records: readonly ServiceRecord[], scopeOf?: ScopeOf): void {
    this.dnsServer.setRecords(records, scopeOf);
  }

  /**
   * Tries the lock (at once, so of the engines of one process the first to start gets it), and keeps
   * trying if another holds it. Resolves once the DNS server listens, if this engine got the lock; a
   * DNS server that cannot listen gives the lock up and throws, saying what to do.
   */
  async start(): Promise<void> {
    this.#firstTry = true;
    const held = await this.#lock.acquire().finally(() => { this.#firstTry = false; });
    if (!held) return;
    this.#serving = this.#listenDns();
    try {
      await this.#serving;
    } catch (error) {
      this.#serving = Promise.resolve();
      await this.close();
      throw error;
    }
    this.#changed();
  }

  /** Another engine held them, and stopped or died: this one serves now, and its mesh opens the VIPs. */
  #tookOver(): void {
    this.#serving = this.#listenDns().then(() => {
      this.#log(`${this.#holder}: took over the VIPs and the DNS server on ${this.dnsServer.address}:${this.dnsServer.port} (the engine that held them stopped)`);
    }, (error: Error) => this.#log(`${this.#holder}: holds the VIPs, but ${error.message}`));
    this.#changed();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  /**
   * A port that was asked for must be had. The default 53 falls back, when it needs root or is taken, to
   * 10053, then to any free port (tried a few times: UDP picks it, and TCP may find it taken); the log
   * says where DNS went. Any other error (an address not on this machine, say) is thrown.
   */
  async #listenDns(): Promise<void> {
    const { address, port: asked } = this.dnsServer;
    const ports = this.#portFixed ? [asked] : [DNS_PORT, DNS_FALLBACK_PORT, 0, 0, 0];
    let firstError: NodeJS.ErrnoException | undefined;
    for (const port of ports) {
      try {
        await this.dnsServer.listen(port);
        if (firstError) this.#log(`DNS: ${address}:${DNS_PORT} cannot be bound (${firstError.code}): serving on ${address}:${this.dnsServer.port}`);
        return;
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        firstError ??= e;
        if (this.#portFixed || (e.code !== 'EACCES' && e.code !== 'EADDRINUSE')) {
          throw new Error(`the DNS server cannot listen on ${address}:${port} (${e.message}): choose another address with --dns ADDR[:PORT]`);
        }
      }
    }
    throw new Error(`the DNS server cannot listen on ${address}:${DNS_PORT} (${firstError?.message}), nor on another port: choose one with --dns ADDR:PORT`);
  }

  /**
   * Stops serving and gives the lock up, in that order: another engine takes it only once the DNS port
   * is free. The engine closes its mesh (so its VIP listeners) first.
   */
  async close(): Promise<void> {
    const wasHeld = this.#lock.held;
    await this.#serving.catch(() => {});
    await this.dnsServer.close();
    await this.#lock.close();
    if (wasHeld) this.#changed();
  }
}
