// A node's agent: runs the tasks the managers assign to this node and reports their observed state
// back. It never writes desired state; it only starts what should run and stops what should not.
import type { ClusterView, DataReference, Service, StoreChange, Task, TaskStatusReport } from '../swarm/index.js';
import { DEFAULT_STOP_GRACE_PERIOD, NANOS_PER_MS, isTerminal, realTimer } from '../swarm/index.js';
import { RuntimeError, configTarget, healthProbe, secretTarget } from '../runtime/index.js';
import { HealthChecker } from '../lb/index.js';
import type { Runtime, RunningTask, TaskFile, TaskRunSpec } from '../runtime/index.js';
import type { EventSink } from './EventSink.js';
import { taskContainerAttributes, taskContainerId } from './taskContainer.js';
import type { Volumes } from './Volumes.js';

/** The narrow link an agent has to its managers. */
export interface AgentLink {
  view: ClusterView;
  reportTaskStatus(taskId: string, report: TaskStatusReport): void;
  /** Resolves once every node's mesh has applied the view as it is now (what it fences, they fence). */
  fenced?(): Promise<void>;
}

export interface AgentOptions {
  nodeId: string;
  link: AgentLink;
  runtime: Runtime;
  /** The node's volumes, which a task's volume mounts use (made when missing); absent: a volume mount is refused. */
  volumes?: Volumes;
  log?: (line: string) => void;
  /** Between fencing a task and stopping it on a planned stop (Swarm waits a fixed 2 s). */
  fencePeriodMs?: number;
  /** Where its task containers' events go (create, start, die, destroy), for `docker events`. */
  events?: EventSink;
  /** Whether a connection from `source` may reach a task's address on `network` (absent: any may). */
  admits?: (network: string, source: string | undefined) => boolean;
}

const DEFAULT_FENCE_PERIOD_MS = 2000;
/** Stops let through per turn once their fence period is over: a scale-down of thousands ends a slice at a time. */
const STOPS_PER_TURN = 50;
/**
 * Changed tasks a sync looks at per turn; the rest wait for the next. A task started costs three reports
 * (each a store write every node reads), so a slice of the manager's placements starts over a few turns.
 */
const TASKS_PER_TURN = 25;

/** A task this agent started: its handle once running, and the promises of its start and stop. */
interface RunEntry {
  handle?: RunningTask;
  starting: Promise<void>;
  stopping?: Promise<void>;
  checker?: HealthChecker;
}

/** A task's container, from its start until its task leaves the view (Swarm removes it then): what its events name. */
interface TaskContainer {
  id: string;
  attributes: Record<string, string>;
  startedAt: number;
  dead: boolean;
}

/** Docker's defaults for a health check field left at 0. */
const HEALTH_DEFAULTS = { intervalMs: 30_000, timeoutMs: 30_000, retries: 3 };

