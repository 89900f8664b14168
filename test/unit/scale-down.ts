// slotsToRemove as a table: which replicated slots go when a service scales down.
import t from 'tap';
import { slotsToRemove } from '../../src/swarm/index.js';
import type { Task, TaskState } from '../../src/swarm/index.js';

function task(slot: number, nodeId: string, state: TaskState): Task {
  return {
    ID: `task-${slot}`,
    Version: { Index: 1 },
    CreatedAt: '2024-01-01T00:00:00.000Z',
    UpdatedAt: '2024-01-01T00:00:00.000Z',
    Labels: {},
    Spec: { ContainerSpec: { Image: 'nginx' } },
    ServiceID: 'web',
    Slot: slot,
    NodeID: nodeId,
    Status: { Timestamp: '2024-01-01T00:00:00.000Z', State: state, Message: state, PortStatus: {} },
    DesiredState: 'running',
  };
}

/** Slot n (1-based) is the nth entry: a node id, optionally `node:state` (default running). */
function slots(...layout: string[]): Map<number, Task> {
  return new Map(layout.map((entry, i) => {
    const [nodeId, state] = entry.split(':') as [string, TaskState | undefined];
    return [i + 1, task(i + 1, nodeId, state ?? 'running')];
  }));
}

function keptNodes(map: Map<number, Task>, removed: number[]): string[] {
  return [...map.entries()].filter(([slot]) => !removed.includes(slot)).map(([, task]) => task.NodeID).sort();
}

interface Row {
  name: string;
  slots: Map<number, Task>;
  keep: number;
  remove: number[];
}

const rows: Row[] = [
  {
    name: 'scale-down of six slots spread 2/2/2 to three keeps one per node (interleaved slots)',
    slots: slots('n1', 'n2', 'n3', 'n1', 'n2', 'n3'), keep: 3, remove: [4, 5, 6],
  },
  {
    name: 'scale-down of six slots spread 2/2/2 to three keeps one per node (grouped slots)',
    slots: slots('n1', 'n1', 'n2', 'n2', 'n3', 'n3'), keep: 3, remove: [2, 4, 6],
  },
  {
    name: 'scale-down of four slots with three on one node to two removes from the crowded node',
    slots: slots('n1', 'n1', 'n1', 'n2'), keep: 2, remove: [2, 3],
  },
  {
    name: 'scale-down takes from the node with the most copies first even when its slots are low',
    slots: slots('n1', 'n1', 'n1', 'n2', 'n3'), keep: 3, remove: [2, 3],
  },
  {
    name: 'scale-down prefers a task that is not running when nodes are balanced',
    slots: slots('n1:starting', 'n2', 'n3'), keep: 2, remove: [1],
  },
  {
    name: 'scale-down removes the non-running copy on a crowded node, not the running one',
    slots: slots('n1:preparing', 'n1', 'n2'), keep: 2, remove: [1],
  },
  {
    name: 'scale-down removes failed and pending tasks before running ones',
    slots: slots('n1', 'n2:failed', 'n3', 'n4:pending', 'n5'), keep: 3, remove: [2, 4],
  },
  {
    name: 'scale-down puts node balance before running state',
    // n1 holds two running copies, n2 one that is still starting: removing n1's second keeps the spread.
    slots: slots('n1', 'n1', 'n2:starting'), keep: 2, remove: [2],
  },
  {
    name: 'scale-down keeps the low slot numbers among equals',
    slots: slots('n1', 'n2', 'n3', 'n4', 'n5'), keep: 2, remove: [3, 4, 5],
  },
  {
    name: 'scale-down of all slots on one node keeps the lowest slots',
    slots: slots('n1', 'n1', 'n1', 'n1'), keep: 1, remove: [2, 3, 4],
  },
  {
    name: 'scale-down to zero removes every slot',
    slots: slots('n1', 'n2', 'n1'), keep: 0, remove: [1, 2, 3],
  },
  {
    name: 'scale-down to the current count removes nothing',
    slots: slots('n1', 'n2', 'n3'), keep: 3, remove: [],
  },
  {
    name: 'scale-down to more than the current count removes nothing',
    slots: slots('n1', 'n2'), keep: 5, remove: [],
  },
  {
    name: 'scale-down of no slots removes nothing',
    slots: new Map(), keep: 0, remove: [],
  },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    t.same(slotsToRemove(row.slots, row.keep), row.remove);
  });
}

t.test('scale-down of 2/2/2 to three leaves exactly one task on each node', async (t) => {
  const map = slots('n1', 'n1', 'n2', 'n3', 'n2', 'n3');
  t.same(keptNodes(map, slotsToRemove(map, 3)), ['n1', 'n2', 'n3']);
});

t.test('scale-down returns slot numbers in ascending order', async (t) => {
  const map = slots('n1', 'n1', 'n1', 'n1', 'n2', 'n2');
  const removed = slotsToRemove(map, 2);
  t.same(removed, [...removed].sort((a, b) => a - b));
  t.same(keptNodes(map, removed), ['n1', 'n2']);
});

t.test('scale-down works from the map keys, not the task order, for non-contiguous slots', async (t) => {
  // Slots 2 and 5 were removed earlier; the survivors keep their numbers.
  const map = new Map<number, Task>([[7, task(7, 'n2', 'running')], [1, task(1, 'n1', 'running')], [4, task(4, 'n1', 'running')]]);
  t.same(slotsToRemove(map, 2), [4]);
});

t.test('scale-down does not change the slot map it is given', async (t) => {
  const map = slots('n1', 'n1', 'n2');
  const before = JSON.stringify([...map]);
  slotsToRemove(map, 1);
  t.equal(JSON.stringify([...map]), before);
});

// An unscheduled task is not "one more node": keeping it over a running task would restart work for nothing.
t.test('scale-down removes an unscheduled pending task before a running one', async (t) => {
  const map = slots('n1', 'n1', ':pending');
  t.same(slotsToRemove(map, 2), [3], 'the unscheduled slot goes');
});
