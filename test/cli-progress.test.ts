// The convergence display of create/update/scale/rollback, driven by scripted engine answers and a
// fake clock: docker's plain-log lines when stdout is not a terminal, docker's final screen when it is,
// and the UpdateStatus and Ctrl-C endings of SPEC.md §4.
import t from 'tap';
import type { ApiNode, ApiService, ApiTask } from '../src/cli/apiTypes.js';
import type { Query } from '../src/cli/EngineClient.js';
import { ProgressDisplay, renderBar } from '../src/cli/ProgressDisplay.js';
import { waitForConvergence, type Clock, type EngineReader } from '../src/cli/progress.js';

const NODES: ApiNode[] = [
  { ID: 'node1aaaaaaaaaaaaaaaaaaaa', Status: { State: 'ready' } },
  { ID: 'node2bbbbbbbbbbbbbbbbbbbb', Status: { State: 'ready' } },
  { ID: 'node3cccccccccccccccccccc', Status: { State: 'down' } },
];

type Poll = { service: Partial<ApiService>; tasks: ApiTask[] };

/** Answers each poll from a script; the last entry repeats. Records the requests. */
class ScriptedEngine implements EngineReader {
  readonly requests: string[] = [];
  #polls: Poll[];
  #index = -1;

  constructor(polls: Poll[]) {
    this.#polls = polls;
  }

