// The metrics of one engine's DNS server, on a registry of their own that the engine serves. Only the
// engine holding the host's DNS answers queries, so a sum over nodes counts each query once.
import { Counter, Histogram, Registry } from 'prom-client';
import { RCODE } from '../vip-dns/index.js';
import type { AnsweredQuery } from '../vip-dns/index.js';

const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([name, code]) => [code, name]));

export class DnsMetrics {
  readonly registry = new Registry();
  readonly #queries: Counter<'type' | 'rcode'>;
  readonly #forwarded: Counter<'rcode'>;
  readonly #seconds: Histogram<'forwarded'>;

  constructor() {
    const registers = [this.registry];
    this.#queries = new Counter({
      name: 'routemesh_dns_queries_total', registers,
      help: 'Queries the embedded DNS server answered, by question type and answer code.',
      labelNames: ['type', 'rcode'],
    });
    this.#forwarded = new Counter({
      name: 'routemesh_dns_forwarded_total', registers,
      help: 'Queries for names the server does not own, sent to the upstream resolvers, by answer code (SERVFAIL when none answered).',
      labelNames: ['rcode'],
    });
    this.#seconds = new Histogram({
      name: 'routemesh_dns_answer_duration_seconds', registers,
      help: 'From a query read to its answer made: from the zone, or forwarded.',
      labelNames: ['forwarded'],
      buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1, 4],
    });
  }

  /** The DNS server's `observe` hook. */
  readonly dnsAnswered = ({ type, rcode, forwarded, seconds }: AnsweredQuery): void => {
    const code = RCODE_NAMES.get(rcode) ?? String(rcode);
    this.#queries.inc({ type, rcode: code });
    if (forwarded) this.#forwarded.inc({ rcode: code });
    this.#seconds.observe({ forwarded: String(forwarded) }, seconds);
  };
}
