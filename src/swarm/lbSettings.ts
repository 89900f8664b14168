// How a service's connections are balanced, set with service labels (the convention Traefik users know,
// so the docker CLI sets them too: `--label routemesh.lb.algorithm=least-conn`). Read once per change,
// checked at create and update: a bad value is refused naming the label and what it may be.
import { formatGoDuration, parseGoDuration } from '../shared/index.js';
import { ipToInt } from '../vip-dns/index.js';
import { NANOS_PER_MS } from './defaults.js';
import { invalidArgument } from './errors.js';
import { MAX_TIMEOUT_MS } from './timer.js';

export const ALGORITHMS = ['round-robin', 'weighted', 'least-conn', 'p2c', 'source-hash'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface OutlierSettings {
  /** Connect failures in a row that eject a backend; 0 turns ejection off. */
  consecutiveFailures: number;
  /** The first ejection's length; each further one of the same backend is longer by as much. */
  baseEjectionMs: number;
  maxEjectionMs: number;
  /** Never more than this share of a pool is ejected at once (Envoy's max_ejection_percent). */
  maxEjectedPercent: number;
}

export const MODES = ['tcp', 'http'] as const;

export interface LbSettings {
  /** tcp: balance per connection (as Swarm); http: per request, over kept-alive connections to the tasks. */
  mode: (typeof MODES)[number];
  algorithm: Algorithm;
  /** Backends tried for one connection: the first and up to `retries` more. */
  retries: number;
  connectTimeoutMs: number;
  /** A connection with no bytes either way for this long is closed on both sides; 0: never. */
  idleTimeoutMs: number;
  /** http mode: the longest a task may stay silent while a request waits on it (then 504). */
  responseTimeoutMs: number;
  /** http mode: a request's head must arrive within this (then 408), as HAProxy's `timeout http-request`. */
  headerTimeoutMs: number;
  /** Open connections one listener takes at once; 0: no limit. */
  maxConnections: number;
  outlier: OutlierSettings;
  /** Send tasks a PROXY header (v1 text, v2 binary) naming the real client; absent: bytes pass as they are. */
  proxyProtocol?: 'v1' | 'v2';
  /** IPv4 ranges whose own PROXY header is believed (a load balancer in front of the mesh). */
  trustedProxies: IPv4Range[];
}

export interface IPv4Range {
  /** The first address, as an unsigned 32-bit number. */
  base: number;
  /** Addresses in the range: 2^(32 - prefix). */
  size: number;
}

/** `address` (plain or IPv4-mapped IPv6) is in one of `ranges`. */
export function inRanges(address: string, ranges: readonly IPv4Range[]): boolean {
  if (ranges.length === 0) return false;
  let n: number;
  try {
    n = ipToInt(address.startsWith('::ffff:') ? address.slice(7) : address);
  } catch {
    return false;
  }
  return ranges.some((range) => n - range.base >= 0 && n - range.base < range.size);
}

export const DEFAULT_LB_SETTINGS: LbSettings = {
  mode: 'tcp',
  algorithm: 'round-robin',
  retries: 2,
  connectTimeoutMs: 5000,
  idleTimeoutMs: 0,
  responseTimeoutMs: 60_000,
  headerTimeoutMs: 10_000,
  maxConnections: 0,
  outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000, maxEjectedPercent: 50 },
  trustedProxies: [],
};

/** The weight of a task for `weighted`: its container label, else the service's, else 1. */
const WEIGHT_LABEL = 'routemesh.lb.weight';
const MAX_WEIGHT = 1000;

type Reader = (value: string, label: string) => unknown;

/** Node's timers (setTimeout, a socket's idle timeout) fire at once past this: the longest a label may ask. */

/** Go's syntax, as Traefik's duration labels: `2m30s`, `1h30m`. `min` is 1 for a time limit (0 would mean none), 0 where 0 turns the feature off. */
const duration = (min: number): Reader => (value, label) => {
  const ns = parseGoDuration(value);
  const ms = ns === undefined ? NaN : ns / NANOS_PER_MS;
  if (!Number.isInteger(ms) || ms < min || ms > MAX_TIMEOUT_MS) {
    throw invalidArgument(`label ${label}=${value}: must be a duration like 250ms, 5s, 2m or 1h30m, in whole milliseconds, ` +
      `${min ? 'more than 0' : '0s or more'} and at most ${formatGoDuration(MAX_TIMEOUT_MS * NANOS_PER_MS)}`);
  }
  return ms;
};

const count = (min: number, max: number): Reader => (value, label) => {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw invalidArgument(`label ${label}=${value}: must be a whole number from ${min} to ${max}`);
  }
  return Number(value);
};

const ranges: Reader = (value, label) => value.split(',').map((item) => {
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?$/.exec(item.trim());
  const prefix = match ? Number(match[2] ?? 32) : NaN;
  let base = NaN;
  try {
    if (match && prefix <= 32) base = ipToInt(match[1]!);
  } catch { /* refused below */ }
  if (!Number.isFinite(base)) throw invalidArgument(`label ${label}=${value}: must be IPv4 addresses or ranges, comma-separated, like 10.0.0.0/8,192.168.1.10`);
  const size = 2 ** (32 - prefix);
  return { base: base - (base % size), size };
});

