// The bench harness end to end on tiny settings: `bench/run.ts --quick` as a child process on an
// address block of its own. It checks the harness works, never how fast anything is.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('../bench/results/', import.meta.url));
const BLOCK = '155'; // nodes 127.155.0.x, tasks 127.156/16, VIPs 127.157/16

/** Names and modification times under bench/results, to see that a run left it untouched. */
async function snapshot(): Promise<string[]> {
  const names = await readdir(RESULTS).catch(() => [] as string[]);
  return Promise.all(names.sort().map(async (n) => `${n} ${(await stat(`${RESULTS}${n}`)).mtimeMs}`));
}

t.test('bench --quick prints a table with the three scenarios and leaves bench/results alone', async (t) => {
  const before = await snapshot();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], {
    cwd: ROOT,
    env: { ...process.env, BENCH_BLOCK: BLOCK, BENCH_NO_WRITE: '1', BENCH_DURATION: '0.5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; });
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

  t.equal(code, 0, `exits 0${code ? `; stderr: ${stderr}` : ''}`);
  t.match(stdout, /Node v\d+/, 'names the Node version');
  t.match(stdout, /\d+ cores/, 'names the core count');
  const rows = stdout.split('\n').filter((l) => l.startsWith('| ')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
  t.same(rows[0]?.slice(0, 5), ['scenario', 'connections', 'req/s', 'p50 ms', 'p99 ms'], 'a table header');
  for (const scenario of ['direct to task', 'mesh, same node', 'mesh, other node']) {
    const found = rows.filter((r) => r[0] === scenario);
    t.equal(found.length, 2, `${scenario}: a keep-alive row and a new-connection row`);
    for (const row of found) t.ok(Number(row[2]) > 0, `${scenario} (${row[1]}): req/s ${row[2]} is a number above 0`);
  }
  t.same(await snapshot(), before, 'bench/results is untouched');
});
