// test/support/tools.ts: a test that drives a Debian tool skips, with one line naming the package, where
// the tool is missing, and fails on CI (CI=true), where .ci/run installs every tool.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { missingTool, requireTool } from '../support/tools.js';
import type { ToolTest } from '../support/tools.js';

const empty = mkdtempSync(path.join(tmpdir(), 'routemesh-no-tools-'));
t.teardown(() => rmSync(empty, { recursive: true, force: true }));

/** A stand-in for a test that records what the helper did to it. */
function recorder() {
  const calls: string[] = [];
  const t: ToolTest = { plan: (n, why) => { calls.push(`plan ${n} ${why}`); }, fail: (why) => { calls.push(`fail ${why}`); } };
  return { calls, t };
}

t.test('a missing tool skips the test with the package that brings it', async (t) => {
  const { calls, t: fake } = recorder();
  t.equal(requireTool(fake, 'promtool', 'prometheus', { PATH: empty }), false, 'the test is told to return');
  // tap prints a test planned for 0 with a reason as `ok N - <name> # SKIP <reason>`.
  t.same(calls, ['plan 0 promtool not installed (Debian: apt-get install prometheus)']);
  t.equal(missingTool('dig', 'dnsutils', { PATH: empty }), 'dig not installed (Debian: apt-get install dnsutils)', "and a file's { skip } says the same");
});

t.test('on CI a missing tool is a failure', async (t) => {
  for (const ci of ['true', '1']) {
    const { calls, t: fake } = recorder();
    t.equal(requireTool(fake, 'promtool', 'prometheus', { PATH: empty, CI: ci }), false);
    t.same(calls, ['fail promtool not installed (Debian: apt-get install prometheus): CI installs every tool the tests drive, so a missing one is a failure'], `CI=${ci}`);
    t.throws(() => missingTool('docker', 'docker.io', { PATH: empty, CI: ci }), { message: /^docker not installed \(Debian: apt-get install docker\.io\): CI installs/ });
  }
});

t.test('an installed tool runs, on CI too', async (t) => {
  const tool = path.join(empty, 'sometool');
  writeFileSync(tool, '#!/bin/sh\n');
  chmodSync(tool, 0o755);
  const { calls, t: fake } = recorder();
  t.equal(requireTool(fake, 'sometool', 'somepackage', { PATH: `/nonexistent${path.delimiter}${empty}`, CI: 'true' }), true);
  t.same(calls, [], 'neither skipped nor failed');
  t.equal(missingTool('sometool', 'somepackage', { PATH: empty }), false);
  chmodSync(tool, 0o644);
  t.equal(missingTool('sometool', 'somepackage', { PATH: empty }), 'sometool not installed (Debian: apt-get install somepackage)', 'a file that cannot run is not the tool');
});
