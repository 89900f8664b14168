// Test support: the Debian tools some tests drive (dig, prometheus, promtool, haproxy, nginx, the docker CLI,
// script, setpriv). Without one a test skips with one line naming the package that brings it, so `npm test`
// passes anywhere; on CI (CI=true), where .ci/run installs every tool, a missing one is a failure instead.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** Whether an executable named `tool` is on the PATH of `env`. */
function onPath(tool: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(path.join(dir, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Whether this is a CI run (CI=true), where .ci/run installed every tool: a missing one fails rather than skips. */
export function onCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.CI ?? '');
}

/**
 * Why a test that drives `tool` cannot run here (`<tool> not installed (Debian: apt-get install <pkg>)`),
 * or false when it can: for a whole file's `{ skip }`. Throws on CI, so the file fails there.
 */
export function missingTool(tool: string, debianPackage: string, env: NodeJS.ProcessEnv = process.env): string | false {
  if (onPath(tool, env)) return false;
  const why = `${tool} not installed (Debian: apt-get install ${debianPackage})`;
  if (onCi(env)) throw new Error(`${why}: CI installs every tool the tests drive, so a missing one is a failure`);
  return why;
}

/** What requireTool does to a test (tap's Test, or a stand-in). */
export interface ToolTest {
  plan(count: number, why: string): void;
  fail(message: string): unknown;
}

/**
 * For the first line of a test that drives `tool`: true when it is installed. Otherwise the test is
 * skipped with the reason (or fails, on CI), and false says to return at once.
 */
export function requireTool(t: ToolTest, tool: string, debianPackage: string, env: NodeJS.ProcessEnv = process.env): boolean {
  let why: string | false;
  try {
    why = missingTool(tool, debianPackage, env);
  } catch (error) {
    t.fail((error as Error).message);
    return false;
  }
  if (why) t.plan(0, why);
  return !why;
}
