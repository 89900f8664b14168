// Swarm's defaults in one place (what swarmkit fills in when a spec leaves a field out), and the unit
// the API counts durations in: nanoseconds.
import type { UpdateConfig } from './model.js';

export const NANOS_PER_MS = 1_000_000;
export const NANOS_PER_SECOND = 1_000_000_000;

/** UpdateConfig and RollbackConfig alike; Delay is left out because the daemon leaves it out of inspect. */
export const DEFAULT_UPDATE_CONFIG: UpdateConfig = {
  Parallelism: 1, FailureAction: 'pause', Monitor: 5 * NANOS_PER_SECOND, MaxFailureRatio: 0, Order: 'stop-first',
};

export const DEFAULT_RESTART_DELAY = 5 * NANOS_PER_SECOND;
export const DEFAULT_STOP_GRACE_PERIOD = 10 * NANOS_PER_SECOND;

/** The dispatcher's heartbeat period; a node is Down after three missed. */
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;

/**
 * Without root, a port below 1024 moves up by this much: a task's port, a VIP's, and DNS's 53 (10053).
 * Not Swarm's (it always runs as root), but one rule users can predict.
 */
export const UNPRIVILEGED_PORT_SHIFT = 10_000;
