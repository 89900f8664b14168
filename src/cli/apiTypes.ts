// The parts of the engine API's objects the CLI reads (SPEC.md §2), all optional where a server may
// leave them out. Objects are otherwise passed through untouched: inspect prints what the server sent.

import type { FaultWording } from '../shared/index.js';

export interface ApiVersion {
  Index: number;
}

export interface ApiNode {
  ID: string;
  Version?: ApiVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec?: { Name?: string; Labels?: Record<string, string>; Role?: string; Availability?: string };
  Description?: {
    Hostname?: string;
    Platform?: { Architecture?: string; OS?: string };
    Resources?: { NanoCPUs?: number; MemoryBytes?: number };
    Engine?: { EngineVersion?: string; Labels?: Record<string, string>; Plugins?: { Type: string; Name: string }[] };
    TLSInfo?: { TrustRoot?: string; CertIssuerSubject?: string; CertIssuerPublicKey?: string };
  };
  Status?: { State?: string; Message?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string; Addr?: string };
}

export interface ApiPortConfig {
  Name?: string;
  Protocol?: string;
  TargetPort?: number;
  PublishedPort?: number;
  PublishMode?: string;
}

export interface ApiHealthConfig {
  Test?: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

export interface ApiUpdateConfig {
  Parallelism?: number;
  Delay?: number;
  FailureAction?: string;
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: string;
}

export interface ApiServiceSpec {
  Name?: string;
  Labels?: Record<string, string>;
  TaskTemplate?: {
    ContainerSpec?: {
      Image?: string;
      Labels?: Record<string, string>;
      Command?: string[];
      Args?: string[];
      Env?: string[];
      Dir?: string;
      User?: string;
      Init?: boolean;
      StopGracePeriod?: number;
      Healthcheck?: ApiHealthConfig;
      [extra: string]: unknown;
    };
    Resources?: { Limits?: { NanoCPUs?: number; MemoryBytes?: number }; Reservations?: { NanoCPUs?: number; MemoryBytes?: number } };
    RestartPolicy?: { Condition?: string; Delay?: number; MaxAttempts?: number; Window?: number };
    Placement?: { Constraints?: string[]; Preferences?: unknown[]; MaxReplicas?: number; Platforms?: unknown[] };
    Networks?: { Target: string }[];
    ForceUpdate?: number;
    [extra: string]: unknown;
  };
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, unknown>; ReplicatedJob?: unknown; GlobalJob?: unknown };
  UpdateConfig?: ApiUpdateConfig;
  RollbackConfig?: ApiUpdateConfig;
  EndpointSpec?: { Mode?: string; Ports?: ApiPortConfig[] };
  [extra: string]: unknown;
}

export interface ApiService {
  ID: string;
  Version?: ApiVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: ApiServiceSpec;
  PreviousSpec?: ApiServiceSpec;
  Endpoint?: { Spec?: unknown; Ports?: ApiPortConfig[]; VirtualIPs?: { NetworkID?: string; Addr?: string }[] };
  UpdateStatus?: { State?: string; StartedAt?: string; CompletedAt?: string; Message?: string };
  ServiceStatus?: { RunningTasks?: number; DesiredTasks?: number; CompletedTasks?: number };
}

/** routemesh's addition to Task: where the task really listens (a port below 1024 may have moved). */
export interface ApiTaskEndpoint {
  Addr?: string;
  Ports?: { Protocol?: string; TargetPort?: number; ListenPort?: number }[];
}

export interface ApiTask {
  ID: string;
  Version?: ApiVersion;
  CreatedAt?: string;
  UpdatedAt?: string;
  Name?: string;
  Spec?: { ContainerSpec?: { Image?: string } };
  ServiceID?: string;
  Slot?: number;
  NodeID?: string;
  Status?: {
    Timestamp?: string;
    State?: string;
    Message?: string;
    Err?: string;
    PortStatus?: { Ports?: ApiPortConfig[] };
  };
  DesiredState?: string;
  Endpoint?: ApiTaskEndpoint;
}

export interface ApiInfo {
  Swarm?: { NodeID?: string; NodeAddr?: string; LocalNodeState?: string; ControlAvailable?: boolean };
}

export interface ApiSwarm {
  ID?: string;
  Version?: ApiVersion;
  Spec?: unknown;
  JoinTokens?: { Worker?: string; Manager?: string };
}

/** An injected fault, as GET /routemesh/faults lists it. */
export interface ApiFault {
  ID: string;
  CreatedAt?: string;
  Spec: FaultWording & { ExpiresAt?: string };
}

/** One record of GET /routemesh/trace (src/mesh/MeshTrace.ts), as the CLI reads it. */
export interface ApiTraceRecord {
  type: string;
  at: string;
  node: string;
  service?: string;
  listener?: string;
  client?: string;
  algorithm?: string;
  attempt?: number;
  task?: string;
  name?: string;
  pool?: { task: string; name: string; state: string; weight: number; active: number }[];
  reason?: string;
  detail?: string;
  forMs?: number;
  ejection?: number;
  count?: number;
}
