// The contract between a node's agent and the runtime: what a task is asked to run, and the handle
// the runtime gives back. The agent owns task state in the cluster; the runtime owns processes and sockets.

export type TransportProtocol = 'tcp' | 'udp';

export interface TaskRunSpec {
  taskId: string;
  /** <service>.<slot>.<taskId> for replicated tasks, <service>.<nodeId>.<taskId> for global ones. */
  taskName: string;
  slot?: number;
  /** Container-like hostname (12 hex characters). */
  hostname: string;
  /** The task's own address (127.20.x.y): every socket of the task binds there. */
  address: string;
  /** Its address on each of its networks (in the network's loopback block): a built-in image listens on each as on `address`. */
  networkAddresses?: readonly NetworkAddress[];
  /**
   * Whether a connection from `source` may reach the task at its address on `network` (routemesh's
   * isolation: a task that is not on the network may not); absent, every source may.
   */
  admits?: (network: string, source: string | undefined) => boolean;
  /** As in the service spec, possibly `name:tag@sha256:...`. */
  image: string;
  command?: string[];
  args?: string[];
  /** `KEY=value` strings, as in the service spec. */
  env?: string[];
  /** ContainerSpec.Dir: the working directory; unset, `/`. */
  dir?: string;
  /** ContainerSpec.User: "name|uid[:group|gid]"; unset, routemesh's own user (nobody when that is root). */
  user?: string;
  /** Target ports of the service's endpoint spec. */
  ports: { protocol: TransportProtocol; targetPort: number }[];
  /** The container spec's mounts: checked as Docker checks them; applied for routemesh/exec (see TaskFiles). */
  mounts?: readonly TaskMount[];
  /** The task's secrets and configs, with their data: where routemesh/exec's program reads them. */
  files?: readonly TaskFile[];
}

/** A secret's or config's data at the path the task reads it from (its reference's File target, resolved). */
export interface TaskFile {
  kind: 'secret' | 'config';
  /** Absolute: /run/secrets/<name> for a secret named by a bare name. */
  target: string;
  data: Buffer;
  uid: number;
  gid: number;
  mode: number;
}

export interface NetworkAddress {
  /** The network's ID. */
  network: string;
  /** Its name, for the environment of exec tasks. */
  name: string;
  address: string;
}

/** The fields of a Docker mount (api/types/mount) that its checks read. */
export interface TaskMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { CreateMountpoint?: boolean } | null;
  VolumeOptions?: unknown;
  /** A volume's directory on this node, as the node's volumes give it (a bind's is its Source). */
  hostPath?: string;
}

export interface ListenPort {
  Protocol: TransportProtocol;
  TargetPort: number;
  /** Equals TargetPort, unless the OS refused a port below 1024 and the task moved to an unprivileged one. */
  ListenPort: number;
}

export interface RunningTask {
  readonly address: string;
  readonly ports: ListenPort[];
  /**
   * routemesh/exec: the PID of the process routemesh started (in a PID namespace, the one that holds it, as
   * a container's is its init's); this process's PID for the built-in images.
   */
  readonly pid: number;
  /**
   * routemesh/exec as root, in a mount namespace of its own (TaskFiles): a process in it, whose mount
   * namespace the task's health command joins, so it sees the task's secrets and mounts.
   */
  readonly mountNamespacePid?: number;
  /** Resolves with the exit code when the task ends for any reason (stop, crash, its program exiting). */
  readonly exited: Promise<number>;
  /**
   * The meshes have fenced the task (no new connections come) and a stop follows: a built-in image's
   * servers close each kept-alive connection with its next answer. A program of its own hears nothing.
   */
  fence?(): void;
  /** Graceful stop: SIGTERM (or closing the server), SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs: number): Promise<number>;
  /** `docker kill`: SIGKILL at once, no SIGTERM first (a program of its own); resolves with the exit code. */
  kill?(): Promise<number>;
  /** Recent output lines, oldest first; `onLog` sees new ones. */
  readonly logs: LogLine[];
  onLog(listener: (line: LogLine) => void): () => void;
}

export interface LogLine {
  time: Date;
  stream: 'stdout' | 'stderr';
  text: string;
}

export class RuntimeError extends Error {
  readonly code: 'NO_SUCH_IMAGE' | 'INVALID_MOUNT' | 'START_FAILED';
  constructor(code: RuntimeError['code'], message: string) {
    super(message);
    this.name = 'RuntimeError';
    this.code = code;
  }
}
