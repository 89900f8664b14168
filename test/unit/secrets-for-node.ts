// Which secrets' data each node's session carries, as swarmkit's dispatcher: a manager all, a worker only
// those its tasks refer to, from the batch that assigns it the first such task; a worker promoted gets
// them all. A real Manager and Dispatcher, sessions read from their sinks, no sockets.
import t from 'tap';
import { Dispatcher } from '../../src/cluster/index.js';
import type { SessionMessage } from '../../src/cluster/index.js';
import { Manager } from '../../src/swarm/index.js';
import { fakeTimers } from '../support/managerDriver.js';
import { waitFor } from '../support/cluster.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** The secret data a session has carried so far, by secret name: the last put of each. */
function secretsSeen(lines: string[]): Map<string, string | undefined> {
  const seen = new Map<string, string | undefined>();
  for (const line of lines) {
    const message = JSON.parse(line) as SessionMessage;
    if (message.type === 'complete') for (const s of message.secrets ?? []) seen.set(s.Spec.Name, s.Spec.Data);
    if (message.type === 'changes') {
      for (const c of message.changes) if (c.kind === 'secret' && c.op === 'put') seen.set(c.object.Spec.Name, c.object.Spec.Data);
    }
  }
  return seen;
}

t.test('a worker gets the data of the secrets its tasks need, a manager all', async (t) => {
  const timers = fakeTimers();
  const manager = new Manager({ taskSubnet: '127.200.0.0/16', vipSubnet: '127.201.0.0/16', setTimer: timers.setTimer, now: timers.now });
  const dispatcher = new Dispatcher(manager);
  t.teardown(() => { dispatcher.close(); manager.close(); });
  const leader = manager.addNode({ hostname: 'node1', addr: '127.200.255.1', role: 'manager' });
  const worker = manager.addNode({ hostname: 'node2', addr: '127.200.255.2', role: 'worker' });
  const sessions = new Map<string, string[]>();
  for (const node of [leader, worker]) {
    const lines: string[] = [];
    sessions.set(node.ID, lines);
    dispatcher.streams.open(node.ID, { write: (line) => { lines.push(line); return true; }, end: () => {} });
  }
  const used = manager.secrets.create({ Name: 'used', Data: b64('u') });
  manager.secrets.create({ Name: 'unused', Data: b64('x') });
  await waitFor('the secrets to go out', () => secretsSeen(sessions.get(worker.ID)!).size === 2 || undefined);
  t.same([...secretsSeen(sessions.get(worker.ID)!)], [['used', undefined], ['unused', undefined]], 'a worker without tasks gets names only');
  t.same([...secretsSeen(sessions.get(leader.ID)!)], [['used', b64('u')], ['unused', b64('x')]], 'a manager gets all the data');

  await manager.createService({
    Name: 'db', Mode: { Replicated: { Replicas: 1 } },
    TaskTemplate: {
      ContainerSpec: { Image: 'routemesh/exec', Args: ['true'], Secrets: [{ SecretID: used.ID, SecretName: 'used', File: { Name: 'pw', UID: '0', GID: '0', Mode: 0o444 } }] },
      Placement: { Constraints: ['node.role==worker'] },
    },
  });
  await waitFor('the task to be assigned to the worker', () => manager.store.tasksOfNode(worker.ID).length === 1 || undefined);
  await waitFor('the batch to go out', () => secretsSeen(sessions.get(worker.ID)!).get('used') || undefined);
  t.same([...secretsSeen(sessions.get(worker.ID)!)], [['used', b64('u')], ['unused', undefined]], 'its task\'s secret, and that one only');

  manager.updateNode(worker.ID, manager.store.node(worker.ID)!.Version.Index, { Role: 'manager', Availability: 'active', Labels: {} });
  await waitFor('the promotion to go out', () => secretsSeen(sessions.get(worker.ID)!).get('unused') || undefined);
  t.equal(secretsSeen(sessions.get(worker.ID)!).get('unused'), b64('x'), 'promoted, it gets them all: it may have to lead');
});
