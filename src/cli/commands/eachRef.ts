// docker's way with verbs that take several objects (inspect, rm, scale): each in turn, a failure kept
// as its message while the others go on, and one failure at the end that lists them all (exit 1).
import { failure } from '../errors.js';

export interface EachRefResult<T> {
  /** What the action gave for each ref that worked, in order. */
  readonly done: T[];
  readonly errors: string[];
}

/** `describe` turns a failure into its line; it may rethrow one that should stop the whole command. */
export async function eachRef<T>(
  refs: readonly string[],
  action: (ref: string) => Promise<T>,
  describe: (error: unknown, ref: string) => string = (error) => (error as Error).message,
): Promise<EachRefResult<T>> {
  const done: T[] = [];
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      done.push(await action(ref));
    } catch (error) {
      errors.push(describe(error, ref));
    }
  }
  return { done, errors };
}

export function failOnErrors(errors: readonly string[]): void {
  if (errors.length > 0) throw failure(errors.join('\n'));
}
