// The host lock: one holder per name on this host, whether the askers are in one process or many; the
// kernel frees the name however its holder ends (SIGKILL included), and the next asker takes it on its
// next retry.
import { once } from 'node:events';
import t from 'tap';
import type { Test } from 'tap';
import { HostLock } from '../src/engine/HostLock.js';
import { deadline } from './support/dns.js';
import { hostHolder } from './support/hostHolder.js';

let names = 0;
/** A lock name no other test (nor run) uses: abstract names are host-wide. */
function uniqueName(): string {
  return `routemesh-test:host-lock:${process.pid}:${names++}`;
}

function lock(t: Test, name: string, retryMs = 50): HostLock {
  const l = new HostLock(name, { retryMs });
  t.teardown(() => l.close());
  return l;
}

t.test('one holder per name: a second asker waits, and takes it once the first gives it up', async (t) => {
  const name = uniqueName();
  const first = lock(t, name);
  const second = lock(t, name);
  t.equal(await first.acquire(), true, 'the first asker holds it');
  t.equal(await second.acquire(), false, 'the second does not');
  t.equal(second.held, false);
  t.equal(await lock(t, uniqueName()).acquire(), true, 'another name is another lock');
  const taken = once(second, 'held');
  await first.close();
  t.equal(first.held, false);
  await deadline('the second asker to take the lock', taken, 2000);
  t.equal(second.held, true);
});

t.test('a holder gone by SIGKILL frees the lock: the next asker has it within its retry period', async (t) => {
  const name = uniqueName();
  const child = await hostHolder(t, 'lock', name);
  t.equal(child.said, 'held', 'the child process holds it');

  const RETRY_MS = 200;
  const waiter = lock(t, name, RETRY_MS);
  t.equal(await waiter.acquire(), false, 'this process does not, while the child lives');
  const taken = once(waiter, 'held');
  const killedAt = Date.now();
  await child.kill();
  // Within the 2 s for a takeover: the retry period, and the load of a shared machine besides.
  await deadline('this process to take the lock after the SIGKILL', taken, 2000);
  t.ok(waiter.held, `held ${Date.now() - killedAt} ms after the SIGKILL (retrying every ${RETRY_MS} ms)`);
});

t.test('closed while it waits, an asker stops trying: the lock goes to one still asking', async (t) => {
  const name = uniqueName();
  const holder = lock(t, name);
  const quitter = lock(t, name, 10);
  const stayer = lock(t, name, 10);
  await holder.acquire();
  t.equal(await quitter.acquire(), false);
  await quitter.close();
  t.equal(await stayer.acquire(), false);
  const taken = once(stayer, 'held');
  await holder.close();
  await deadline('the asker still asking to take the lock', taken, 2000);
  t.equal(quitter.held, false, 'the one that was closed does not take it');
  t.equal(await quitter.acquire(), false, 'and asking again finds it held');
});
