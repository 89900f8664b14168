// Which secrets' and configs' data a node is sent, as swarmkit's dispatcher decides: a manager all of
// them (it keeps the swarm and may have to lead it), a worker only those its tasks refer to, from when
// the first such task is assigned to it. The others reach a worker as names and labels without data.
import { isTerminal, referencesOf, withoutData } from '../swarm/index.js';
import type { Config, Secret, Store, Task } from '../swarm/index.js';
import type { ViewChange } from './protocol.js';

export type DataKind = 'secret' | 'config';
const KINDS: readonly DataKind[] = ['secret', 'config'];

/** `kind:id` of what a task refers to. */
function referencedBy(task: Task): string[] {
  const spec = { TaskTemplate: task.Spec } as Parameters<typeof referencesOf>[1];
  return KINDS.flatMap((kind) => referencesOf(kind, spec).map((ref) => `${kind}:${(kind === 'secret' ? ref.SecretID : ref.ConfigID) ?? ''}`));
}

/** What the node's tasks that have not ended refer to. */
export function neededBy(store: Store, nodeId: string): Set<string> {
  const needed = new Set<string>();
  for (const task of store.tasksOfNode(nodeId)) {
    if (!isTerminal(task.Status.State)) for (const key of referencedBy(task)) needed.add(key);
  }
  return needed;
}

/** A worker's lists for its complete view: data only where its tasks need it. */
export function workerLists(store: Store, nodeId: string): { secrets: Secret[]; configs: Config[] } {
  const needed = neededBy(store, nodeId);
  const shown = <T extends Secret | Config>(kind: DataKind, objects: T[]): T[] => objects.map((o) => (needed.has(`${kind}:${o.ID}`) ? o : withoutData(o)));
  return { secrets: shown('secret', store.all('secret')), configs: shown('config', store.all('config')) };
}

/**
 * A batch of changes as one worker gets it: secrets and configs without the data it does not need, and
 * those a task of its in the batch now needs put first (once per session: `sent` keeps what it has).
 * Undefined when the batch is the same for it as for a manager.
 */
export function workerChanges(store: Store, nodeId: string, changes: readonly ViewChange[], sent: Set<string>): ViewChange[] | undefined {
  // Most batches are tasks' states: the same line as every node's, unless a secret or config changed or a
  // task of this node now needs data it was not sent (worked out once per batch and worker, not per task).
  const dataChanged = changes.some((c) => c.op === 'put' && KINDS.includes(c.kind as DataKind));
  const newlyNeeded = changes.some((c) => c.op === 'put' && c.kind === 'task' && c.object.NodeID === nodeId &&
    !isTerminal(c.object.Status.State) && referencedBy(c.object).some((key) => !sent.has(key)));
  if (!dataChanged && !newlyNeeded) return undefined;
  const needed = neededBy(store, nodeId);
  const added: ViewChange[] = [];
  const out = changes.map((change): ViewChange => {
    if (change.op !== 'put' || !KINDS.includes(change.kind as DataKind)) return change;
    const key = `${change.kind}:${change.object.ID}`;
    if (needed.has(key)) {
      sent.add(key);
      return change;
    }
    sent.delete(key); // its copy loses the data: a task that needs it again gets it again
    return { ...change, object: withoutData(change.object as Secret) } as ViewChange;
  });
  for (const key of needed) {
    if (sent.has(key)) continue;
    const [kind, id] = key.split(':') as [DataKind, string];
    const object = store.get(kind, id);
    if (!object) continue;
    sent.add(key);
    added.push({ kind, op: 'put', object } as ViewChange);
  }
  return [...added, ...out];
}

/** Every secret and config in full: what a node just promoted to manager lacks. */
export function allData(store: Store): ViewChange[] {
  return KINDS.flatMap((kind) => store.all(kind).map((object) => ({ kind, op: 'put', object }) as ViewChange));
}
