// How `up` makes a swarm of engines it started as processes, through their engine APIs exactly as a
// user would: `swarm init` on the first, `swarm join` with its token on the others; after a restart
// with the same data, the swarm is there already and `up` only waits for its nodes to be Ready again.
import type { ApiInfo, ApiNode, ApiSwarm } from './apiTypes.js';
import type { EngineClient } from './EngineClient.js';
import { failure } from './errors.js';
import { sleep } from './sleep.js';

/** Swarm's cluster port, which `swarm join` names. */
const CLUSTER_PORT = 2377;

/** How long nodes of a restarted swarm get to report Ready again (three heartbeats at Swarm's 5 s, and some). */
const READY_DEADLINE_MS = 20_000;

export interface SwarmMember {
  hostname: string;
  address: string;
  client: EngineClient;
}

export interface FormationOptions {
  /** The first `managers` members are managers, the rest workers. */
  managers: number;
  log: (line: string) => void;
  pollMs: number;
  signal: AbortSignal;
}

/** Puts every member in one swarm, whose first member is (or becomes) its manager. */
export async function formSwarm(members: readonly SwarmMember[], options: FormationOptions): Promise<void> {
  const [first, ...rest] = members;
  if (first === undefined) return;
  const restarted = await inSwarm(first);
  if (!restarted) await first.client.post('/swarm/init', { ListenAddr: `${first.address}:${CLUSTER_PORT}`, AdvertiseAddr: first.address });
  let tokens: ApiSwarm['JoinTokens'] | undefined;
  for (const [i, member] of rest.entries()) {
    if (await inSwarm(member)) continue;
    tokens ??= (await first.client.get<ApiSwarm>('/swarm')).JoinTokens ?? {};
    const token = i + 1 < options.managers ? tokens.Manager : tokens.Worker;
    await member.client.post('/swarm/join', {
      ListenAddr: `${member.address}:${CLUSTER_PORT}`, AdvertiseAddr: member.address,
      RemoteAddrs: [`${first.address}:${CLUSTER_PORT}`], JoinToken: token,
    });
  }
  if (restarted) {
    options.log(`${first.hostname} is back in its swarm: waiting for its nodes to be Ready again`);
    await waitReady(members, options);
  }
}

/** In its swarm, or on its way back into it (a restarted node whose data directory names its swarm). */
async function inSwarm(member: SwarmMember): Promise<boolean> {
  const state = (await member.client.get<ApiInfo>('/info')).Swarm?.LocalNodeState;
  return state === 'active' || state === 'pending';
}

/**
 * Until every member is back in the swarm (active, not pending) and the manager sees it Ready, or says which
 * are not when the deadline passes. The manager's word alone is not enough: a restored swarm keeps each node
 * Ready until its heartbeats are overdue.
 */
async function waitReady(members: readonly SwarmMember[], options: FormationOptions): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (;;) {
    // The first member may itself be on its way back (pending), or its managers not yet led again, or it
    // is a worker now (demoted before the restart): the first member that answers as a manager says.
    let answer = '';
    let nodes: ApiNode[] = [];
    for (const member of members) {
      const listed = await member.client.get<ApiNode[]>('/nodes').catch((error: Error) => {
        answer ||= ` (${member.hostname} answers: ${error.message})`;
        return undefined;
      });
      if (listed) {
        nodes = listed;
        break;
      }
    }
    const ready = new Set(nodes.filter((n) => n.Status?.State === 'ready').map((n) => n.Status?.Addr));
    const back = await Promise.all(members.map(async (m) => ready.has(m.address) && (await m.client.get<ApiInfo>('/info')).Swarm?.LocalNodeState === 'active'));
    const waiting = members.filter((_, i) => !back[i]);
    if (waiting.length === 0) return;
    if (Date.now() >= deadline) {
      throw failure(`${waiting.map((m) => m.hostname).join(', ')} did not come back Ready within ${READY_DEADLINE_MS / 1000} s of the restart${answer}: ` +
        'see their log lines above, or start over with `routemesh up --fresh` (that loses the swarm)');
    }
    if (await sleep(options.pollMs, options.signal)) return;
  }
}
