// ui/app.js run in a vm with a stand-in DOM (elements as trees of children and attributes, an EventSource
// told by hand), fed snapshots and batches as DashboardFeed makes them, and what a hostile link or node
// sends: the page loads, draws all it can, and keeps no row of a node that is gone.
import { readFileSync } from 'node:fs';
import vm from 'node:vm';
import t from 'tap';
import { nodeRead, poolMember } from '../support/poolReads.js';

const APP = readFileSync(new URL('../../ui/app.js', import.meta.url), 'utf8');

/** What `run` threw (an error of the vm's realm, told by its message), or undefined. */
function thrownBy(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return String(error);
  }
}

class FakeElement {
  readonly tag: string;
  readonly attributes = new Map<string, string>();
  children: (FakeElement | string)[] = [];
  dataset: Record<string, string> = {};
  style = { width: '', left: '', setProperty: () => {} };
  title = '';
  value = '';
  constructor(tag: string) { this.tag = tag; }
  setAttribute(key: string, value: unknown) { this.attributes.set(key, String(value)); }
  getAttribute(key: string) { return this.attributes.get(key); }
  append(...children: (FakeElement | string)[]) { this.children.push(...children); }
  replaceChildren(...children: (FakeElement | string)[]) { this.children = [...children]; }
  addEventListener() {}
  get firstChild() { return this.children[0]; }
  get lastChild() { return this.children.at(-1); }
  get textContent(): string { return this.children.map((c) => (typeof c === 'string' ? c : c.textContent)).join(''); }
  set textContent(text: string) { this.children = [text]; }
}

/** Loads the page with `hash` in its address; returns how to send it events and read what it drew. */
function page(hash = '') {
  const byId = new Map<string, FakeElement>();
  const lookup = (key: string) => { if (!byId.has(key)) byId.set(key, new FakeElement('div')); return byId.get(key)!; };
  const handlers = new Map<string, (event: { data: string }) => void>();
  const context = vm.createContext({
    location: { hash },
    history: { replaceState: () => {} },
    document: { getElementById: lookup, querySelector: lookup, createElement: (tag: string) => new FakeElement(tag) },
    EventSource: class { addEventListener(type: string, handler: (event: { data: string }) => void) { handlers.set(type, handler); } },
  });
  vm.runInContext(APP, context);
  return {
    send: (type: 'snapshot' | 'changes', message: unknown) => handlers.get(type)!({ data: JSON.stringify(message) }),
    rows: () => lookup('#pools tbody').children.map((row) => (row as FakeElement).getAttribute('data-task')),
    timeline: () => lookup('timeline').textContent,
  };
}

const NODES = ['n1', 'n2'].map((id) => ({ id, hostname: id, role: 'worker', leader: false, state: 'ready', availability: 'active', address: '127.1.0.1' }));
const WEB = { id: 's1', name: 'web', mode: 'replicated', replicas: 2, image: 'nginx', ports: [{ published: 8080, target: 80, protocol: 'tcp', mode: 'ingress' }], vips: [], balancing: {} };
const taskOf = (id: string, slot: number, nodeId: string) => ({ id, serviceId: 's1', nodeId, slot, image: 'nginx', state: 'running', desiredState: 'running' });
const readOf = (nodeId: string, tasks: string[]) => nodeRead(nodeId, tasks.map((task) => poolMember(task, { recent: 1, total: 1 })));
const snapshotWith = (mesh: unknown[]) => ({ id: 'e-1', nodes: NODES, services: [WEB], tasks: [taskOf('t1', 1, 'n1'), taskOf('t2', 2, 'n2')], faults: [], mesh,
  timeline: [{ at: new Date().toISOString(), kind: 'service', subject: 'web', text: 'service web created' }] });

t.test('an address with a malformed #hash (a link from anywhere) still loads the page', async (t) => {
  const thrown = thrownBy(() => page('#%E0%A4%A'));
  t.notOk(thrown, `decodeURIComponent of the hash is not left to throw at load (threw ${thrown})`);
});

t.test('one node\'s malformed pools do not stop the page drawing everything after the grid', async (t) => {
  const p = page();
  const thrown = thrownBy(() => p.send('snapshot', snapshotWith([{ nodeId: 'n2', hostname: 'n2', report: { pools: [null] } }])));
  t.notOk(thrown, `the snapshot is taken in (threw ${thrown})`);
  t.match(p.timeline(), /service web created/, 'and the timeline drawn');
});

t.test('a node removed: the tasks only its last read held are no rows of the grid', async (t) => {
  const p = page();
  p.send('snapshot', snapshotWith([readOf('n1', ['t1', 't2']), readOf('n2', ['t1', 't2'])]));
  t.same(p.rows(), ['t1', 't2']);
  // n2 is removed with its task; n1's next read no longer holds it.
  p.send('changes', { id: 'e-2', changes: [{ kind: 'node', op: 'delete', id: 'n2' }, { kind: 'task', op: 'delete', id: 't2' }],
    mesh: [readOf('n1', ['t1'])], timeline: [], order: { nodes: ['n1'], services: ['s1'] } });
  t.same(p.rows(), ['t1'], 'no row for t2, which no node that is left holds or runs');
});
