// Small type checks shared by the spec validators; each throws a SwarmError naming the field, so a
// client learns what to fix instead of storing a value that breaks every later reader.
import { invalidArgument } from './errors.js';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An optional object of string values; absent means empty. */
export function checkStringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== 'string')) {
    throw invalidArgument(`${what} must be an object of strings, like {"key":"value"}`);
  }
  return { ...(value as Record<string, string>) };
}

/** An optional whole number of 0 or more (counts, and durations in nanoseconds). */
export function checkCount(value: unknown, what: string): void {
  if (value !== undefined && value !== null && (!Number.isInteger(value) || (value as number) < 0)) {
    throw invalidArgument(`${what} must be a whole number of 0 or more, got ${JSON.stringify(value)}`);
  }
}

export function checkOneOf(value: unknown, allowed: readonly string[], what: string): void {
  if (value !== undefined && value !== null && value !== '' && !allowed.includes(value as string)) {
    const choices = `${allowed.slice(0, -1).join(', ')} or ${allowed.at(-1)}`;
    throw invalidArgument(`${what} must be ${choices}, got ${JSON.stringify(value)}`);
  }
}
