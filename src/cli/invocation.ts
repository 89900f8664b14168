// How the user runs this command from another terminal, for the commands `up` suggests: a fresh clone
// has no `routemesh` on its PATH, so hints must say `./routemesh` there.
import fs from 'node:fs';
import path from 'node:path';

const NAME = 'routemesh';

/**
 * The rule: run through npx, `npx routemesh`; when a `routemesh` on the user's PATH runs this very file
 * (npm link, a global install), `routemesh`; else the checkout's `routemesh` link (or, without one, this
 * file) as a path from the user's directory (`./routemesh` at the checkout's root), absolute from elsewhere,
 * single-quoted when the shell would split or expand it (a checkout under `My Projects`).
 * Under npm (`npm start`) the directory the user typed in is INIT_CWD, and npm's own node_modules/.bin
 * entries on PATH are not the user's shell's.
 */
export function invocation(script: string | undefined, env: Readonly<Record<string, string | undefined>>, cwd: string): string {
  if (env['npm_command'] === 'exec') return `npx ${NAME}`;
  const real = realpath(script);
  if (real === undefined) return NAME;
  const underNpm = env['npm_command'] !== undefined;
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (!dir || (underNpm && path.basename(dir) === '.bin')) continue;
    if (realpath(path.join(dir, NAME)) === real) return NAME;
  }
  // bin/routemesh.js of a checkout, whose root holds the `routemesh` link to it.
  const link = path.join(path.dirname(path.dirname(real)), NAME);
  const target = realpath(link) === real ? link : real;
  const relative = path.relative(env['INIT_CWD'] ?? cwd, target);
  return shellWord(relative.startsWith('..') || path.isAbsolute(relative) ? target : `./${relative}`);
}

/** The path as one word a POSIX shell reads back as it is. */
export function shellWord(file: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(file) ? file : `'${file.replaceAll("'", "'\\''")}'`;
}

function realpath(file: string | undefined): string | undefined {
  try {
    return file === undefined ? undefined : fs.realpathSync(file);
  } catch {
    return undefined;
  }
}
