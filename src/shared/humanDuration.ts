// Go's units.HumanDuration ("29 seconds", "About a minute", "2 hours"): the words docker prints for
// task and update ages, and for containers' "Up 3 minutes". Callers add " ago" and lower-case it where docker does.

export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(ms / 3_600_000) / 24 / 365)} years`;
}

/** Milliseconds since an RFC 3339 timestamp; Go's zero time when it is missing or unreadable. */
export function ageMs(timestamp: string | undefined, now: number): number {
  const t = timestamp === undefined ? NaN : Date.parse(timestamp);
  const ms = now - (Number.isNaN(t) ? GO_ZERO_TIME_MS : t);
  // A Go Duration saturates at about 292 years, which is what docker shows for a missing timestamp.
  return Math.max(-MAX_DURATION_MS, Math.min(MAX_DURATION_MS, ms));
}

const MAX_DURATION_MS = 9_223_372_036_854.775;

/** 0001-01-01T00:00:00Z, what Go decodes a missing timestamp to. */
const GO_ZERO_TIME_MS = -62135596800000;
