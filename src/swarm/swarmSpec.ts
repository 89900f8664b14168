// The swarm's own settings (POST /swarm/update, `docker swarm update`): checked as the daemon and swarmkit
// check them, then kept whole, as the daemon replaces the spec it is sent. routemesh applies the task history
// limit and the dispatcher's heartbeat period; the rest is stored and shown as given.
import type { SwarmSpec } from './model.js';
import { SwarmError, invalidArgument } from './errors.js';
import { isObject } from './specChecks.js';
import { canonicalSwarmSpec } from './specSchema.js';
import { NANOS_PER_MS, NANOS_PER_SECOND } from './defaults.js';

const HOUR = 3600 * NANOS_PER_SECOND;
/** swarmkit's ca.DefaultNodeCertExpiration (90 days), what a spec without an expiry gets. */
const DEFAULT_NODE_CERT_EXPIRY = 2160 * HOUR;
/** swarmkit's ca.MinNodeCertExpiration. */
const MIN_NODE_CERT_EXPIRY = HOUR;
/** swarmkit keeps the Raft ticks as uint32. */
const MAX_TICK = 0xffffffff;

/** What `swarm init` starts with (swarmkit's defaults), with the heartbeat period the cluster was started with. */
export function defaultSwarmSpec(heartbeatPeriodMs: number): SwarmSpec {
  return {
    Name: 'default',
    Labels: {},
    Orchestration: { TaskHistoryRetentionLimit: 5 },
    Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
    Dispatcher: { HeartbeatPeriod: heartbeatPeriodMs * NANOS_PER_MS },
    CAConfig: { NodeCertExpiry: DEFAULT_NODE_CERT_EXPIRY },
    TaskDefaults: {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}

type Section = Record<string, unknown>;

function section(spec: Section, key: string): Section {
  return (spec[key] ?? {}) as Section;
}

/** A number field Go decoded (absent or null is its zero value). */
function num(s: Section, key: string): number {
  return (s[key] as number | null | undefined) ?? 0;
}

/** One Raft tick count: Docker's int, kept by swarmkit as a uint32 (which would wrap a negative one). */
function tick(raft: Section, key: string): number {
  const value = num(raft, key);
  if (value < 0 || value > MAX_TICK) throw invalidArgument(`Raft.${key} must be a whole number from 0 to ${MAX_TICK}, got ${value}`);
  return value;
}

/** `--dispatcher-heartbeat`: none (0) keeps the period in use, as swarmkit's dispatcher does. */
function heartbeatPeriod(dispatcher: Section, current: SwarmSpec): number {
  const period = num(dispatcher, 'HeartbeatPeriod');
  if (period < 0) throw invalidArgument('heartbeat time period cannot be a negative duration');
  if (period === 0) return current.Dispatcher.HeartbeatPeriod;
  // routemesh's floor (as `up --heartbeat-period`'s): every node beats on a timer, and a shorter one only burns CPU.
  if (period < NANOS_PER_MS) throw invalidArgument(`Dispatcher.HeartbeatPeriod must be at least 1ms (1000000 ns), got ${period} ns`);
  return period;
}

/** `--cert-expiry`: none (0) is swarmkit's default of 90 days; less than its minimum is refused, in its words. */
function certExpiry(ca: Section): number {
  const expiry = num(ca, 'NodeCertExpiry');
  if (expiry === 0) return DEFAULT_NODE_CERT_EXPIRY;
  if (expiry < MIN_NODE_CERT_EXPIRY) throw invalidArgument('minimum certificate expiry time is: 1h0m0s');
  return expiry;
}

/** `--external-ca`: kept, as the daemon keeps them (protocol in lower case); cfssl is the one protocol there is. */
function externalCAs(ca: Section): SwarmSpec['CAConfig']['ExternalCAs'] {
  const list = (ca.ExternalCAs ?? []) as unknown[];
  return list.map((entry, i) => {
    if (!isObject(entry)) throw invalidArgument(`CAConfig.ExternalCAs[${i}] must be an object like {"Protocol":"cfssl","URL":"https://ca.example:8888"}`);
    const protocol = String(entry.Protocol ?? '').toLowerCase();
    if (protocol !== 'cfssl') throw new SwarmError('invalid_argument', `invalid protocol: ${JSON.stringify(entry.Protocol ?? '')}: the one external CA protocol is cfssl`);
    const options = entry.Options as Record<string, string> | null | undefined;
    return { Protocol: protocol, URL: (entry.URL as string | null) ?? '', ...(options ? { Options: { ...options } } : {}), CACert: (entry.CACert as string | null) ?? '' };
  });
}

/** Root CA rotation: not done (every node's certificate would have to be issued again under the new root, and its join token's digest change). */
function checkNoRotation(ca: Section): void {
  if (ca.SigningCACert || ca.SigningCAKey || num(ca, 'ForceRotate') !== 0) {
    throw new SwarmError('invalid_argument',
      'rotating the swarm\'s root CA (docker swarm ca --rotate, CAConfig.SigningCACert/SigningCAKey/ForceRotate) is not supported: routemesh keeps the root CA the swarm was made with');
  }
}

/**
 * The spec `input` asks for, checked field by field (Go's types first, then the daemon's and swarmkit's
 * rules); throws a SwarmError naming the field. As the daemon does, a field left out takes its zero value,
 * but for the heartbeat period and certificate expiry, whose zero swarmkit reads as "not set".
 */
export function normalizeSwarmSpec(input: unknown, current: SwarmSpec): SwarmSpec {
  if (!isObject(input)) throw invalidArgument('the swarm spec must be a JSON object: send back the Spec of GET /swarm with the fields to change');
  const spec = canonicalSwarmSpec(input);
  const name = (spec.Name as string | null | undefined) || 'default';
  if (name !== 'default') throw new SwarmError('invalid_argument', 'swarm spec must be named "default"');
  const encryption = section(spec, 'EncryptionConfig');
  if (encryption.AutoLockManagers === true) {
    throw new SwarmError('invalid_argument',
      'autolock is not supported: routemesh does not encrypt the swarm\'s data directory (its owner-only file modes protect the CA key in it); leave --autolock off');
  }
  const ca = section(spec, 'CAConfig');
  checkNoRotation(ca);
  const raft = section(spec, 'Raft');
  const logDriver = section(spec, 'TaskDefaults').LogDriver as SwarmSpec['TaskDefaults']['LogDriver'] | null | undefined;
  const external = externalCAs(ca);
  return {
    Name: name,
    Labels: { ...(spec.Labels as Record<string, string> | null | undefined) },
    Orchestration: { TaskHistoryRetentionLimit: num(section(spec, 'Orchestration'), 'TaskHistoryRetentionLimit') },
    Raft: {
      SnapshotInterval: num(raft, 'SnapshotInterval'),
      KeepOldSnapshots: num(raft, 'KeepOldSnapshots'),
      LogEntriesForSlowFollowers: num(raft, 'LogEntriesForSlowFollowers'),
      ElectionTick: tick(raft, 'ElectionTick'),
      HeartbeatTick: tick(raft, 'HeartbeatTick'),
    },
    Dispatcher: { HeartbeatPeriod: heartbeatPeriod(section(spec, 'Dispatcher'), current) },
    CAConfig: { NodeCertExpiry: certExpiry(ca), ...(external?.length ? { ExternalCAs: external } : {}) },
    TaskDefaults: logDriver ? { LogDriver: structuredClone(logDriver) } : {},
    EncryptionConfig: { AutoLockManagers: false },
  };
}
