// What the API routes need from the engine that serves them: its identity, its swarm membership,
// and the control plane when it is a manager. Routes never reach further than this.
import type { ClusterView, Manager, PortConfig, SwarmNode, SwarmReader, Task } from '../../swarm/index.js';
import type { NodeNetworks } from '../NodeNetworks.js';
import type { LogLine, TaskOutput } from '../../runtime/index.js';
import type { EventLog } from '../EventLog.js';
import type { NodeContainers } from '../containers/index.js';
import type { Volumes } from '../Volumes.js';
import type { DashboardFeed } from '../DashboardFeed.js';
import type { MeshReport, TraceSubscriber } from '../../mesh/index.js';

/** Docker's LocalNodeState, with the role when active; `pending`: a restarted node on its way back into its swarm. */
export type LocalNodeState = 'inactive' | 'pending' | 'active/manager' | 'active/worker';

export interface EngineContext {
  readonly hostname: string;
  readonly address: string;
  /** The daemon's own labels (`dockerd --label`): /info's Labels, the node's Description.Engine.Labels. */
  readonly engineLabels: Readonly<Record<string, string>>;
  /** The node's event feed (`docker events`): its parts record into it, GET /events reads it. */
  readonly events: EventLog;
  swarmState(): LocalNodeState;
  /** This node's containers: its swarm tasks and its standalone ones (node-local, as dockerd's). */
  readonly containers: NodeContainers;
  /** This node's bridge networks and its containers' places on networks, which the leader grants. */
  readonly networks: NodeNetworks;
  /** The node's own copy of the cluster (its link's view) and its node ID, while it is in a swarm. */
  nodeView(): { view: ClusterView; nodeId: string } | undefined;
  nodeId(): string | undefined;
  /** The control plane, or a 503 with the daemon's words when this engine is not a manager. */
  requireManager(): Manager;
  /**
   * The swarm as this manager reads it (the engine API's reads): the leader's control plane; on a manager
   * that follows a swarm kept in etcd, its copy once it has caught up with etcd; refused or forwarded as
   * requireManager otherwise.
   */
  reader(): Promise<SwarmReader>;
  /**
   * What /info shows a manager of its swarm: the nodes and the swarm object, from the control plane on
   * the leader (refused as requireManager refuses), from the node's copies on another manager.
   */
  managerView(): { nodes: readonly SwarmNode[]; cluster: Record<string, unknown> | undefined };
  /** This node's pools as it balances them now, while it is in a swarm. */
  meshReport(): MeshReport | undefined;
  /** Follows this node's balancing decisions (until the returned function is called), while it is in a swarm. */
  meshTrace(subscriber: TraceSubscriber): (() => void) | undefined;
  /** What the dashboard (/ui/) shows, live, while this node is a manager of a swarm. */
  dashboard(): DashboardFeed | undefined;
  /** Managers this engine knows (for /info's RemoteManagers), even as a worker. */
  remoteManagers(): { NodeID: string; Addr: string }[];
  /** `forceNewCluster` on a manager that lost its quorum makes it the only manager of the same swarm. */
  init(forceNewCluster?: boolean): Promise<string>;
  join(request: { remoteAddr: string; token: string }): Promise<void>;
  leave(force: boolean): Promise<void>;
  /** A task's output, when it ran in this engine's runtime (in one process, the nodes share one). */
  localTaskOutput(taskId: string): TaskOutput | undefined;
  /**
   * A task's output wherever it runs: from this engine's runtime, or asked of the task's node over its
   * engine API. Undefined when there is none (the task has not started, or ended long ago); rejects with a
   * sentence saying why when the task's node cannot be read (down, or not answering).
   */
  taskOutput(task: Task, options: TaskOutputOptions): Promise<TaskOutputFeed | undefined>;
  /** Whether this node can open a port a service wants to publish (a refusal is thrown, saying why). */
  probePort(port: PortConfig): Promise<void>;
  /** This node's volumes (`docker volume`), in or out of a swarm. */
  readonly volumes: Volumes;
  /** The containers (tasks of this node not yet ended) whose mounts use volume `name`: Docker refuses its removal while any does. */
  volumeUsers(name: string): string[];
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

export interface TaskOutputOptions {
  /** Lines from the end; undefined: all the task kept. */
  tail: number | undefined;
  /** Whether the feed goes on with the lines said from now on. */
  follow: boolean;
}

/** One task's output as a log route reads it, wherever the task runs. */
export interface TaskOutputFeed {
  /** Its last lines (the tail asked for), oldest first. */
  readonly lines: readonly LogLine[];
  /**
   * Following: each new line, those said since the feed opened first, until `close()`; `broken` once the
   * task's node can no longer be read (its process died), with a sentence saying so.
   */
  follow(onLine: (line: LogLine) => void, broken: (reason: string) => void): void;
  close(): void;
}
