// The README's commands work as typed: `./routemesh` answers from the checkout with no build step and no
// npx (from anywhere, with a HOME of its own, as nobody too); every `./routemesh` line of the README names
// a verb the CLI has; the README's verbs list and `service create --help` leave out no verb and no image;
// the README points only inside the repository, and docs/ARCHITECTURE.md names files that exist.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { Test } from 'tap';
import { main } from '../src/cli/main.js';
import { nodeGroup } from '../src/cli/commands/node.js';
import { serviceGroup } from '../src/cli/commands/service.js';
import { swarmGroup } from '../src/cli/commands/swarm.js';
import { catalogue } from '../src/runtime/catalogue.js';
import { requireTool } from './support/tools.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const NOBODY = 65534;

/** `main(argv)` in this process, with what it printed. */
async function help(t: Test, argv: string[]): Promise<string> {
  let text = '';
  const stdout = { write: (s: string) => { text += s; } };
  t.equal(await main(argv, { stdout, stderr: stdout, env: {}, isTTY: false }), 0, `routemesh ${argv.join(' ')} exits 0`);
  return text;
}

/** `file args` in a clean environment (`env -i`, so not even tap's hooks reach it) with a HOME of its own. */
function run(command: string[], cwd: string, home: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('env', ['-i', `PATH=${process.env.PATH}`, `HOME=${home}`, ...command], { cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The lines of the README's `sh` blocks that run `./routemesh`, each cut before its first flag or argument's value. */
function readmeCommands(): string[][] {
  const blocks = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return blocks.flatMap((b) => b.split('\n')).filter((l) => l.startsWith('./routemesh ')).map((line) => {
    const words = line.replace(/#.*/, '').trim().split(/\s+/).slice(1);
    return words.slice(0, words.findIndex((w) => w.startsWith('-') || /[=:]/.test(w)) >>> 0).slice(0, 2);
  });
}

t.test('service create --help names every image the runtime has', async (t) => {
  const text = await help(t, ['service', 'create', '--help']);
  for (const repository of catalogue.keys()) t.match(text, new RegExp(`(^|[ ,])${repository.replace('/', '\\/')}([:, \\n]|$)`, 'm'), repository);
  t.match(text, 'madvirus/simplenode:0.1|0.2', "simplenode's two tags");
  const table = README.slice(README.indexOf('## Images'), README.indexOf('## How it is built'));
  for (const repository of catalogue.keys()) t.match(table, `| \`${repository}`, `the README's image table has ${repository}`);
});

t.test("the README's verbs list and each group's help name every verb, node fail and recover too", async (t) => {
  const verbs = README.slice(README.indexOf('The other verbs:'), README.indexOf('### With the docker CLI')).replace(/\s+/g, ' ');
  for (const group of [nodeGroup, serviceGroup, swarmGroup]) {
    const listed = new RegExp(`\`${group.name} ([a-z-]+(?: \\| [a-z-]+)*)\``).exec(verbs)?.[1]?.split(' | ');
    t.same(listed?.sort(), group.commands.map((c) => c.name).sort(), `README: ${group.name}'s verbs`);
    const text = await help(t, [group.name, '--help']);
    for (const command of group.commands) t.match(text, new RegExp(`^  ${command.name} +\\S`, 'm'), `${group.name} --help lists ${command.name}`);
  }
  t.ok(['fail', 'recover'].every((v) => nodeGroup.commands.some((c) => c.name === v)), 'node fail and node recover are verbs');
});

t.test('./routemesh answers from the checkout as the README types it: no build step, no npx', async (t) => {
  const home = mkdtempSync(path.join(tmpdir(), 'routemesh-home-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const command = path.join(ROOT, 'routemesh');
  const root = await run([command, '--help'], home, home);
  t.equal(root.code, 0, root.stderr || 'exits 0 (dist/ is built by npm ci; else run npm run build)');
  t.match(root.stdout, /^Usage: {2}routemesh COMMAND$/m);
  const typed = readmeCommands();
  t.ok(typed.length >= 8, `the README's ./routemesh lines were found (${typed.length})`);
  for (const words of new Set(typed.map((w) => w.join(' ')))) {
    const result = await run([command, ...words.split(' '), '--help'], ROOT, home);
    t.equal(result.code, 0, `./routemesh ${words} --help: ${result.stderr.trim() || 'exits 0'}`);
    t.match(result.stdout, /^Usage: {2}routemesh /m);
  }
});

t.test('./routemesh as nobody, from a checkout it cannot write', { skip: process.getuid?.() === 0 ? false : 'not root: this run is already unprivileged' }, async (t) => {
  if (!requireTool(t, 'setpriv', 'util-linux')) return;
  const asNobody = (...argv: string[]) => run(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...argv], '/', '/nonexistent');
  if ((await asNobody('test', '-r', path.join(ROOT, 'dist/cli/main.js'))).code !== 0) {
    t.plan(0, `nobody cannot read ${ROOT}: unprivileged.test.ts runs a copy`);
    return;
  }
  const result = await asNobody(path.join(ROOT, 'routemesh'), 'service', 'ps', '--help');
  t.equal(result.code, 0, result.stderr || 'exits 0');
  t.match(result.stdout, /^Usage: {2}routemesh service ps /m);
});

t.test('the README points only inside the repository, and docs/ARCHITECTURE.md names files that exist', async (t) => {
  t.notMatch(README, /\.\.\/(shared|DESIGN)/, 'no design file outside the repository');
  t.match(README, '(docs/ARCHITECTURE.md)');
  const architecture = readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const named = new Set([...architecture.matchAll(/\b((?:src|test)\/[\w./-]*\w)/g)].map((m) => m[1]!));
  t.ok(named.size > 10, `it names files (${named.size})`);
  for (const file of named) t.ok(existsSync(path.join(ROOT, file)), `${file} exists`);
  for (const module of readdirSync(path.join(ROOT, 'src'))) t.match(architecture, `| \`src/${module}\` |`, `the module table has src/${module}`);
});