const oneOf = (allowed: readonly string[]): Reader => (value, label) => {
  if (!allowed.includes(value)) throw invalidArgument(`label ${label}=${value}: must be one of ${allowed.join(', ')}`);
  return value;
};

/** Every label routemesh reads, what it sets, and how its value is read. */
const LABELS: Record<string, { read: Reader; set: (s: LbSettings, v: unknown) => void }> = {
  'routemesh.lb.mode': { read: oneOf(MODES), set: (s, v) => { s.mode = v as LbSettings['mode']; } },
  'routemesh.lb.algorithm': { read: oneOf(ALGORITHMS), set: (s, v) => { s.algorithm = v as Algorithm; } },
  'routemesh.lb.retries': { read: count(0, 10), set: (s, v) => { s.retries = v as number; } },
  'routemesh.lb.connect-timeout': { read: duration(1), set: (s, v) => { s.connectTimeoutMs = v as number; } },
  'routemesh.lb.idle-timeout': { read: duration(0), set: (s, v) => { s.idleTimeoutMs = v as number; } },
  'routemesh.lb.response-timeout': { read: duration(1), set: (s, v) => { s.responseTimeoutMs = v as number; } },
  'routemesh.lb.header-timeout': { read: duration(1), set: (s, v) => { s.headerTimeoutMs = v as number; } },
  'routemesh.lb.max-connections': { read: count(0, 1_000_000), set: (s, v) => { s.maxConnections = v as number; } },
  'routemesh.lb.outlier.consecutive-failures': { read: count(0, 1000), set: (s, v) => { s.outlier.consecutiveFailures = v as number; } },
  'routemesh.lb.outlier.base-ejection': { read: duration(1), set: (s, v) => { s.outlier.baseEjectionMs = v as number; } },
  'routemesh.lb.outlier.max-ejection': { read: duration(1), set: (s, v) => { s.outlier.maxEjectionMs = v as number; } },
  'routemesh.lb.outlier.max-ejected-percent': { read: count(0, 100), set: (s, v) => { s.outlier.maxEjectedPercent = v as number; } },
  'routemesh.proxy-protocol': { read: oneOf(['v1', 'v2']), set: (s, v) => { s.proxyProtocol = v as 'v1' | 'v2'; } },
  'routemesh.proxy-protocol.trusted': { read: ranges, set: (s, v) => { s.trustedProxies = v as IPv4Range[]; } },
  [WEIGHT_LABEL]: { read: count(1, MAX_WEIGHT), set: () => {} },
};

/**
 * The settings a service's labels ask for, over the defaults. Throws an invalid-argument SwarmError for a
 * bad value, or for an unknown `routemesh.*` label (a typo would otherwise be silently ignored).
 */
export function lbSettings(labels: Readonly<Record<string, string>> = {}): LbSettings {
  const settings: LbSettings = structuredClone(DEFAULT_LB_SETTINGS);
  for (const [label, value] of Object.entries(labels)) {
    if (!label.startsWith('routemesh.')) continue;
    const known = LABELS[label];
    if (known) {
      known.set(settings, known.read(value.trim(), label));
      continue;
    }
    throw invalidArgument(`label ${label} is not one routemesh knows: it reads ${Object.keys(LABELS).join(', ')}`);
  }
  if (settings.mode === 'http' && settings.proxyProtocol) {
    // A kept-alive connection to a task carries requests of many clients: no one header can name them.
    throw invalidArgument('label routemesh.proxy-protocol is for tcp mode: in http mode (routemesh.lb.mode=http) tasks learn the client from X-Forwarded-For and Forwarded');
  }
  const { outlier } = settings;
  if (outlier.maxEjectionMs < outlier.baseEjectionMs) {
    // A base ejection longer than the default cap raises the cap; one the user set is refused.
    if (labels['routemesh.lb.outlier.max-ejection'] === undefined) outlier.maxEjectionMs = outlier.baseEjectionMs;
    else throw invalidArgument(`label routemesh.lb.outlier.max-ejection must be at least routemesh.lb.outlier.base-ejection (${outlier.baseEjectionMs}ms)`);
  }
  return settings;
}

/** Container labels routemesh reads: only the weight; any other `routemesh.*` one is a mistake to refuse. */
export function checkContainerLabels(labels: Readonly<Record<string, string>> | undefined): void {
  for (const label of Object.keys(labels ?? {})) {
    if (label.startsWith('routemesh.') && label !== WEIGHT_LABEL) {
      throw invalidArgument(`container label ${label}: routemesh reads only ${WEIGHT_LABEL} from container labels; balancing labels go on the service (--label)`);
    }
  }
  weightOf(labels, undefined);
}

/** A task's weight: `routemesh.lb.weight` of its container labels, else of the service's labels, else 1. */
export function weightOf(containerLabels: Readonly<Record<string, string>> | undefined, serviceLabels: Readonly<Record<string, string>> | undefined): number {
  const text = containerLabels?.[WEIGHT_LABEL] ?? serviceLabels?.[WEIGHT_LABEL];
  return text === undefined ? 1 : (count(1, MAX_WEIGHT)(text.trim(), WEIGHT_LABEL) as number);
}
