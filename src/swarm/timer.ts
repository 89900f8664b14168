// The one timer behind every delay a user sets (restart delay, update delay and monitor, stop grace period,
// health interval and timeout): Node's setTimeout fires at once past 2^31-1 ms, so longer waits run in chunks.

export type Timer = { cancel(): void };
export type SetTimer = (fn: () => void, ms: number) => Timer;

/** setTimeout's largest delay; anything longer is taken as 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Fires `fn` after `ms` for any duration Docker accepts (up to 2^63 ns, ~292 years). */
export const realTimer: SetTimer = (fn, ms) => {
  let remaining = Math.max(ms, 0);
  let handle: NodeJS.Timeout;
  const arm = (): void => {
    const chunk = Math.min(remaining, MAX_TIMEOUT_MS);
    remaining -= chunk;
    handle = setTimeout(remaining > 0 ? arm : fn, chunk);
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
};
