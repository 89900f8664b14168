// The whole durable state of a swarm as plain JSON: what a manager exports and is made again from
// (`Manager.exportState`, `new Manager({ restore })`), and what its data directory holds. Versioned by
// `format`: a state of a format this build does not know is refused, never guessed at.
import type { Config, Fault, Network, NodeRole, Secret, Service, SwarmNode, SwarmSpec, Task } from './model.js';
import type { RootCAPems } from './RootCA.js';

export const SWARM_STATE_FORMAT = 1;

export interface SwarmState {
  format: typeof SWARM_STATE_FORMAT;
  swarm: {
    id: string;
    ingressNetworkId: string;
    createdAt: string;
    updatedAt?: string;
    spec: SwarmSpec;
    version?: number;
    rootCA: RootCAPems;
    /** The 25-character secret parts of the join tokens (the digest part is the CA's). */
    tokens: Record<NodeRole, string>;
  };
  /** The store's cluster-wide index: writes after a restore continue above it. */
  index: number;
  nodes: SwarmNode[];
  services: Service[];
  tasks: Task[];
  /** Absent in a state written before the swarm had them: none. */
  networks?: Network[];
  secrets?: Secret[];
  configs?: Config[];
  faults?: Fault[];
}

/**
 * The state, checked for the shape a restore relies on; throws an Error that says what is wrong with it.
 * The objects themselves are the store's own JSON and are taken as they are.
 */
export function checkSwarmState(value: unknown): SwarmState {
  const state = value as Partial<SwarmState> | null;
  if (typeof state !== 'object' || state === null) throw new Error('the swarm state is not a JSON object');
  if (state.format !== SWARM_STATE_FORMAT) {
    throw new Error(`the swarm state has format ${JSON.stringify(state.format)}, and this routemesh reads only format ${SWARM_STATE_FORMAT}`);
  }
  const swarm = state.swarm;
  const strings = ['id', 'ingressNetworkId', 'createdAt'] as const;
  if (typeof swarm !== 'object' || swarm === null || strings.some((key) => typeof swarm[key] !== 'string') ||
    typeof swarm.spec !== 'object' || swarm.spec === null) {
    throw new Error('the swarm state has no swarm ID, ingress network, creation time or spec');
  }
  if (typeof swarm.rootCA?.certificatePem !== 'string' || typeof swarm.rootCA.keyPem !== 'string') {
    throw new Error('the swarm state has no root CA certificate and key');
  }
  if (!/^[0-9a-z]{25}$/.test(swarm.tokens?.worker ?? '') || !/^[0-9a-z]{25}$/.test(swarm.tokens?.manager ?? '')) {
    throw new Error('the swarm state has no worker and manager join token secrets');
  }
  if (!Number.isSafeInteger(state.index) || state.index! < 0) throw new Error('the swarm state has no store index');
  for (const kind of ['nodes', 'services', 'tasks', 'networks', 'secrets', 'configs', 'faults'] as const) {
    const objects: unknown = state[kind];
    if (objects === undefined && kind !== 'nodes' && kind !== 'services' && kind !== 'tasks') continue;
    if (!Array.isArray(objects) || objects.some((o: { ID?: unknown } | null) => typeof o?.ID !== 'string')) {
      throw new Error(`the swarm state's ${kind} are not a list of objects with IDs`);
    }
  }
  return state as SwarmState;
}
