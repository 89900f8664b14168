// Every shipped scenario, run as a user runs it (`routemesh scenario run FILE`, from dist/), passes; the same
// seed replays the same picks and another seed does not; a scenario whose expectation fails exits 1 and says
// which; a file with a mistake is refused before anything starts. About 40 s on both cores, so CI runs it
// as a step of its own (`npm run test:scenarios`), not in `npm test`.
import { execFile } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

t.setTimeout(240_000);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
// Nodes 127.43.0.x, tasks 127.83/16, VIPs 127.116/16: blocks no other test file uses.
const ADDRESSES = ['--subnet', '127.43.0.0/24', '--task-subnet', '127.83.0.0/16', '--vip-subnet', '127.116.0.0/16'];

function scenario(file: string, ...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/routemesh.js'), 'scenario', 'run', file, ...ADDRESSES, ...extra], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

// The scenarios run dist/, as a user's `routemesh` does: built from this checkout first.
await new Promise<void>((resolve, reject) => {
  execFile('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT }, (error, stdout) => (error ? reject(new Error(`the build failed: ${stdout}`)) : resolve()));
});

t.test('every shipped scenario passes', async (t) => {
  const files = (await readdir(HERE)).filter((f) => f.endsWith('.yaml')).sort();
  t.same(files, ['flapping-task.yaml', 'node-failure.yaml', 'partition-healed.yaml', 'rolling-update.yaml', 'swarm-pains.yaml']);
  for (const file of files) {
    const result = await scenario(path.join(HERE, file));
    t.equal(result.code, 0, `${file}:\n${result.stdout}${result.stderr}`);
    t.match(result.stdout, /\nAll \d+ expectations held\.\n$/, file);
  }
});

t.test('the same seed replays the same picks; another seed draws others', async (t) => {
  const replay = fileURLToPath(new URL('../../test/fixtures/scenarios/replay.yaml', import.meta.url));
  const picks = async (...extra: string[]): Promise<string> => {
    const result = await scenario(replay, ...extra);
    t.equal(result.code, 0, result.stdout + result.stderr);
    return /node1 handed ([^;\n]+)/.exec(result.stdout)?.[1] ?? 'no picks';
  };
  const first = await picks();
  t.match(first, /^web\.1 \d+, web\.2 \d+, web\.3 \d+$/, 'each task picked');
  t.equal(await picks(), first, 'seed 7 again: the same picks');
  t.not(await picks('--seed', '8'), first, 'seed 8: other picks');
});

t.test('an expectation that does not hold fails the run, saying which', async (t) => {
  const file = path.join(tmpdir(), `routemesh-scenario-${process.pid}.yaml`);
  t.teardown(() => rm(file, { force: true }));
  await writeFile(file, [
    'name: too strict', 'cluster: { nodes: 1, heartbeat: 100ms }',
    'services: { web: { image: traefik/whoami, replicas: 2, publish: "8080:80" } }',
    'loads: { main: { service: web, rate: 20, duration: 500ms } }',
    'expect:', '  - p99: { load: main, under: 0s }', '  - failed: { load: main, atMost: 0 }',
  ].join('\n'));
  const result = await scenario(file);
  t.equal(result.code, 1);
  t.match(result.stdout, /FAIL p99 of main under 0 ms: \d+\.\d ms/);
  t.match(result.stdout, /ok {3}failed requests of main at most 0: 0 of 10/);
  t.match(result.stdout, /\n1 of 2 did not hold\.\n$/);
});

t.test('a file with a mistake is refused before anything starts, saying where', async (t) => {
  const file = path.join(tmpdir(), `routemesh-scenario-bad-${process.pid}.yaml`);
  t.teardown(() => rm(file, { force: true }));
  const cases: [string, RegExp][] = [
    ['services: { web: { image: traefik/whoami, publish: "8080" } }', /services\.web\.publish\[0\]: must be published:target, like 8080:80/],
    ['services: { web: { image: traefik/whoami } }\nloads: { l: { service: api, rate: 1, duration: 1s } }', /loads\.l\.service: names no service of this file \(web\)/],
    ['services: { web: { image: traefik/whoami } }\ntimeline: [{ at: 1s, reboot: node1 }]', /timeline\[0\]: has no action reboot/],
    ['services: { web: { image: traefik/whoami } }\ntimeline: [{ at: soon, drain: node1 }]', /timeline\[0\]\.at: must be a duration like 500ms/],
    ['services: [', /is not YAML/],
  ];
  for (const [text, message] of cases) {
    await writeFile(file, text);
    const result = await scenario(file);
    t.equal(result.code, 1, text);
    t.match(result.stderr, message, text);
    t.equal(result.stdout, '', 'nothing ran');
  }
  const missing = await scenario(path.join(tmpdir(), 'no-such-scenario.yaml'));
  t.match(missing.stderr, /cannot read .*no-such-scenario\.yaml: no such file/);
});
