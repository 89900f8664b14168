// How `up` names the routemesh command in the commands it suggests: `routemesh` only when the user's
// PATH has it, else the checkout's link as the user can type it from where they are.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import { invocation } from '../../src/cli/invocation.js';

/** A checkout (bin/routemesh.js and the root's `routemesh` link to it) in a directory of the test's own. */
function checkout(t: Test, name = 'clone') {
  const top = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'routemesh-invocation-')));
  t.teardown(() => fs.rmSync(top, { recursive: true, force: true }));
  const root = path.join(top, name);
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  const script = path.join(root, 'bin', 'routemesh.js');
  fs.writeFileSync(script, '', { mode: 0o755 });
  fs.symlinkSync('bin/routemesh.js', path.join(root, 'routemesh'));
  return { top, root, script };
}

t.test('a fresh clone: ./routemesh from its root, a path from elsewhere', async (t) => {
  const { top, root, script } = checkout(t);
  const env = { PATH: '/usr/bin:/bin' };
  t.equal(invocation(script, env, root), './routemesh', 'npm start, or ./routemesh, at the root');
  t.equal(invocation(path.join(root, 'routemesh'), env, root), './routemesh', 'started through the link');
  t.equal(invocation(script, env, top), './clone/routemesh', 'from the directory above');
  fs.mkdirSync(path.join(top, 'elsewhere'));
  t.equal(invocation(script, env, path.join(top, 'elsewhere')), path.join(root, 'routemesh'), 'from outside: the absolute path');
  t.equal(invocation(script, { ...env, npm_command: 'start', INIT_CWD: path.join(root, 'bin') }, root), path.join(root, 'routemesh'),
    'npm start typed in a subdirectory: where the user is counts, not npm\'s working directory');
  fs.rmSync(path.join(root, 'routemesh'));
  t.equal(invocation(script, env, root), './bin/routemesh.js', 'no link: the script itself');
});

t.test('routemesh when the user\'s PATH runs this very file; npx routemesh under npx', async (t) => {
  const { top, root, script } = checkout(t);
  const global = path.join(top, 'global-bin');
  fs.mkdirSync(global);
  fs.symlinkSync(path.join(root, 'routemesh'), path.join(global, 'routemesh'));
  t.equal(invocation(script, { PATH: `/usr/bin:${global}` }, '/'), 'routemesh', 'npm link, a global install');
  const other = path.join(top, 'other-bin');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'routemesh'), '', { mode: 0o755 });
  t.equal(invocation(script, { PATH: other }, root), './routemesh', 'another routemesh on PATH is not this one');
  const npmBin = path.join(root, 'node_modules', '.bin');
  fs.mkdirSync(npmBin, { recursive: true });
  fs.symlinkSync(script, path.join(npmBin, 'routemesh'));
  t.equal(invocation(script, { PATH: `${npmBin}:/usr/bin`, npm_command: 'start' }, root), './routemesh', 'npm\'s own .bin on PATH is not the user\'s shell\'s');
  t.equal(invocation(script, { PATH: npmBin, npm_command: 'exec' }, root), 'npx routemesh');
  t.equal(invocation(undefined, {}, root), 'routemesh', 'no script known (an embedding program)');
});

t.test('a path the shell would split or expand is single-quoted, and the shell reads it back whole', async (t) => {
  const { top, root, script } = checkout(t, "my clone's $HOME");
  const env = { PATH: '/usr/bin:/bin' };
  fs.mkdirSync(path.join(top, 'elsewhere'));
  const absolute = invocation(script, env, path.join(top, 'elsewhere'));
  t.equal(absolute, `'${path.join(root, 'routemesh').replace("'", "'\\''")}'`, 'from outside: the absolute path, quoted');
  t.equal(execFileSync('sh', ['-c', `printf %s ${absolute}`], { encoding: 'utf8' }), path.join(root, 'routemesh'), 'sh reads back the path');
  const relative = invocation(script, env, top);
  t.equal(execFileSync('sh', ['-c', `printf %s ${relative}`], { cwd: top, encoding: 'utf8' }), `./${path.basename(root)}/routemesh`, 'a relative path too');
  t.equal(invocation(script, env, root), './routemesh', 'nothing to quote from the root');
});
