// The control plane of one swarm: accepts desired state (services, node changes), turns it into tasks
// placed on nodes, and takes task status back from the agents. Level-triggered: every change ends in
// `reconcile`, which reads the store and converges. Running tasks and routing are left to the nodes.
import type {
  NodeRole, NodeSpec, PortConfig, Service, ServiceSpec, SwarmNode, Task, TaskEndpoint, TaskState,
} from './model.js';
import { isGlobal, isTerminal, nowIso, replicasOf } from './model.js';
import { Store } from './Store.js';
import { Scheduler, isEligible } from './Scheduler.js';
import { Allocator } from './Allocator.js';
import type { AllocatorOptions } from './Allocator.js';
import { nodeSatisfies, parseConstraint } from './constraints.js';
import { normalizeServiceSpec } from './serviceSpec.js';
import { slotsToRemove } from './scaleDown.js';
import { SwarmError, failedPrecondition, invalidArgument, notFound, rpcError } from './errors.js';
import { newHostname, newObjectId } from './ids.js';
import { JoinTokens } from './JoinTokens.js';

const SECOND = 1_000_000_000;
const HISTORY_PER_SLOT = 5;

/** Checks that every node can open a published port; throws an Error whose message says what to do. */
export type PortProbe = (port: PortConfig) => Promise<void>;

