// GET /events: what `docker events` and `docker system events` read. The node's kept events from
// `since` to `until`, then, unless `until` has passed, each new one as it is recorded, one JSON object a
// line, until the client goes, `until` comes, or the node stops (then the stream ends cleanly).
import { realTimer } from '../../swarm/index.js';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';
import { parseFilters } from './filters.js';
import { eventFilter } from './eventFilter.js';
import { eventJson } from '../EventLog.js';
import type { EventMessage } from '../EventLog.js';

/** A follower this far behind (bytes it has not read) is cut off, rather than kept in memory without end. */
const MAX_UNREAD_BYTES = 8 << 20;
const INT64_MAX = 2n ** 63n - 1n;

export function eventRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/events$/, (r) => {
    const sinceText = r.query.get('since');
    const untilText = r.query.get('until');
    const since = eventTime(sinceText);
    const until = eventTime(untilText);
    if (until !== undefined && until < (since ?? 0n)) {
      throw new ApiError(400, `\`since\` time (${sinceText ?? ''}) cannot be after \`until\` time (${untilText})`);
    }
    const include = eventFilter(parseFilters(r.query.get('filters'), 'any'));
    const { res } = r;
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json');
    res.flushHeaders();
    const write = (message: EventMessage): void => {
      if (res.destroyed) return;
      res.write(`${eventJson(message)}\n`);
      if (res.writableLength > MAX_UNREAD_BYTES) res.destroy();
    };
    for (const message of engine.events.history(since, until, include)) write(message);
    const now = BigInt(Date.now()) * 1_000_000n;
    if (until !== undefined && until < now) {
      res.end();
      return undefined;
    }
    const stopFollowing = engine.events.follow({ message: (m) => { if (include(m)) write(m); }, end: () => finish() });
    const timer = until === undefined ? undefined : realTimer(() => finish(), Number((until - now) / 1_000_000n) + 1);
    const finish = (): void => {
      stopFollowing();
      timer?.cancel();
      if (!res.writableEnded) res.end();
    };
    res.once('close', finish);
    return undefined;
  });
}

/**
 * `since`/`until` in nanoseconds, as moby's timetypes.ParseTimestamps reads them: Unix seconds with an
 * optional fraction (the docker CLI turns RFC 3339 times and durations like `10m` into that); absent: none.
 */
export function eventTime(text: string | null): bigint | undefined {
  if (text === null || text === '') return undefined;
  const dot = text.indexOf('.');
  const seconds = dot < 0 ? text : text.slice(0, dot);
  const fraction = dot < 0 ? undefined : text.slice(dot + 1);
  const s = parseInt64(seconds);
  if (fraction === undefined) return s * 1_000_000_000n;
  const digits = parseInt64(fraction);
  // As moby: the fraction's digits scaled to nanoseconds, whatever their number.
  const nanos = fraction.length <= 9 ? digits * 10n ** BigInt(9 - fraction.length) : digits / 10n ** BigInt(fraction.length - 9);
  return s * 1_000_000_000n + nanos;
}

/** Go's strconv.ParseInt(text, 10, 64), with its errors. */
function parseInt64(text: string): bigint {
  if (!/^[+-]?\d+$/.test(text)) throw new ApiError(400, `strconv.ParseInt: parsing ${JSON.stringify(text)}: invalid syntax`);
  const value = BigInt(text);
  if (value > INT64_MAX || value < -INT64_MAX - 1n) throw new ApiError(400, `strconv.ParseInt: parsing ${JSON.stringify(text)}: value out of range`);
  return value;
}
