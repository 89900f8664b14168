// The cluster's objects, in the Docker Engine API's own JSON shape (PascalCase, nanosecond durations),
// so the store can hand them to the engine API as they are. Behaviour lives elsewhere: this file is types.

import type { FaultWording } from '../shared/index.js';

export interface Version {
  Index: number;
}

export type NodeRole = 'manager' | 'worker';
export type NodeAvailability = 'active' | 'pause' | 'drain';
export type NodeState = 'unknown' | 'down' | 'ready' | 'disconnected';

export interface NodeSpec {
  Name?: string;
  Labels: Record<string, string>;
  Role: NodeRole;
  Availability: NodeAvailability;
}

export interface SwarmNode {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: NodeSpec;
  Description: {
    Hostname: string;
    Platform: { Architecture: string; OS: string };
    Resources: { NanoCPUs: number; MemoryBytes: number };
    Engine: { EngineVersion: string; Labels?: Record<string, string>; Plugins: { Type: string; Name: string }[] };
    TLSInfo: { TrustRoot: string; CertIssuerSubject: string; CertIssuerPublicKey: string };
  };
  Status: { State: NodeState; Addr: string; Message?: string };
  ManagerStatus?: { Leader?: boolean; Reachability: 'unknown' | 'unreachable' | 'reachable'; Addr: string };
}

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type PublishMode = 'ingress' | 'host';

export interface PortConfig {
  Name?: string;
  Protocol: Protocol;
  TargetPort: number;
  PublishedPort?: number;
  PublishMode: PublishMode;
}

export interface HealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface Mount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string; CreateMountpoint?: boolean } | null;
  VolumeOptions?: unknown;
  TmpfsOptions?: unknown;
  [extra: string]: unknown;
}

export interface ContainerSpec {
  Image: string;
  Labels?: Record<string, string>;
  Command?: string[];
  Args?: string[];
  Hostname?: string;
  Env?: string[];
  Dir?: string;
  User?: string;
  Init?: boolean;
  StopGracePeriod?: number;
  Healthcheck?: HealthConfig;
  /** Docker's mount.Mount; checked as Swarm checks them, not applied. */
  Mounts?: Mount[];
  [extra: string]: unknown;
}

export interface RestartPolicy {
  Condition?: 'none' | 'on-failure' | 'any';
  Delay?: number;
  MaxAttempts?: number;
  Window?: number;
}

export interface Placement {
  Constraints?: string[];
  Preferences?: unknown[];
  MaxReplicas?: number;
  Platforms?: { Architecture: string; OS: string }[];
}

export interface TaskSpec {
  ContainerSpec: ContainerSpec;
  Resources?: unknown;
  RestartPolicy?: RestartPolicy;
  Placement?: Placement;
  Networks?: { Target: string; Aliases?: string[] }[];
  ForceUpdate?: number;
  [extra: string]: unknown;
}

export interface UpdateConfig {
  Parallelism: number;
  Delay?: number;
  FailureAction?: 'pause' | 'continue' | 'rollback';
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface EndpointSpec {
  Mode?: 'vip' | 'dnsrr';
  Ports?: PortConfig[];
}

export interface ServiceMode {
  Replicated?: { Replicas?: number };
  Global?: Record<string, never>;
}

export interface ServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: TaskSpec;
  Mode: ServiceMode;
  UpdateConfig?: UpdateConfig;
  RollbackConfig?: UpdateConfig;
  EndpointSpec?: EndpointSpec;
  [extra: string]: unknown;
}

export interface VirtualIP {
  NetworkID: string;
  /** As Docker shows it: `10.0.1.2/24` on a user network (on ingress, the loopback VIP itself). */
  Addr: string;
  /** routemesh's addition, on a user network: the VIP in the network's loopback block, where the VIP node listens. */
  LoopbackAddr?: string;
}

export interface UpdateStatus {
  State: 'updating' | 'paused' | 'completed' | 'rollback_started' | 'rollback_paused' | 'rollback_completed';
  StartedAt?: string;
  CompletedAt?: string;
  Message: string;
}

export interface Service {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: ServiceSpec;
  PreviousSpec?: ServiceSpec;
  Endpoint: { Spec: EndpointSpec; Ports?: PortConfig[]; VirtualIPs?: VirtualIP[] };
  UpdateStatus?: UpdateStatus;
}