  async get<T>(path: string, query?: Query): Promise<T> {
    this.requests.push(`${path}${query ? ` ${JSON.stringify(query)}` : ''}`);
    if (path.startsWith('/services/')) {
      this.#index = Math.min(this.#index + 1, this.#polls.length - 1);
      return { ID: 'svc1', Spec: { Mode: { Replicated: { Replicas: 3 } } }, ...this.#polls[this.#index]!.service } as T;
    }
    if (path === '/tasks') return this.#polls[this.#index]!.tasks as T;
    if (path === '/nodes') return NODES as T;
    throw new Error(`unexpected ${path}`);
  }
}

/** Time passes only when asked: 200 ms per poll, 1 ms per reading (real code takes time between readings). */
class FakeClock implements Clock {
  t = 1_000_000;
  sleeps = 0;
  interruptAfter = Infinity;
  now(): number {
    return this.t++;
  }
  async sleep(ms: number): Promise<boolean> {
    this.t += ms;
    return ++this.sleeps >= this.interruptAfter;
  }
}

function task(slot: number, state: string, extra: Partial<ApiTask> = {}): ApiTask {
  return { ID: `task${slot}${state}`, Slot: slot, NodeID: NODES[slot % 2]!.ID, DesiredState: 'running', Status: { State: state }, ...extra };
}

const running3 = [task(1, 'running'), task(2, 'running'), task(3, 'running')];

function capture(): { out: { write(s: string): void }; text: () => string } {
  let text = '';
  return { out: { write: (s: string) => { text += s; } }, text: () => text };
}

async function run(polls: Poll[], options: { tty?: boolean; clock?: FakeClock; monitorMs?: number } = {}) {
  const engine = new ScriptedEngine(polls);
  const sink = capture();
  const clock = options.clock ?? new FakeClock();
  await waitForConvergence(engine, 'my-web', new ProgressDisplay(sink.out, options.tty ?? false), {
    pollMs: 200, defaultMonitorMs: options.monitorMs ?? 5000, clock, psCommand: 'routemesh service ps my-web',
  });
  return { text: sink.text(), engine };
}

t.test('not a terminal: bars once and empty, then overall progress and verify lines as docker logs them', async (t) => {
  const { text, engine } = await run([{ service: {}, tasks: running3 }]);
  const lines = text.split('\n').slice(0, -1);
  t.same(lines.slice(0, 5), ['overall progress: 0 out of 3 tasks', '1/3:  ', '2/3:  ', '3/3:  ', 'overall progress: 3 out of 3 tasks']);
  const waits = lines.slice(5, -1);
  t.ok(waits.every((l) => /^verify: Waiting [1-5] seconds to verify that tasks are stable\.\.\.$/.test(l)), 'only verify lines in between');
  t.same([...new Set(waits.map((l) => Number(/\d/.exec(l)![0])))], [5, 4, 3, 2, 1], 'counting down from 5 s');
  t.equal(waits.length, 25, 'one per 200 ms poll for 5 s');
  t.equal(lines.at(-1), 'verify: Service my-web converged');
  t.same(engine.requests.slice(0, 3), [
    '/services/my-web {"insertDefaults":false}',
    '/tasks {"filters":"{\\"_up-to-date\\":{\\"true\\":true},\\"service\\":{\\"svc1\\":true}}"}',
    '/nodes',
  ], 'the service by the name as typed, its up-to-date tasks by ID, the nodes');
  t.equal(engine.requests.at(-1), '/services/my-web {"insertDefaults":false}', 'one last service read ends it');
});

t.test('UpdateConfig.Monitor replaces the 5 s wait', async (t) => {
  const { text } = await run([{ service: { Spec: { Mode: { Replicated: { Replicas: 3 } }, UpdateConfig: { Monitor: 1e9 } } }, tasks: running3 }]);
  t.equal(text.split('\n').filter((l) => l.startsWith('verify: Waiting')).length, 5);
});

/** Plays the ANSI output on a tiny terminal and returns the screen's lines. */
function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (let i = 0; i < output.length; i++) {
    const c = output[i]!;
    const esc = /^\x1b\[(\d*)([ABK])/.exec(output.slice(i));
    if (esc) {
      const n = Number(esc[1] || 1);
      if (esc[2] === 'A') row = Math.max(0, row - n);
      else if (esc[2] === 'B') row += n;
      else lines[row] = '';
      while (lines.length <= row) lines.push('');
      i += esc[0].length - 1;
    } else if (c === '\n') {
      row++;
      col = 0;
      while (lines.length <= row) lines.push('');
    } else if (c === '\r') {
      col = 0;
    } else {
      const line = lines[row]!.padEnd(col);
      lines[row] = line.slice(0, col) + c + line.slice(col + 1);
      col++;
    }
  }
  return lines.map((l) => l.trimEnd()).filter((l, i, all) => l !== '' || i < all.length - 1);
}

t.test('on a terminal: lines redrawn in place, ending on docker\'s screen', async (t) => {
  const partway = [task(1, 'running'), task(2, 'preparing'), task(3, 'pending')];
  const { text } = await run([{ service: {}, tasks: partway }, { service: {}, tasks: running3 }], { tty: true });
  t.match(text, /\x1b\[2A\x1b\[2K\r/, 'cursor moves, not new lines');
  t.same(screen(text), [
    'overall progress: 3 out of 3 tasks',
    `1/3: running   [${'='.repeat(50)}>]`,
    `2/3: running   [${'='.repeat(50)}>]`,
    `3/3: running   [${'='.repeat(50)}>]`,
    'verify: Service my-web converged',
  ]);
});

t.test('bars grow with the task state, as docker draws them', async (t) => {
  t.equal(renderBar({ current: 9, total: 9 }), `[${'='.repeat(50)}>]`);
  t.equal(renderBar({ current: 6, total: 9 }), `[${'='.repeat(33)}>${' '.repeat(17)}]`);
  t.equal(renderBar({ current: 1, total: 9 }), `[${'='.repeat(5)}>${' '.repeat(45)}]`);
  t.equal(renderBar({ current: 9, total: 9 }, 80), '', 'no bar on a narrow terminal');
});

t.test('a task error shows instead of its bar; tasks on down nodes do not count', async (t) => {
  const tasks = [
    task(1, 'running'),
    task(2, 'rejected', { Status: { State: 'rejected', Err: 'No such image: nosuch:latest' } }),
    task(3, 'running', { NodeID: NODES[2]!.ID }),
  ];
  const clock = new FakeClock();
  clock.interruptAfter = 3;
  const { text } = await run([{ service: {}, tasks }], { clock });
  t.match(text, /^2\/3: No such image: nosuch:latest$/m);
  t.match(text, /^overall progress: 1 out of 3 tasks$/m);
});

t.test('UpdateStatus completed before convergence: return at once, silently', async (t) => {
  const { text, engine } = await run([{ service: { UpdateStatus: { State: 'completed', Message: 'update completed' } }, tasks: [] }]);
  t.equal(text, '');
  t.equal(engine.requests.length, 1);
});

t.test('UpdateStatus paused: fails with the message', async (t) => {
  await t.rejects(run([{ service: { UpdateStatus: { State: 'paused', Message: 'update paused due to failure' } }, tasks: [] }]),
    { code: 'CLI_FAILED', message: 'service update paused: update paused due to failure' });
  await t.rejects(run([{ service: { UpdateStatus: { State: 'rollback_paused', Message: 'why' } }, tasks: [] }]),
    { message: 'service rollback paused: why' });
});

t.test('rollback: the message once, and "rolling back update" in the progress', async (t) => {
  const status = { UpdateStatus: { State: 'rollback_started', Message: 'manually requested rollback' } };
  const { text } = await run([{ service: status, tasks: running3 }], { monitorMs: 400 });
  const lines = text.split('\n');
  t.equal(lines[0], 'rollback: manually requested rollback');
  t.equal(lines.filter((l) => l.startsWith('rollback:')).length, 1);
  t.equal(lines[1], 'overall progress: rolling back update: 0 out of 3 tasks');
  t.match(text, /^overall progress: rolling back update: 3 out of 3 tasks$/m);
  t.match(text, /verify: Service my-web converged\n$/);
});

t.test('a task that stops running during the wait starts the wait over', async (t) => {
  const flapping = [task(1, 'running'), task(2, 'running'), task(3, 'starting')];
  const { text } = await run([
    { service: {}, tasks: running3 }, { service: {}, tasks: flapping }, { service: {}, tasks: running3 },
  ], { monitorMs: 400 });
  t.match(text, /verify: Waiting 1 seconds to verify that tasks are stable...\noverall progress: 2 out of 3 tasks\nverify: Detected task failure\noverall progress: 3 out of 3 tasks\n/);
  t.match(text, /verify: Service my-web converged\n$/);
});

t.test('global services: one bar per node, counted from the first tasks seen', async (t) => {
  const global = { Spec: { Mode: { Global: {} } } };
  const tasks = [task(0, 'running', { NodeID: NODES[0]!.ID }), task(0, 'running', { NodeID: NODES[1]!.ID, ID: 'other' })];
  const { text } = await run([{ service: global, tasks: [] }, { service: global, tasks }], { tty: true, monitorMs: 0 });
  t.same(screen(text), [
    'overall progress: 2 out of 2 tasks',
    `node1aaaaaaa: running   [${'='.repeat(50)}>]`,
    `node2bbbbbbb: running   [${'='.repeat(50)}>]`,
    'verify: Service my-web converged',
  ]);
  const plain = await run([{ service: global, tasks: [] }, { service: global, tasks }], { monitorMs: 0 });
  t.match(plain.text, /^overall progress: waiting for new tasks\noverall progress: 0 out of 2 tasks\noverall progress: 2 out of 2 tasks\n/);
});

t.test('an unknown mode is refused', async (t) => {
  await t.rejects(run([{ service: { Spec: { Mode: { Replicated: {} } } }, tasks: [] }]), { message: 'unrecognized service mode' });
});

t.test('Ctrl-C before convergence: the operation goes on, and how to follow it', async (t) => {
  const clock = new FakeClock();
  clock.interruptAfter = 2;
  const { text } = await run([{ service: {}, tasks: [task(1, 'pending')] }], { clock });
  t.match(text, /Operation continuing in background\.\nUse `routemesh service ps my-web` to check progress\.\n$/);
});

t.test('Ctrl-C through the interrupt hook stops the real sleep', async (t) => {
  const engine = new ScriptedEngine([{ service: {}, tasks: [task(1, 'pending')] }]);
  const sink = capture();
  let press: () => void = () => {};
  let unsubscribed = false;
  const done = waitForConvergence(engine, 'web', new ProgressDisplay(sink.out, false), {
    pollMs: 60_000,
    defaultMonitorMs: 5000,
    psCommand: 'routemesh service ps web',
    onInterrupt: (listener) => {
      press = listener;
      return () => { unsubscribed = true; };
    },
  });
  // Wait for the first poll to be drawn, then press Ctrl-C during the (minute-long) sleep.
  while (!sink.text().includes('overall progress: 0 out of 3 tasks\n1/3')) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  press();
  await done;
  t.match(sink.text(), /Operation continuing in background\./);
  t.ok(unsubscribed, 'the Ctrl-C listener is removed again');
});

t.test('scaling down: the count stops at the replicas wanted, and convergence waits for the extra tasks to go', async (t) => {
  const scaled = { Spec: { Mode: { Replicated: { Replicas: 2 } } } };
  const five = [1, 2, 3, 4, 5].map((slot) => task(slot, 'running'));
  const { text } = await run([
    { service: scaled, tasks: five }, { service: scaled, tasks: five.slice(0, 4) }, { service: scaled, tasks: five.slice(0, 2) },
  ], { monitorMs: 400 });
  const lines = text.split('\n').filter((l) => !/^\d\/2: /.test(l));
  t.same(lines.slice(0, 5), [
    'overall progress: 0 out of 2 tasks', 'overall progress: 2 out of 2 tasks', 'overall progress: 2 out of 2 tasks',
    'overall progress: 2 out of 2 tasks', 'verify: Waiting 1 seconds to verify that tasks are stable...',
  ], 'never more running than wanted, and converged only once the extra tasks were gone');
  t.match(text, /verify: Service my-web converged\n$/);
});
