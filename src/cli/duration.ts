// The CLI's duration flags: Go's syntax (shared/goDuration), refused in docker's words.
import { parseGoDuration } from '../shared/index.js';
import { usageError } from './errors.js';

/** For flags: a usage error in docker's words when the value is not a duration (or is negative). */
export function durationFlag(flag: string, value: string, { allowNegative = false } = {}): number {
  const ns = parseGoDuration(value);
  if (ns === undefined) {
    throw usageError(`invalid argument "${value}" for "--${flag}" flag: time: invalid duration "${value}"`);
  }
  if (ns < 0 && !allowNegative) {
    throw usageError(`invalid argument "${value}" for "--${flag}" flag: duration cannot be negative`);
  }
  return ns;
}
