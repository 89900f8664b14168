// What the API routes need from the engine that serves them: its identity, its swarm membership,
// and the control plane when it is a manager. Routes never reach further than this.
import type { Manager, SwarmNode } from '../../swarm/index.js';
import type { TaskOutput } from '../../runtime/index.js';

/** Docker's LocalNodeState, with the role when active; `pending`: a restarted node on its way back into its swarm. */
export type LocalNodeState = 'inactive' | 'pending' | 'active/manager' | 'active/worker';

export interface EngineContext {
  readonly hostname: string;
  readonly address: string;
  /** The daemon's own labels (`dockerd --label`): /info's Labels, the node's Description.Engine.Labels. */
  readonly engineLabels: Readonly<Record<string, string>>;
  swarmState(): LocalNodeState;
  nodeId(): string | undefined;
  /** The control plane, or a 503 with the daemon's words when this engine is not a manager. */
  requireManager(): Manager;
  /**
   * What /info shows a manager of its swarm: the nodes and the swarm object, from the control plane on
   * the leader (refused as requireManager refuses), from the node's copies on another manager.
   */
  managerView(): { nodes: readonly SwarmNode[]; cluster: Record<string, unknown> | undefined };
  /** Managers this engine knows (for /info's RemoteManagers), even as a worker. */
  remoteManagers(): { NodeID: string; Addr: string }[];
  /** `forceNewCluster` on a manager that lost its quorum makes it the only manager of the same swarm. */
  init(forceNewCluster?: boolean): Promise<string>;
  join(request: { remoteAddr: string; token: string }): Promise<void>;
  leave(force: boolean): Promise<void>;
  /** A task's output, when it ran in this engine's runtime (in one process, the nodes share one). */
  taskOutput(taskId: string): TaskOutput | undefined;
  /** Whether the runtime's catalogue has this image (for /distribution). */
  hasImage(image: string): boolean;
  /**
   * Resolves once every change made so far is on disk (a leader with a data directory), so that what the
   * API has answered as done survives a crash, as Swarm answers once its Raft log has the change.
   */
  durable(): Promise<void>;
  /**
   * routemesh's fault injection: power a node off, or on again. A refusal is thrown at once. An engine
   * that fails itself powers off only once `answered` settles (the response is out); the promise it
   * returns settles then, so its caller must not wait for it before answering.
   */
  injectFault(hostname: string, action: 'fail' | 'recover', answered: Promise<void>): Promise<void>;
}