export class Agent {
  readonly nodeId: string;
  #link: AgentLink;
  #runtime: Runtime;
  #volumes: Volumes | undefined;
  /** The anonymous volumes (a volume mount without a source) each running task got: removed when it ends, as Docker removes them with their container. */
  #anonymousVolumes = new Map<string, string[]>();
  #log: (line: string) => void;
  #fencePeriodMs: number;
  #events: EventSink | undefined;
  /** The containers of the tasks this agent started, by task ID, until their task is gone. */
  #containers = new Map<string, TaskContainer>();
  #admits: AgentOptions['admits'];
  /** Tasks this agent has started (or is starting), by task ID. */
  #running = new Map<string, RunEntry>();
  /** The tasks to look at in the next sync: those of this node that changed, or all of them. */
  #dirty: Set<string> | 'all' = 'all';
  #syncQueued = false;
  #stopped = false;
  /** Stops waiting out their fence period, due in the order they were asked (the period is the same for all). */
  #fenced: { dueAt: number; release: () => void }[] = [];
  #fenceTimer: { cancel(): void } | undefined;
  /**
   * The task whose report is being written: its own write needs no second look. What the manager writes
   * back at once on a report only concerns an ended task, which this agent no longer runs.
   */
  #reporting: string | undefined;
  #onChange = (change: StoreChange): void => {
    if (change.kind !== 'task' || change.id === this.#reporting || (change.nodeId !== this.nodeId && !this.#running.has(change.id))) return;
    if (this.#dirty !== 'all') this.#dirty.add(change.id);
    this.#queueSync();
  };

  constructor(options: AgentOptions) {
    this.nodeId = options.nodeId;
    this.#link = options.link;
    this.#runtime = options.runtime;
    this.#volumes = options.volumes;
    this.#log = options.log ?? (() => {});
    this.#fencePeriodMs = options.fencePeriodMs ?? DEFAULT_FENCE_PERIOD_MS;
    this.#events = options.events;
    this.#admits = options.admits;
  }

  start(): void {
    this.#link.view.on('change', this.#onChange);
    this.#queueSync();
  }

  #queueSync(): void {
    if (this.#syncQueued || this.#stopped) return;
    this.#syncQueued = true;
    // A macrotask, not a microtask: every mesh re-syncs (and fences a stopping task) before we stop it.
    setImmediate(() => {
      this.#syncQueued = false;
      if (!this.#stopped) this.#sync();
    });
  }

  /** Looks at the tasks that changed (all of this node's at the start), a few a turn: starts, stops and reports. */
  #sync(): void {
    const view = this.#link.view;
    if (this.#dirty === 'all') this.#dirty = new Set([...this.#running.keys(), ...view.tasksOfNode(this.nodeId).map((t) => t.ID)]);
    const ids: string[] = [];
    for (const id of this.#dirty) {
      if (ids.length === TASKS_PER_TURN) break;
      ids.push(id);
      this.#dirty.delete(id);
    }
    if (this.#dirty.size) this.#queueSync();
    for (const id of ids) {
      const task = view.task(id);
      const mine = this.#running.get(id);
      // A task removed from the store with its node (`node rm --force`) must not run on unseen.
      if (!task || task.NodeID !== this.nodeId) {
        if (mine) this.#stopEntry(id, mine, 0, () => this.#destroyed(id));
        else this.#destroyed(id);
        continue;
      }
      if (isTerminal(task.Status.State)) continue;
      if (task.DesiredState === 'running') {
        // Past `assigned` but not running here: it ran here before the node restarted, and starts again,
        // as a restarted dockerd starts its swarm's tasks again.
        if (!mine) this.#startTask(task, view.service(task.ServiceID));
      } else if (mine) {
        this.#stopTask(task, view.service(task.ServiceID));
      } else {
        this.#report(task.ID, { State: 'shutdown', Message: 'shutdown' });
      }
    }
  }

  /** Reports run inside promise callbacks: one that throws must be logged, not become an unhandled rejection. */
  #report(taskId: string, report: TaskStatusReport): void {
    if (this.#stopped) return;
    this.#reporting = taskId;
    try {
      this.#link.reportTaskStatus(taskId, report);
    } catch (error) {
      this.#log(`agent of node ${this.nodeId}: could not report task ${taskId} ${report.State}: ${(error as Error).message}`);
    } finally {
      this.#reporting = undefined;
    }
  }

  #startTask(task: Task, service: Service | undefined): void {
    const entry: RunEntry = { starting: Promise.resolve() };
    this.#running.set(task.ID, entry);
    for (const state of ['accepted', 'preparing', 'starting'] as const) this.#report(task.ID, { State: state, Message: state });
    const spec = this.#runSpec(task, service);
    entry.starting = this.#withFiles(task, spec).then((ready) => this.#runtime.start(ready)).then(
      (handle) => {
        entry.handle = handle;
        this.#created(task, service);
        const started = { PID: handle.pid, Endpoint: { Addr: handle.address, Ports: handle.ports.map((p) => ({ ...p })) } };
        void handle.exited.then((code) => {
          this.#unmounted(task);
          this.#exited(task.ID, code);
        });
        const health = task.Spec.ContainerSpec.Healthcheck;
        const probe = healthProbe(health?.Test, handle.address, handle.ports, task.Spec.ContainerSpec.User, handle.mountNamespacePid);
        if (!probe) {
          this.#report(task.ID, { State: 'running', Message: 'started', ...started });
          return;
        }
        if (entry.stopping) return; // asked to stop while it started: no checks for a task on its way out
        // With a health check a task stays `starting`, out of every pool, until its first healthy result.
        this.#report(task.ID, { State: 'starting', Message: 'starting', Health: 'starting', ...started });
        entry.checker = new HealthChecker({
          probe,
          intervalMs: (health!.Interval ?? 0) / NANOS_PER_MS || HEALTH_DEFAULTS.intervalMs,
          timeoutMs: (health!.Timeout ?? 0) / NANOS_PER_MS || HEALTH_DEFAULTS.timeoutMs,
          retries: health!.Retries || HEALTH_DEFAULTS.retries,
          startPeriodMs: (health!.StartPeriod ?? 0) / NANOS_PER_MS,
          setTimer: realTimer,
          onStatus: (status) => {
            if (status === 'healthy') this.#report(task.ID, { State: 'running', Message: 'started', Health: 'healthy', ...started });
            else if (status === 'unhealthy') this.#unhealthy(task, service);
          },
        });
        entry.checker.start();
      },
      (error: unknown) => {
        this.#running.delete(task.ID);
        this.#dropAnonymousVolumes(task, undefined);
        const message = error instanceof Error ? error.message : String(error);
        // What Swarm's executor refuses before the container runs rejects the task, as there.
        const rejected = error instanceof RuntimeError && (error.code === 'NO_SUCH_IMAGE' || error.code === 'INVALID_MOUNT');
        this.#report(task.ID, { State: rejected ? 'rejected' : 'failed', Message: rejected ? 'preparing' : 'starting', Err: message });
      },
    );
  }

  #runSpec(task: Task, service: Service | undefined): TaskRunSpec {
    const container = task.Spec.ContainerSpec;
    const ports = (service?.Spec.EndpointSpec?.Ports ?? [])
      .filter((p) => p.Protocol === 'tcp' || p.Protocol === 'udp')
      .map((p) => ({ protocol: p.Protocol as 'tcp' | 'udp', targetPort: p.TargetPort }));
    return {
      taskId: task.ID,
      taskName: task.Name ?? task.ID,
      ...(task.Slot !== undefined ? { slot: task.Slot } : {}),
      hostname: task.Hostname ?? task.ID.slice(0, 12),
      address: task.Endpoint!.Addr,
      networkAddresses: (task.NetworksAttachments ?? []).flatMap((a) => (a.LoopbackAddresses ?? []).map((cidr) => ({
        network: a.Network.ID, name: a.Network.Spec.Name, address: cidr.split('/')[0]!,
      }))),
      ...(this.#admits ? { admits: this.#admits } : {}),
      image: container.Image,
      ...(container.Command ? { command: container.Command } : {}),
      ...(container.Args ? { args: container.Args } : {}),
      ...(container.Env ? { env: container.Env } : {}),
      ...(container.Mounts ? { mounts: container.Mounts } : {}),
      ...(container.User ? { user: container.User } : {}),
      ...(container.Dir ? { dir: container.Dir } : {}),
      ports: ports.filter((p, i) => ports.findIndex((q) => q.targetPort === p.targetPort && q.protocol === p.protocol) === i),
    };
  }

  /**
   * The task's secrets and configs with their data (the view has the data of those this node's tasks need), and the directories of its
   * volumes on this node (made when missing, as Docker makes a volume a mount names). A secret or config
   * the view lacks rejects the task, as swarmkit's agent does.
   */
  async #withFiles(task: Task, spec: TaskRunSpec): Promise<TaskRunSpec> {
    const container = task.Spec.ContainerSpec;
    const view = this.#link.view;
    const files: TaskFile[] = [];
    for (const kind of ['secret', 'config'] as const) {
      for (const ref of ((kind === 'secret' ? container.Secrets : container.Configs) ?? []) as DataReference[]) {
        const id = (kind === 'secret' ? ref.SecretID : ref.ConfigID) ?? '';
        const object = view.get(kind, id);
        if (!object?.Spec.Data) throw new RuntimeError('INVALID_MOUNT', `${kind} ${id} not found`);
        const name = ref.File?.Name ?? '';
        files.push({
          kind,
          target: kind === 'secret' ? secretTarget(name) : configTarget(name),
          data: Buffer.from(object.Spec.Data, 'base64'),
          uid: Number(ref.File?.UID) || 0,
          gid: Number(ref.File?.GID) || 0,
          mode: ref.File?.Mode ?? 0o444,
        });
      }
    }
    const containerId = spec.hostname;
    const mounts = await Promise.all((spec.mounts ?? []).map(async (mount) => {
      if (mount.Type?.toLowerCase() !== 'volume') return mount;
      if (!this.#volumes) throw new RuntimeError('INVALID_MOUNT', 'this node keeps no volumes');
      const name = mount.Source || (await this.#anonymousVolume(task.ID));
      return { ...mount, Source: name, hostPath: await this.#volumes.forMount(name, containerId, mount.Target ?? '', !!mount.ReadOnly) };
    }));
    return { ...spec, ...(files.length ? { files } : {}), ...(mounts.length ? { mounts } : {}) };
  }

  async #anonymousVolume(taskId: string): Promise<string> {
    const { Name } = await this.#volumes!.create();
    this.#anonymousVolumes.set(taskId, [...this.#anonymousVolumes.get(taskId) ?? [], Name]);
    return Name;
  }

  /** dockerd's unmount event for each volume a task that ended had mounted; its anonymous volumes go with it. */
  #unmounted(task: Task): void {
    const container = task.Status.ContainerStatus?.ContainerID || task.Hostname || task.ID;
    for (const mount of task.Spec.ContainerSpec.Mounts ?? []) {
      if (mount.Type?.toLowerCase() === 'volume' && mount.Source) this.#volumes?.unmounted(mount.Source, container);
    }
    this.#dropAnonymousVolumes(task, container);
  }

  /** Removes the anonymous volumes the task got (`container`: the one that had them mounted, if it ran). */
  #dropAnonymousVolumes(task: Task, container: string | undefined): void {
    for (const name of this.#anonymousVolumes.get(task.ID) ?? []) {
      if (container) this.#volumes?.unmounted(name, container);
      this.#volumes?.remove(name, [], true).catch((error: Error) => this.#log(`agent: removing the anonymous volume ${name} of task ${task.ID} failed: ${error.message}`));
    }
    this.#anonymousVolumes.delete(task.ID);
  }

