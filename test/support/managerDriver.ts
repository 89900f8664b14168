// Test support: a Manager driven without waiting or sockets: timers the test moves on by hand, and every
// agent played by the test (assigned tasks start, tasks asked to stop stop).
import type { Manager } from '../../src/swarm/index.js';

export interface FakeTimers {
  setTimer: (fn: () => void, ms: number) => { cancel(): void };
  now: () => number;
  pending: { fn: () => void; ms: number; at: number; cancelled: boolean }[];
  /** Fires every timer, however far off (restart delays). */
  fireAll(): void;
  /** Moves the clock on and fires the timers that fall due. */
  advance(ms: number): void;
}

export function fakeTimers(): FakeTimers {
  const pending: FakeTimers['pending'] = [];
  let clock = 0;
  const fire = (due: (e: FakeTimers['pending'][number]) => boolean) => {
    for (const entry of pending.filter(due)) {
      pending.splice(pending.indexOf(entry), 1);
      if (!entry.cancelled) entry.fn();
    }
  };
  return {
    pending,
    now: () => clock,
    setTimer: (fn, ms) => {
      const entry = { fn, ms, at: clock + ms, cancelled: false };
      pending.push(entry);
      return { cancel: () => { entry.cancelled = true; } };
    },
    fireAll: () => fire(() => true),
    advance: (ms) => {
      clock += ms;
      fire((e) => e.at <= clock);
    },
  };
}

/**
 * Plays every agent: assigned tasks start (or are rejected, for images named `broken`), tasks asked to stop
 * stop; after each round of reports, waits for the reconciles they queued.
 */
export async function agents(manager: Manager): Promise<void> {
  for (let changed = true; changed;) {
    changed = false;
    for (const task of manager.store.tasks()) {
      if (task.DesiredState === 'running' && task.Status.State === 'assigned') {
        manager.reportTaskStatus(task.ID, task.Spec.ContainerSpec.Image === 'broken'
          ? { State: 'rejected', Message: 'preparing', Err: 'No such image: broken' }
          : { State: 'running', Message: 'started', Endpoint: { Addr: task.Endpoint!.Addr, Ports: [] } });
        changed = true;
      } else if (task.DesiredState !== 'running' && ['assigned', 'running'].includes(task.Status.State)) {
        manager.reportTaskStatus(task.ID, { State: 'shutdown', Message: 'shutdown', ExitCode: 0 });
        changed = true;
      }
    }
    await manager.settled();
  }
}