export interface ManagerOptions extends AllocatorOptions {
  portProbe?: PortProbe;
  /** Injected so tests can run restart delays without waiting. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
}

export interface NodeJoin {
  hostname: string;
  addr: string;
  role: NodeRole;
  engineLabels?: Record<string, string>;
}

export interface TaskStatusReport {
  State: TaskState;
  Message: string;
  Err?: string;
  ExitCode?: number;
  PID?: number;
  Endpoint?: TaskEndpoint;
}

export const INGRESS_NETWORK_NAME = 'ingress';

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class Manager {
  readonly store = new Store();
  readonly swarmId = newObjectId();
  readonly ingressNetworkId = newObjectId();
  readonly tokens = new JoinTokens();
  readonly createdAt = nowIso();
  swarmVersion = this.store.nextIndex();
  swarmUpdatedAt = this.createdAt;
  #scheduler = new Scheduler();
  #allocator: Allocator;
  #portProbe: PortProbe;
  #setTimer: NonNullable<ManagerOptions['setTimer']>;
  #timers = new Set<{ cancel(): void }>();
  #closed = false;

  constructor(options: ManagerOptions) {
    this.#allocator = new Allocator(options);
    this.#portProbe = options.portProbe ?? (async () => {});
    this.#setTimer = options.setTimer ?? ((fn, ms) => {
      const handle = setTimeout(fn, ms);
      return { cancel: () => clearTimeout(handle) };
    });
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
  }

  // ---- nodes ----------------------------------------------------------------------------------

  addNode(join: NodeJoin): SwarmNode {
    const now = nowIso();
    const node: SwarmNode = {
      ID: newObjectId(),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: { Labels: {}, Role: join.role, Availability: 'active' },
      Description: {
        Hostname: join.hostname,
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: 2 * SECOND, MemoryBytes: 2 * 1024 ** 3 },
        Engine: {
          EngineVersion: '28.2.2',
          Labels: join.engineLabels ?? {},
          Plugins: [
            { Type: 'Log', Name: 'json-file' },
            { Type: 'Network', Name: 'overlay' },
            { Type: 'Volume', Name: 'local' },
          ],
        },
        TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
      },
      Status: { State: 'ready', Addr: join.addr },
    };
    this.#setManagerStatus(node);
    this.store.putNode(node);
    this.#reconcileAll();
    return node;
  }

  /** The first manager is the leader; the Raft of several managers is modelled by a later issue. */
  #setManagerStatus(node: SwarmNode): void {
    if (node.Spec.Role === 'manager') {
      const leader = !this.store.nodes().some((n) => n.ID !== node.ID && n.ManagerStatus?.Leader);
      node.ManagerStatus = { Leader: leader, Reachability: 'reachable', Addr: `${node.Status.Addr}:2377` };
    } else {
      delete node.ManagerStatus;
    }
  }

  updateNode(ref: string, version: number, input: unknown): void {
    const node = this.resolveNode(ref);
    const spec = this.#checkNodeSpec(input);
    if (node.Spec.Role === 'manager' && spec.Role === 'worker') {
      const managers = this.store.nodes().filter((n) => n.Spec.Role === 'manager');
      if (managers.length === 1) throw failedPrecondition('attempting to demote the last manager of the swarm');
    }
    const next = structuredClone(node);
    next.Spec = spec;
    if (spec.Role !== node.Spec.Role) this.#setManagerStatus(next);
    this.store.putNode(next, version);
    if (spec.Availability === 'drain') this.#shutDownTasksOn(node.ID, 'shutdown');
    this.#reconcileAll();
  }

  #checkNodeSpec(input: unknown): NodeSpec {
    if (typeof input !== 'object' || input === null) throw invalidArgument('the node spec must be a JSON object');
    const raw = input as Partial<NodeSpec>;
    const role = raw.Role ?? 'worker';
    const availability = raw.Availability ?? 'active';
    if (role !== 'manager' && role !== 'worker') throw invalidArgument(`node role must be manager or worker, got ${JSON.stringify(role)}`);
    if (!['active', 'pause', 'drain'].includes(availability)) {
      throw invalidArgument(`node availability must be active, pause or drain, got ${JSON.stringify(availability)}`);
    }
    const labels = raw.Labels ?? {};
    if (typeof labels !== 'object' || Array.isArray(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
      throw invalidArgument('node labels must be an object of strings');
    }
    return { ...(raw.Name ? { Name: raw.Name } : {}), Labels: { ...labels }, Role: role, Availability: availability };
  }

  removeNode(ref: string, force: boolean): void {
    const node = this.resolveNode(ref);
    if (node.Spec.Role === 'manager' && !force) {
      throw failedPrecondition(`node ${node.ID} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    }
    if (node.Status.State !== 'down' && !force) {
      throw failedPrecondition(`node ${node.ID} is not down and can't be removed`);
    }
    this.#shutDownTasksOn(node.ID, 'shutdown');
    for (const task of this.store.tasks()) if (task.NodeID === node.ID) this.#forgetTask(task);
    this.store.deleteNode(node.ID);
    this.#reconcileAll();
  }

  /** Marks a node Down or Ready (a leaving worker, a failed node); Down nodes' tasks are replaced elsewhere. */
  setNodeState(nodeId: string, state: 'ready' | 'down'): void {
    const node = this.store.node(nodeId);
    if (!node || node.Status.State === state) return;
    const next = structuredClone(node);
    next.Status.State = state;
    if (next.ManagerStatus) next.ManagerStatus.Reachability = state === 'ready' ? 'reachable' : 'unreachable';
    this.store.putNode(next);
    if (state === 'down') {
      for (const task of this.store.tasks()) {
        if (task.NodeID === nodeId && !isTerminal(task.Status.State)) {
          this.#writeTask(task, (t) => {
            t.DesiredState = t.DesiredState === 'running' ? 'shutdown' : t.DesiredState;
            t.Status = { ...t.Status, State: 'orphaned', Message: 'task belongs to a node that is down', Timestamp: nowIso() };
          });
          this.#taskEnded(this.store.task(task.ID)!);
        }
      }
    }
    this.#reconcileAll();
  }

  resolveNode(ref: string): SwarmNode {
    return this.#resolve('node', this.store.nodes(), ref, (n) => [n.Spec.Name, n.Description.Hostname]);
  }

  // ---- services -------------------------------------------------------------------------------

  resolveService(ref: string): Service {
    return this.#resolve('service', this.store.services(), ref, (s) => [s.Spec.Name]);
  }

  #resolve<T extends { ID: string }>(kind: string, all: T[], ref: string, names: (o: T) => (string | undefined)[]): T {
    const byId = all.find((o) => o.ID === ref);
    if (byId) return byId;
    const byName = all.filter((o) => names(o).includes(ref));
    if (byName.length === 1) return byName[0]!;
    const byPrefix = ref ? all.filter((o) => o.ID.startsWith(ref)) : [];
    if (byPrefix.length === 1) return byPrefix[0]!;
    if (byName.length > 1 || byPrefix.length > 1) {
      throw new SwarmError('invalid_argument', `${kind} ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found)`);
    }
    throw notFound(kind, ref);
  }

  async createService(input: unknown): Promise<Service> {
    const spec = normalizeServiceSpec(input);
    if (this.store.services().some((s) => s.Spec.Name === spec.Name)) {
      throw rpcError('already_exists', 'AlreadyExists', `name conflicts with an existing object: service ${spec.Name} already exists`);
    }
    const ports = this.#allocator.publishedPorts(spec.EndpointSpec?.Ports ?? [], this.store.services());
    await this.#probe(ports, []);
    // Checked again after the await: another create may have taken the name or a port meanwhile.
    if (this.store.services().some((s) => s.Spec.Name === spec.Name)) {
      throw rpcError('already_exists', 'AlreadyExists', `name conflicts with an existing object: service ${spec.Name} already exists`);
    }
    this.#allocator.publishedPorts(ports, this.store.services());
    const now = nowIso();
    const service: Service = {
      ID: newObjectId(),
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Spec: spec,
      Endpoint: this.#endpoint(spec, ports),
    };
    this.store.putService(service);
    this.reconcile(service.ID);
    return service;
  }

  #endpoint(spec: ServiceSpec, ports: PortConfig[], current?: Service['Endpoint']): Service['Endpoint'] {
    const endpoint: Service['Endpoint'] = { Spec: structuredClone(spec.EndpointSpec ?? { Mode: 'vip' }) };
    if (ports.length) endpoint.Ports = ports;
    if (spec.EndpointSpec?.Mode !== 'dnsrr') {
      const vip = current?.VirtualIPs?.[0] ?? {
        NetworkID: this.ingressNetworkId,
        Addr: `${this.#allocator.vips.allocate()}/${this.#allocator.vips.prefix}`,
      };
      endpoint.VirtualIPs = [vip];
    } else if (current?.VirtualIPs) {
      for (const vip of current.VirtualIPs) this.#allocator.vips.release(vip.Addr.split('/')[0]!);
    }
    return endpoint;
  }

  async #probe(ports: readonly PortConfig[], current: readonly PortConfig[]): Promise<void> {
    for (const port of ports) {
      if (port.PublishMode !== 'ingress') continue;
      if (current.some((c) => c.PublishedPort === port.PublishedPort && c.Protocol === port.Protocol)) continue;
      try {
        await this.#portProbe(port);
      } catch (err) {
        throw invalidArgument((err as Error).message);
      }
    }
  }

  async updateService(ref: string, version: number, input: unknown, rollback = false): Promise<Service> {
    const service = this.resolveService(ref);
    let spec: ServiceSpec;
    if (rollback) {
      if (!service.PreviousSpec) throw failedPrecondition(`service ${service.ID} does not have a previous spec`);
      spec = structuredClone(service.PreviousSpec);
    } else {
      spec = normalizeServiceSpec(input);
    }
    if (spec.Name !== service.Spec.Name) {
      throw rpcError('invalid_argument', 'Unimplemented', 'renaming services is not supported');
    }
    if (isGlobal(spec) !== isGlobal(service.Spec)) {
      throw invalidArgument('service mode change is not allowed');
    }
    if (service.Version.Index !== version) throw rpcError('out_of_sequence', 'Unknown', 'update out of sequence');
    const others = this.store.services().filter((s) => s.ID !== service.ID);
    const ports = this.#allocator.publishedPorts(spec.EndpointSpec?.Ports ?? [], others, service.Endpoint.Ports);
    await this.#probe(ports, service.Endpoint.Ports ?? []);
    const current = this.resolveService(service.ID);
    const next = structuredClone(current);
    next.PreviousSpec = structuredClone(current.Spec);
    next.Spec = spec;
    next.Endpoint = this.#endpoint(spec, ports, current.Endpoint);
    // A stale `completed` would make the docker CLI's progress display return at once (SPEC.md §7.4).
    delete next.UpdateStatus;
    if (rollback) {
      next.UpdateStatus = { State: 'rollback_started', Message: 'manually requested rollback', StartedAt: nowIso() };
    } else if (!sameJson(spec.TaskTemplate, current.Spec.TaskTemplate)) {
      next.UpdateStatus = { State: 'updating', Message: 'update in progress', StartedAt: nowIso() };
    }
    this.store.putService(next, version);
    this.reconcile(next.ID);
    return next;
  }

  removeService(ref: string): void {
    const service = this.resolveService(ref);
    for (const vip of service.Endpoint.VirtualIPs ?? []) this.#allocator.vips.release(vip.Addr.split('/')[0]!);
    this.store.deleteService(service.ID);
    for (const task of this.store.tasksOfService(service.ID)) {
      if (task.NodeID === '' || isTerminal(task.Status.State)) this.#forgetTask(task);
      else this.#writeTask(task, (t) => { t.DesiredState = 'remove'; });
    }
  }

  /** A task is up to date when it was made from the service's current template. */
  isUpToDate(task: Task, service: Service): boolean {
    return sameJson(task.Spec, service.Spec.TaskTemplate);
  }

  // ---- reconciliation -------------------------------------------------------------------------

  #reconcileAll(): void {
    for (const service of this.store.services()) this.reconcile(service.ID);
  }

  reconcile(serviceId: string): void {
    if (this.#closed) return;
    const service = this.store.service(serviceId);
    if (!service) return;
    if (isGlobal(service.Spec)) this.#reconcileGlobal(service);
    else this.#reconcileReplicated(service, replicasOf(service.Spec)!);
    this.#scheduleUnassigned(service);
    this.#completeUpdate(service);
  }

  /** The task each slot runs now: the newest one whose desired state is running. */
  #activeSlots(service: Service): Map<number, Task> {
    const slots = new Map<number, Task>();
    for (const task of this.store.tasksOfService(service.ID)) {
      if (task.DesiredState !== 'running' || task.Slot === undefined) continue;
      const held = slots.get(task.Slot);
      if (!held || held.CreatedAt < task.CreatedAt) slots.set(task.Slot, task);
    }
    return slots;
  }

  #reconcileReplicated(service: Service, replicas: number): void {
    const slots = this.#activeSlots(service);
    // Out-of-date tasks are replaced in place (same slot); rolling pace is a later issue's updater.
    for (const [slot, task] of slots) {
      if (!this.isUpToDate(task, service)) {
        this.#writeTask(task, (t) => { t.DesiredState = 'shutdown'; });
        slots.delete(slot);
        this.#newTask(service, { slot });
      }
    }
    if (slots.size > replicas) {
      for (const slot of slotsToRemove(slots, replicas)) {
        this.#writeTask(slots.get(slot)!, (t) => { t.DesiredState = 'remove'; });
        slots.delete(slot);
      }
    }
    const pendingRestart = new Set(this.#restarting.get(service.ID) ?? []);
    for (let slot = 1; slots.size + pendingRestart.size < replicas; slot++) {
      if (slots.has(slot) || pendingRestart.has(slot)) continue;
      slots.set(slot, this.#newTask(service, { slot }));
    }
  }

  #reconcileGlobal(service: Service): void {
    const constraints = (service.Spec.TaskTemplate.Placement?.Constraints ?? []).map(parseConstraint);
    const eligible = new Set(
      this.store.nodes().filter((n) => isEligible(n) && nodeSatisfies(n, constraints)).map((n) => n.ID),
    );
    const running = new Map<string, Task>();
    for (const task of this.store.tasksOfService(service.ID)) {
      if (task.DesiredState !== 'running') continue;
      if (!eligible.has(task.NodeID) || !this.isUpToDate(task, service)) {
        // A paused node keeps what it runs; drained, down or no longer matching nodes do not.
        const node = this.store.node(task.NodeID);
        const keep = node?.Spec.Availability === 'pause' && node.Status.State === 'ready' && this.isUpToDate(task, service);
        if (!keep) this.#writeTask(task, (t) => { t.DesiredState = 'shutdown'; });
        else running.set(task.NodeID, task);
        continue;
      }
      running.set(task.NodeID, task);
    }
    const restarting = this.#restarting.get(service.ID);
    for (const nodeId of eligible) {
      if (!running.has(nodeId) && !restarting?.has(nodeId)) this.#newTask(service, { nodeId });
    }
  }

  #newTask(service: Service, where: { slot?: number; nodeId?: string }): Task {
    const now = nowIso();
    const id = newObjectId();
    const address = this.#allocator.tasks.allocate();
    const task: Task = {
      ID: id,
      Version: { Index: 0 },
      CreatedAt: now,
      UpdatedAt: now,
      Name: `${service.Spec.Name}.${where.slot ?? where.nodeId}.${id}`,
      Labels: {},
      Spec: structuredClone(service.Spec.TaskTemplate),
      ServiceID: service.ID,
      ...(where.slot !== undefined ? { Slot: where.slot } : {}),
      NodeID: where.nodeId ?? '',
      Status: { Timestamp: now, State: where.nodeId ? 'assigned' : 'pending', Message: where.nodeId ? 'assigned' : 'pending task scheduling', PortStatus: {} },
      DesiredState: 'running',
      NetworksAttachments: [{
        Network: { ID: this.ingressNetworkId, Spec: { Name: INGRESS_NETWORK_NAME } },
        Addresses: [`${address}/${this.#allocator.tasks.prefix}`],
      }],
      Endpoint: { Addr: address, Ports: [] },
      Hostname: newHostname(),
    };
    return this.store.putTask(task);
  }

  /** Places the service's pending tasks as one batch, so they spread over the nodes. */
  #scheduleUnassigned(service: Service): void {
    const pending = this.store.tasksOfService(service.ID).filter((t) => t.NodeID === '' && t.DesiredState === 'running');
    if (!pending.length) return;
    const constraints = (service.Spec.TaskTemplate.Placement?.Constraints ?? []).map(parseConstraint);
    const maxPerNode = service.Spec.TaskTemplate.Placement?.MaxReplicas ?? 0;
    const nodes = this.store.nodes();
    const choices = this.#scheduler.place({ serviceId: service.ID, constraints, maxPerNode }, pending.length, nodes, this.store.tasks());
    pending.forEach((task, i) => {
      const nodeId = choices[i];
      this.#writeTask(task, (t) => {
        if (nodeId) {
          t.NodeID = nodeId;
          t.Status = { ...t.Status, State: 'assigned', Message: 'scheduler assigned task to node', Timestamp: nowIso() };
          delete t.Status.Err;
        } else {
          const reason = constraints.length ? `scheduling constraints not satisfied on ${nodes.length} nodes` : `${nodes.length} nodes not available for new tasks`;
          t.Status = { ...t.Status, Err: `no suitable node (${reason})` };
        }
      });
    });
  }

  /** A rollback (or update) is complete once every slot runs an up-to-date task. */
  #completeUpdate(service: Service): void {
    const state = service.UpdateStatus?.State;
    if (state !== 'rollback_started' && state !== 'updating') return;
    const tasks = this.store.tasksOfService(service.ID).filter((t) => t.DesiredState === 'running');
    const done = tasks.every((t) => t.Status.State === 'running' && this.isUpToDate(t, service));
    if (!done) return;
    const next = structuredClone(service);
    next.UpdateStatus = state === 'rollback_started'
      ? { ...service.UpdateStatus!, State: 'rollback_completed', Message: 'rollback completed', CompletedAt: nowIso() }
      : { ...service.UpdateStatus!, State: 'completed', Message: 'update completed', CompletedAt: nowIso() };
    this.store.putService(next);
  }

  // ---- task status from agents ----------------------------------------------------------------

  #restarting = new Map<string, Set<number | string>>();

  reportTaskStatus(taskId: string, report: TaskStatusReport): void {
    const task = this.store.task(taskId);
    if (!task || isTerminal(task.Status.State)) return;
    this.#writeTask(task, (t) => {
      t.Status = {
        ...t.Status,
        State: report.State,
        Message: report.Message,
        Timestamp: nowIso(),
        ...(report.Err ? { Err: report.Err } : {}),
      };
      if (report.ExitCode !== undefined || report.PID !== undefined) {
        t.Status.ContainerStatus = {
          ContainerID: t.Hostname ?? '',
          PID: report.PID ?? t.Status.ContainerStatus?.PID ?? 0,
          ExitCode: report.ExitCode ?? 0,
        };
      }
      if (report.Endpoint) t.Endpoint = report.Endpoint;
    });
    const updated = this.store.task(taskId)!;
    if (isTerminal(updated.Status.State)) this.#taskEnded(updated);
    else {
      const service = this.store.service(updated.ServiceID);
      if (service?.UpdateStatus) this.#completeUpdate(service);
    }
  }

  /** After a task ends: free its address, delete it if it was removed, else apply the restart policy. */
  #taskEnded(task: Task): void {
    if (task.Endpoint) this.#allocator.tasks.release(task.Endpoint.Addr);
    const service = this.store.service(task.ServiceID);
    if (!service || task.DesiredState === 'remove') {
      this.store.deleteTask(task.ID);
      return;
    }
    if (task.DesiredState === 'running') {
      this.#writeTask(task, (t) => { t.DesiredState = 'shutdown'; });
      this.#restart(service, task);
    }
    this.#trimHistory(service, task);
  }

  #restart(service: Service, task: Task): void {
    const policy = service.Spec.TaskTemplate.RestartPolicy ?? {};
    const condition = policy.Condition ?? 'any';
    const failed = task.Status.State !== 'complete';
    if (condition === 'none' || (condition === 'on-failure' && !failed)) return;
    const key = task.Slot ?? task.NodeID;
    const delayMs = (policy.Delay ?? 5 * SECOND) / 1e6;
    let pending = this.#restarting.get(service.ID);
    if (!pending) this.#restarting.set(service.ID, (pending = new Set()));
    pending.add(key);
    const timer = this.#setTimer(() => {
      this.#timers.delete(timer);
      pending!.delete(key);
      this.reconcile(service.ID);
    }, delayMs);
    this.#timers.add(timer);
  }

  #trimHistory(service: Service, task: Task): void {
    const sameSlot = this.store.tasksOfService(service.ID)
      .filter((t) => (task.Slot !== undefined ? t.Slot === task.Slot : t.NodeID === task.NodeID) && isTerminal(t.Status.State))
      .sort((a, b) => (a.CreatedAt < b.CreatedAt ? 1 : -1));
    for (const old of sameSlot.slice(HISTORY_PER_SLOT)) this.store.deleteTask(old.ID);
  }

  #shutDownTasksOn(nodeId: string, desired: 'shutdown' | 'remove'): void {
    for (const task of this.store.tasks()) {
      if (task.NodeID === nodeId && task.DesiredState === 'running') this.#writeTask(task, (t) => { t.DesiredState = desired; });
    }
  }

  #forgetTask(task: Task): void {
    if (task.Endpoint && !isTerminal(task.Status.State)) this.#allocator.tasks.release(task.Endpoint.Addr);
    this.store.deleteTask(task.ID);
  }

  #writeTask(task: Task, change: (t: Task) => void): void {
    const next = structuredClone(this.store.task(task.ID) ?? task);
    change(next);
    this.store.putTask(next);
  }

  // ---- the swarm object -----------------------------------------------------------------------

  rotateTokens(version: number, worker: boolean, manager: boolean): void {
    if (version !== this.swarmVersion) throw rpcError('out_of_sequence', 'Unknown', 'update out of sequence');
    if (worker) this.tokens.rotate('worker');
    if (manager) this.tokens.rotate('manager');
    this.swarmVersion = this.store.nextIndex();
    this.swarmUpdatedAt = nowIso();
  }
}