  /**
   * Swarm's answer to an unhealthy task: it leaves every pool (the report fences it), is stopped as a planned
   * stop would be, and counts as failed, so the restart policy replaces it.
   */
  #unhealthy(task: Task, service: Service | undefined): void {
    const entry = this.#running.get(task.ID);
    if (!entry || entry.stopping) return;
    const current = this.#link.view.task(task.ID);
    this.#report(task.ID, { State: current?.Status.State ?? 'running', Message: 'unhealthy', Health: 'unhealthy' });
    this.#stopEntry(task.ID, entry, this.#graceMs(task, service), () => {
      this.#report(task.ID, {
        State: 'failed', Message: 'started', ExitCode: 143, Health: 'unhealthy',
        Err: 'task: non-zero exit (143): dockerexec: unhealthy container',
      });
    }, this.#fencePeriodMs);
  }

  /** The task's program ended by itself (a crash or an exit), not because we stopped it. */
  #exited(taskId: string, code: number): void {
    const entry = this.#running.get(taskId);
    entry?.checker?.stop();
    if (!entry || entry.stopping) return;
    this.#running.delete(taskId);
    this.#died(taskId, code);
    this.#report(taskId, code === 0
      ? { State: 'complete', Message: 'finished', ExitCode: 0 }
      : { State: 'failed', Message: 'started', Err: `task: non-zero exit (${code})`, ExitCode: code });
  }

  /**
   * A planned stop. The task is fenced on every node already (no new connections); the fence period
   * lets connections the meshes accepted just before reach it and be served (told to close after their
   * answer), then the task stops gracefully.
   */
  #stopTask(task: Task, service: Service | undefined): void {
    this.#stopEntry(task.ID, this.#running.get(task.ID)!, this.#graceMs(task, service), (code) => {
      this.#report(task.ID, { State: 'shutdown', Message: 'shutdown', ExitCode: code });
    }, this.#fencePeriodMs);
  }

  #graceMs(task: Task, service: Service | undefined): number {
    const graceNs = service?.Spec.TaskTemplate.ContainerSpec.StopGracePeriod ?? task.Spec.ContainerSpec.StopGracePeriod;
    return (graceNs ?? DEFAULT_STOP_GRACE_PERIOD) / NANOS_PER_MS;
  }

  /** `fenceMs` is given for a planned stop (the meshes have fenced the task), even when it is 0. */
  #stopEntry(taskId: string, entry: RunEntry, graceMs: number, stopped: (code: number) => void, fenceMs?: number): void {
    if (entry.stopping) return;
    entry.checker?.stop();
    // Asked now, for the view that fences the task: acknowledged, not assumed from an event loop's order.
    const everyMesh = fenceMs !== undefined ? this.#link.fenced?.() : undefined;
    entry.stopping = entry.starting.then(async () => {
      if (fenceMs !== undefined) {
        await everyMesh;
        entry.handle?.fence?.();
        if (fenceMs > 0) await this.#fence(fenceMs);
      }
      const code = entry.handle ? await entry.handle.stop(graceMs) : 0;
      this.#running.delete(taskId);
      this.#died(taskId, code);
      stopped(code);
    });
  }

  /**
   * Waits out a fence period, cut short when the agent stops (the node is going away anyway). One timer
   * serves every stop waiting; those due are let through a batch per turn (see #releaseFenced).
   */
  #fence(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((release) => {
      this.#fenced.push({ dueAt: performance.now() + ms, release });
      this.#fenceTimer ??= later(ms, () => this.#releaseFenced());
    });
  }

  #releaseFenced(): void {
    this.#fenceTimer = undefined;
    const now = performance.now();
    let released = 0;
    while (this.#fenced.length && this.#fenced[0]!.dueAt <= now && released++ < STOPS_PER_TURN) this.#fenced.shift()!.release();
    const next = this.#fenced[0];
    if (!next || this.#stopped) return;
    this.#fenceTimer = later(next.dueAt - now, () => this.#releaseFenced());
  }

  /**
   * Stops every task of this node (the node is going away); reports nothing more. `leaving`: the node
   * leaves its swarm, and its task containers are removed, as dockerd removes them on `swarm leave`.
   */
  async stop(leaving = false): Promise<void> {
    this.#stopped = true;
    this.#link.view.off('change', this.#onChange);
    this.#fenceTimer?.cancel();
    for (const { release } of this.#fenced.splice(0)) release();
    const entries = [...this.#running];
    this.#running.clear();
    await Promise.all(entries.map(async ([taskId, entry]) => {
      entry.checker?.stop();
      entry.stopping ??= entry.starting.then(async () => {
        if (entry.handle) this.#died(taskId, await entry.handle.stop(0));
      });
      await entry.stopping.catch(() => {});
    }));
    if (leaving) for (const taskId of [...this.#containers.keys()]) this.#destroyed(taskId);
  }

  // ---- its containers' events, as dockerd's -------------------------------------------------------

  #created(task: Task, service: Service | undefined): void {
    const container: TaskContainer = { id: taskContainerId(task), attributes: taskContainerAttributes(task, service), startedAt: Date.now(), dead: false };
    this.#containers.set(task.ID, container);
    this.#record(container, 'create');
    this.#record(container, 'start');
  }

  #died(taskId: string, exitCode: number): void {
    const container = this.#containers.get(taskId);
    if (!container || container.dead) return;
    container.dead = true;
    const execDuration = String(Math.floor((Date.now() - container.startedAt) / 1000));
    this.#record(container, 'die', { exitCode: String(exitCode), execDuration });
  }

  /** Its task is gone from the view: Swarm removes the container then. */
  #destroyed(taskId: string): void {
    const container = this.#containers.get(taskId);
    if (!container) return;
    this.#containers.delete(taskId);
    this.#record(container, 'destroy');
  }

  #record(container: TaskContainer, action: string, extra: Record<string, string> = {}): void {
    this.#events?.record({ Type: 'container', Action: action, Actor: { ID: container.id, Attributes: { ...container.attributes, ...extra } }, scope: 'local' });
  }
}

/** `run` after `ms`, or on the next turn when nothing is left to wait. */
function later(ms: number, run: () => void): { cancel(): void } {
  if (ms <= 0) {
    const immediate = setImmediate(run);
    return { cancel: () => clearImmediate(immediate) };
  }
  const timeout = setTimeout(run, ms);
  return { cancel: () => clearTimeout(timeout) };
}
