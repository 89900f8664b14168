// A node's event feed, as dockerd's events service: each event its parts record (the swarm's, on a
// manager; its task containers'; ...) is stamped, kept in a bounded history and handed at once to every
// feed (`GET /events`) following it. One per node, for the node's life: it outlives a leave and a rejoin.
import type { EngineEvent, EventSink } from './EventSink.js';

/** Docker's events.Message as the engine API sends it. */
export interface EventMessage extends EngineEvent {
  /** The legacy fields Docker still fills for container and image events (API < 1.52). */
  status?: string;
  id?: string;
  from?: string;
  time: number;
  /** Nanoseconds since the epoch: past 2^53, so kept exact as a bigint. */
  timeNano: bigint;
}

/**
 * Events kept for `--since`/`--until`. moby keeps 256; one `service scale web=100` on a node records 200
 * container events there, which would push the service's own events out of a history that short.
 * At about 400 bytes an event, 1024 hold less than half a MiB.
 */
export const EVENT_HISTORY = 1024;

/** One following reader: handed each new event; ended when the node stops. */
export interface EventFeed {
  message(message: EventMessage): void;
  end(): void;
}

export class EventLog implements EventSink {
  readonly #limit: number;
  /** Oldest first, at most #limit. */
  readonly #history: EventMessage[] = [];
  readonly #feeds = new Set<EventFeed>();
  #lastNano = 0n;

  constructor(limit = EVENT_HISTORY) {
    this.#limit = limit;
  }

  record(event: EngineEvent): void {
    // The wall clock, as the docker CLI's --since reads it; never twice the same time, never backwards.
    const now = BigInt(Date.now()) * 1_000_000n;
    const timeNano = now > this.#lastNano ? now : this.#lastNano + 1n;
    this.#lastNano = timeNano;
    const legacy = event.Type === 'container'
      ? { status: event.Action, id: event.Actor.ID, ...(event.Actor.Attributes.image !== undefined ? { from: event.Actor.Attributes.image } : {}) }
      : event.Type === 'image' ? { status: event.Action, id: event.Actor.ID } : {};
    const message: EventMessage = {
      ...legacy,
      Type: event.Type,
      Action: event.Action,
      Actor: { ID: event.Actor.ID, Attributes: { ...event.Actor.Attributes } },
      scope: event.scope,
      time: Number(timeNano / 1_000_000_000n),
      timeNano,
    };
    this.#history.push(message);
    if (this.#history.length > this.#limit) this.#history.shift();
    for (const feed of this.#feeds) feed.message(message);
  }

  /**
   * The kept events from `since` to `until` (nanoseconds, both included) that `include` takes, oldest
   * first. As dockerd: none when neither bound is given (a plain `docker events` starts from now).
   */
  history(since: bigint | undefined, until: bigint | undefined, include: (message: EventMessage) => boolean): EventMessage[] {
    if (since === undefined && until === undefined) return [];
    return this.#history.filter((m) => (since === undefined || m.timeNano >= since) && (until === undefined || m.timeNano <= until) && include(m));
  }

  /** Follows the events recorded from now on; the returned function stops following. */
  follow(feed: EventFeed): () => void {
    this.#feeds.add(feed);
    return () => { this.#feeds.delete(feed); };
  }

  /** How many feeds follow it now. */
  get following(): number {
    return this.#feeds.size;
  }

  /** The node stops: every feed ends (its stream closes cleanly). The history stays. */
  endFeeds(): void {
    const feeds = [...this.#feeds];
    this.#feeds.clear();
    for (const feed of feeds) feed.end();
  }
}

/** One message as Docker's JSON encoder writes it, its fields in events.Message's order and timeNano exact. */
export function eventJson(message: EventMessage): string {
  const { timeNano, ...rest } = message;
  return `${JSON.stringify(rest).slice(0, -1)},"timeNano":${timeNano}}`;
}
