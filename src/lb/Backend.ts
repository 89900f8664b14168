import type { FaultyLink } from './FaultyLink.js';

// One place a balancer can send a connection: an address and port, and whether it takes new
// connections. `fenced` is a real state (Traefik's "terminating but serving"): open connections go on, new ones go elsewhere.

export type BackendState = 'up' | 'fenced';

/** Where a backend stands, as metrics and pool reports name it: fenced splits into unhealthy and draining (stopping). */
export const MEMBER_STATES = ['serving', 'draining', 'unhealthy', 'ejected'] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

export class Backend {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  state: BackendState = 'up';
  /** Connections open through this backend right now. */
  active = 0;
  /** Connections ever handed to this backend. */
  total = 0;
  /** Its share under weighted balancing, relative to the others of its pool. */
  weight = 1;
  /** Fenced for a failing health check (rather than stopping). */
  unhealthy = false;
  /** Failures since its last success (failed connects; in http mode 5xx answers too): what outlier detection counts. */
  consecutiveFailures = 0;
  /** Its ejection level: each ejection lasts longer than the one before; a long healthy run lowers it. */
  ejections = 0;
  /** Times it was ever ejected (never lowered: what tells a new ejection from the last). */
  timesEjected = 0;
  /** While the clock is below this, it is ejected: no new connections (0: not ejected). */
  ejectedUntil = 0;
  /** When its last ejection ended (0: never ejected); a long healthy run after it earns back a step. */
  returnedAt = 0;
  /** The fault injected on the way to it; undefined (no fault) is the straight way. */
  link: FaultyLink | undefined = undefined;

  /**
   * How busy it looks to least-conn and p2c: open connections plus failures in a row, for its
   * weight. A backend that refuses connects closes them at once, so by open connections alone it would
   * look idle and draw every new one.
   */
  get load(): number {
    return (this.active + this.consecutiveFailures) / this.weight;
  }
  /** Free-form name users know it by (a task name); the library does not read it. */
  readonly label: string;

  constructor(id: string, host: string, port: number, label = id) {
    this.id = id;
    this.host = host;
    this.port = port;
    this.label = label;
  }
}

export function memberStateOf(backend: Backend, now: number): MemberState {
  if (backend.ejectedUntil > now) return 'ejected';
  if (backend.state === 'up') return 'serving';
  return backend.unhealthy ? 'unhealthy' : 'draining';
}
