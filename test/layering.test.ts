// DESIGN.md §2 as a test: each module is imported only through its index.ts, and imports lean one way
// (lb and vip-dns know no cluster; swarm only allocates from vip-dns; cluster carries swarm's view to nodes; engine wires
// everything; the cli reaches the engine module only to start nodes, for `up` and `node start`; shared imports nothing and serves all).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const ALLOWED: Record<string, string[]> = {
  // Pure helpers more than one module needs (Go's duration syntax): a leaf any module may use.
  shared: [],
  lb: ['shared'],
  'vip-dns': ['shared'],
  swarm: ['vip-dns', 'shared'],
  runtime: ['swarm', 'lb', 'vip-dns', 'shared'],
  mesh: ['swarm', 'lb', 'vip-dns', 'shared'],
  // The cluster protocol: a manager's side reads its control plane, a node's side keeps a copy of the view.
  cluster: ['swarm', 'shared'],
  engine: ['swarm', 'lb', 'vip-dns', 'runtime', 'mesh', 'cluster', 'shared'],
  cli: ['engine', 'shared'],
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;

t.test('modules import each other only through index.ts, in the direction DESIGN.md sets', async (t) => {
  const modules = readdirSync(SRC).filter((m) => statSync(path.join(SRC, m)).isDirectory());
  t.same(modules.sort(), Object.keys(ALLOWED).sort(), 'every module has a rule');
  let checked = 0;
  for (const file of files(SRC)) {
    const from = path.relative(SRC, file).split(path.sep)[0]!;
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), match[1] ?? match[2]!);
      const [to, ...rest] = path.relative(SRC, target).split(path.sep);
      if (to === from) continue;
      checked++;
      const where = `${path.relative(SRC, file)} imports ${match[1] ?? match[2]}`;
      t.ok(ALLOWED[from]!.includes(to!), `${where}: ${from} may import ${ALLOWED[from]!.join(', ') || 'nothing of ours'}`);
      t.same(rest, ['index.js'], `${where}: only through ${to}/index.ts`);
    }
  }
  t.ok(checked > 10, 'the imports were found');
});