export const TASK_STATES = [
  'new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting', 'running',
  'complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export type DesiredState = 'running' | 'shutdown' | 'remove';

/** Rank in Swarm's lifecycle; every state from `complete` on is terminal. */
export function taskStateRank(state: TaskState): number {
  return TASK_STATES.indexOf(state);
}

export function isTerminal(state: TaskState): boolean {
  return taskStateRank(state) >= taskStateRank('complete');
}

/** Where a task really listens: its own address, and for each target port the port it got (see runtime). */
export interface TaskEndpoint {
  Addr: string;
  Ports: { Protocol: Protocol; TargetPort: number; ListenPort: number }[];
}

export interface Task {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Name?: string;
  Labels: Record<string, string>;
  Spec: TaskSpec;
  ServiceID: string;
  Slot?: number;
  NodeID: string;
  Status: {
    Timestamp: string;
    State: TaskState;
    Message: string;
    Err?: string;
    ContainerStatus?: { ContainerID: string; PID: number; ExitCode: number };
    PortStatus: { Ports?: PortConfig[] };
    /** routemesh's addition: the health check's verdict, for tasks that have one. */
    Health?: 'starting' | 'healthy' | 'unhealthy';
  };
  DesiredState: DesiredState;
  NetworksAttachments?: NetworkAttachment[];
  /** routemesh's addition: the task's own address and the ports it really listens on. */
  Endpoint?: TaskEndpoint;
  /** routemesh's addition: the container-like hostname the task's server reports. */
  Hostname?: string;
}

/** A swarm network (Go's swarm.Network), as the store keeps it; the engine API shows it as Docker's NetworkResource. */
export interface Network {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: {
    Name: string;
    Labels: Record<string, string>;
    DriverConfiguration?: { Name: string; Options?: Record<string, string> };
    IPv6Enabled?: boolean;
    Internal?: boolean;
    Attachable?: boolean;
    Ingress?: boolean;
    IPAMOptions?: { Driver?: { Name: string; Options?: Record<string, string> }; Configs?: { Subnet?: string; Range?: string; Gateway?: string }[] };
    Scope?: string;
    [extra: string]: unknown;
  };
  /** As allocated (Go's swarm.Network.IPAMOptions): the subnet as the user gave it, or one of Swarm's default pool, only ever shown. */
  IPAMOptions?: { Driver: { Name: string }; Configs: { Subnet: string; Gateway: string }[] };
  /**
   * routemesh's addition: the loopback block of the same size mapped one to one onto the shown subnet
   * (10.0.1.5 is 127.1.128.5 in 127.1.128.0/24): what the network's tasks, VIPs and containers really bind.
   */
  LoopbackSubnet?: string;
  /** routemesh's addition: the node a node-local (`bridge`, Scope `local`) network belongs to. */
  NodeID?: string;
  /** routemesh's addition: the standalone containers attached to it, by container ID (Docker's NetworkResource.Containers). */
  Containers?: Record<string, ContainerEndpoint>;
  [extra: string]: unknown;
}

/** A standalone container's place on a network, as the leader handed it out. */
export interface ContainerEndpoint {
  Name: string;
  NodeID: string;
  /** As Docker shows it, in the network's subnet: `159.0.0.5/24`. */
  Address: string;
  /** What the container binds, in the network's loopback block. */
  LoopbackAddress: string;
  Aliases?: string[];
}

/** One of a task's (or a container's) networks: Docker's form, plus what routemesh really binds. */
export interface NetworkAttachment {
  Network: { ID: string; Spec: { Name: string } };
  /** As Docker shows them, in the network's own subnet: `10.0.1.5/24`. */
  Addresses: string[];
  /** routemesh's addition: the same addresses in the network's loopback block, which the task binds (absent on ingress, whose addresses are loopback already). */
  LoopbackAddresses?: string[];
  /** The names the task also answers to on this network (`--network name=N,alias=A`). */
  Aliases?: string[];
}

/** What secrets and configs share (Go's swarm.SecretSpec and ConfigSpec): `Data` is base64, as the API carries []byte. */
export interface SecretSpec {
  Name: string;
  Labels: Record<string, string>;
  Data?: string;
  [extra: string]: unknown;
}

/** A secret (Go's swarm.Secret); its Data never leaves the swarm through the engine API. */
export interface Secret {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: SecretSpec;
}

/** A config (Go's swarm.Config): a secret whose data the API shows. */
export interface Config {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: SecretSpec;
}

/** The swarm's own settings (Go's swarm.Spec), as GET /swarm shows them and `docker swarm update` sends them. */
export interface SwarmSpec {
  Name: string;
  Labels: Record<string, string>;
  /** Tasks kept per slot (or per node), the running one included; negative keeps them all. */
  Orchestration: { TaskHistoryRetentionLimit: number };
  Raft: { SnapshotInterval: number; KeepOldSnapshots: number; LogEntriesForSlowFollowers: number; ElectionTick: number; HeartbeatTick: number };
  /** Nanoseconds, as the API counts durations. */
  Dispatcher: { HeartbeatPeriod: number };
  CAConfig: {
    NodeCertExpiry: number;
    ExternalCAs?: { Protocol: string; URL: string; Options?: Record<string, string>; CACert: string }[];
  };
  TaskDefaults: { LogDriver?: { Name?: string; Options?: Record<string, string> } };
  EncryptionConfig: { AutoLockManagers: boolean };
}

export function replicasOf(spec: ServiceSpec): number | undefined {
  return spec.Mode.Replicated ? (spec.Mode.Replicated.Replicas ?? 1) : undefined;
}

export function isGlobal(spec: ServiceSpec): boolean {
  return spec.Mode.Global !== undefined;
}

export function nowIso(): string {
  return new Date().toISOString();
}

/** What goes wrong on a link, as `routemesh fault add` names it. */
export const FAULT_KINDS = ['latency', 'bandwidth', 'refused', 'reset', 'blackhole', 'loss', 'duplicate', 'slow-connect', 'partition'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * Where a fault sits, by IDs (names as the user gave them, for display). A task is its slot (a global
 * task its node), so the slot's next task has it too, as Swarm's task names follow slots.
 */
export interface FaultTarget {
  Service?: { ID: string; Name: string };
  Slot?: number;
  /** A global service's task: the one on this node. */
  TaskNode?: { ID: string; Name: string };
  /** Only this node's mesh meets the fault, on its way to the target. */
  From?: { ID: string; Name: string };
  /** The links between these two nodes, both ways (a partition cuts their cluster port links too). */
  Between?: [{ ID: string; Name: string }, { ID: string; Name: string }];
}

/** Its kind, target and amounts (the fields shared's FaultWording words), and when it lifts itself. */
export interface FaultSpec extends FaultWording {
  Kind: FaultKind;
  Target: FaultTarget;
  /** When it lifts itself (RFC 3339); absent: until it is removed. */
  ExpiresAt?: string;
}

/** An injected fault (routemesh's own object, kept with the swarm's so every manager and node has it). */
export interface Fault {
  ID: string;
  Version: Version;
  CreatedAt: string;
  UpdatedAt: string;
  Spec: FaultSpec;
}
