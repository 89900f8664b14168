// Delays a user sets may be far beyond setTimeout's 2^31-1 ms, which Node runs as 1 ms: the timer every
// such delay goes through waits them out in chunks. Checked on a clock that behaves as Node's does with
// long delays, so a 720h wait is seen firing (or not) without waiting.
import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import t from 'tap';
import type { Test } from 'tap';
import { HealthChecker } from '../../src/lb/index.js';
import { realTimer } from '../../src/swarm/index.js';
import { ChildTask } from '../../src/runtime/ChildTask.js';
import { LogRing } from '../../src/runtime/LogRing.js';

const HOUR = 3_600_000;
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Replaces the global setTimeout with a manual clock until the test ends. Like Node's, it takes a delay
 * above 2^31-1 ms (or below 1) as 1 ms, so code that hands it a long delay directly fires at once.
 */
function nodeLikeClock(t: Test) {
  let now = 0;
  let pending: { at: number; fn: () => void }[] = [];
  const real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    const handle = { at: now + (ms > MAX_TIMEOUT_MS || !(ms >= 1) ? 1 : ms), fn };
    pending.push(handle);
    return handle;
  }) as unknown as typeof setTimeout;
  globalThis.clearTimeout = ((handle: unknown) => { pending = pending.filter((p) => p !== handle); }) as typeof clearTimeout;
  t.teardown(() => Object.assign(globalThis, real));
  return {
    /** Moves the clock on, firing whatever falls due in order (including timers those arm). */
    advance(ms: number): void {
      const until = now + ms;
      for (;;) {
        const next = pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        pending = pending.filter((p) => p !== next);
        now = next.at;
        next.fn();
      }
      now = until;
    },
  };
}

t.test('a 720h timer does not fire early, and fires once 720h have passed', async (t) => {
  const clock = nodeLikeClock(t);
  let fired = 0;
  realTimer(() => fired++, 720 * HOUR);
  clock.advance(1000);
  t.equal(fired, 0, 'not after 1 s');
  clock.advance(720 * HOUR - 1000 - 1);
  t.equal(fired, 0, 'not 1 ms before 720h');
  clock.advance(1);
  t.equal(fired, 1, 'at 720h, once');
  clock.advance(1000 * HOUR);
  t.equal(fired, 1, 'and never again');
});

t.test('the longest duration Docker accepts (2^63 ns) is waited out, and a cancel stops any chunk', async (t) => {
  const clock = nodeLikeClock(t);
  let fired = 0;
  const longest = 2 ** 63 / 1e6;
  realTimer(() => fired++, longest);
  clock.advance(longest - 1);
  t.equal(fired, 0);
  clock.advance(1);
  t.equal(fired, 1);
  const cancelled = realTimer(() => fired++, 720 * HOUR);
  clock.advance(100 * HOUR);
  cancelled.cancel();
  clock.advance(1000 * HOUR);
  t.equal(fired, 1, 'cancelled in its third chunk: never fires');
});

t.test('a short timer is one setTimeout, as before', async (t) => {
  const clock = nodeLikeClock(t);
  let fired = 0;
  realTimer(() => fired++, 250);
  clock.advance(249);
  t.equal(fired, 0);
  clock.advance(1);
  t.equal(fired, 1);
});

t.test('a health check with a 720h interval probes after 720h, not every millisecond', async (t) => {
  const clock = nodeLikeClock(t);
  let probes = 0;
  const checker = new HealthChecker({
    probe: async () => { probes++; return true; },
    intervalMs: 720 * HOUR, timeoutMs: 720 * HOUR, retries: 3, startPeriodMs: 0,
    onStatus: () => {}, setTimer: realTimer,
  });
  t.teardown(() => checker.stop());
  checker.start();
  clock.advance(4000);
  t.equal(probes, 0, 'no probe in the first 4 s');
  clock.advance(720 * HOUR);
  t.equal(probes, 1, 'the first probe one interval after the start');
});

t.test('a stop with a 720h grace period sends SIGTERM now and SIGKILL only after 720h', async (t) => {
  const clock = nodeLikeClock(t);
  const signals: string[] = [];
  const realKill = process.kill;
  process.kill = ((pid: number, signal: string) => { signals.push(`${pid} ${signal}`); return true; }) as typeof process.kill;
  t.teardown(() => { process.kill = realKill; });
  // A stand-in child process: the task only signals its group and listens for its events.
  const child = Object.assign(new EventEmitter(), { pid: 424242, spawnfile: 'sleep', stdout: null, stderr: null }) as unknown as ChildProcess;
  const ended = () => new PassThrough().end();
  const task = new ChildTask(child, '127.44.0.9', [], new LogRing(), { stdout: ended(), stderr: ended() }, 'group');
  void task.stop(720 * HOUR);
  t.same(signals, ['-424242 SIGTERM'], 'SIGTERM at once');
  clock.advance(HOUR);
  t.same(signals, ['-424242 SIGTERM'], 'no SIGKILL after an hour');
  clock.advance(719 * HOUR);
  t.same(signals, ['-424242 SIGTERM', '-424242 SIGKILL'], 'SIGKILL once the grace period is over');
  child.emit('exit', null, 'SIGKILL');
  t.equal(await task.exited, 137);
});
