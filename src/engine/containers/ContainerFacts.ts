// What the engine API shows of one container on this node, whatever made it: a swarm task this node runs,
// or a standalone container (`docker run`). containerJson.ts turns it into Docker's JSON.
import type { TaskOutput } from '../../runtime/index.js';

/** Docker's container states that routemesh's containers go through. */
export type ContainerState = 'created' | 'running' | 'exited' | 'removing';

/** A port as `docker ps` lists it: published on the node (`IP`, `PublicPort`) or only exposed. */
export interface ContainerPort {
  PrivatePort: number;
  Type: 'tcp' | 'udp';
  IP?: string;
  PublicPort?: number;
}

/** One network the container is on, as Docker's EndpointSettings shows it. */
export interface ContainerEndpoint {
  NetworkID: string;
  /** The address as the network shows it (its own subnet). */
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  Aliases: string[];
  /** The loopback address it really binds (routemesh's addition; equal to IPAddress on the host network). */
  BindAddress: string;
}

export interface ContainerFacts {
  /** 64 hex characters. */
  readonly id: string;
  /** Without Docker's leading slash. */
  readonly name: string;
  /** As the user named it (`nginx`, `routemesh/exec:latest`). */
  readonly image: string;
  /** Entrypoint and command, as the container runs them. */
  readonly command: readonly string[];
  readonly env: readonly string[];
  readonly hostname: string;
  readonly created: Date;
  readonly state: ContainerState;
  readonly startedAt: Date | undefined;
  readonly finishedAt: Date | undefined;
  readonly exitCode: number;
  /** Why it could not start, as Docker's State.Error. */
  readonly error: string;
  /** The process it runs as (for the built-in images, routemesh's own); 0 when not running. */
  readonly pid: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly ports: readonly ContainerPort[];
  /** HostConfig.NetworkMode: `host`, `bridge`, a network's name, or (a task) the swarm's. */
  readonly networkMode: string;
  readonly networks: Readonly<Record<string, ContainerEndpoint>>;
  readonly autoRemove: boolean;
  /** Whether it is one of the swarm's tasks (routemesh's swarm owns its lifecycle). */
  readonly task: boolean;
  /** Its output, while this node's runtime keeps it. */
  output(): TaskOutput | undefined;
}

/** Go's zero time, which Docker shows for a container that never started or never finished. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';
