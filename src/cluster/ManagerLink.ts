// A node's side of the cluster protocol: its link to the swarm's managers. It holds a copy of the cluster
// view, kept by one session stream (the whole view, then numbered changes; a gap or a new manager process
// makes it ask for the whole view again), beats, sends its agent's task reports in batches, and tells the
// manager what view its mesh has applied. It keeps the managers' list from the view and, when the one it
// talks to fails, dials the next.
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type http from 'node:http';
import https from 'node:https';
import { PLAIN_KINDS, SWARM_STATE_FORMAT, SwarmError, Store, joinTokenDigestOf, realTimer } from '../swarm/index.js';
import type { SwarmErrorCode, SwarmNode, SwarmSource, SwarmState, TaskStatusReport, Timer } from '../swarm/index.js';
import { CLUSTER_PORT, PATHS } from './protocol.js';
import { clientTls, clusterAgent, newNodeKey, tokenDigest, unverifiedAgent } from './nodeTls.js';
import type { NodeTls } from './nodeTls.js';
import type { JoinAnswer, JoinRequest, NetworkAnswer, NetworkRequest, SessionMessage, StatusReport } from './protocol.js';

export interface ManagerLinkOptions {
  nodeId: string;
  /** The node's own address: its connections to managers come from it. */
  address: string;
  /** The managers' cluster addresses (`addr:2377`), the one to try first first. */
  managers: readonly string[];
  heartbeatPeriodMs: number;
  /** Its key and certificate, and the swarm's root: every call to a manager is mutual TLS. */
  tls: NodeTls;
  /** Between tries of a manager that did not answer (default 250 ms). */
  retryMs?: number;
  /** The longest a planned stop waits for every mesh to have fenced its task (default 5 s). */
  fenceAckTimeoutMs?: number;
  log?: (line: string) => void;
}

const REQUEST_TIMEOUT_MS = 5000;

/** An answer that is not 200 from a manager, with its code and message; or no answer at all. */
export class ClusterRequestError extends Error {
  readonly code: SwarmErrorCode | 'unreachable';
  /** Where the leader is, said by a manager that is not. */
  readonly leader: string | undefined;
  constructor(code: SwarmErrorCode | 'unreachable', message: string, leader?: string) {
    super(message);
    this.code = code;
    this.leader = leader;
  }
}

/** A manager's answer to a ping. */
export interface Pong {
  leader: boolean;
  /** The highest version its swarm (or its copy of it) has: the freshest copy is the one to lead from. */
  index: number;
}

/** How long a node waits for its first view after a join before it gives up (and says so). */
const START_DEADLINE_MS = 15_000;
/** How long a manager has to answer a ping before it counts as unreachable. */
const PING_TIMEOUT_MS = 1000;
/** A leader is taken for lost after this many heartbeat periods without a session, as a node is taken for Down. */
const MISSED_PERIODS = 3;
/** However short the heartbeat period, a session is given this long between messages. */
const MIN_SILENCE_MS = 1000;
/** A session message longer than this is not one a manager sends (a whole view of 10,000 tasks is about 10 MB). */
const MAX_MESSAGE_CHARS = 256 << 20;
/** Task reports a POST carries at most: a long outage's backlog goes in pieces the manager takes. */
const REPORTS_PER_POST = 500;

export class ManagerLink extends EventEmitter {
  readonly nodeId: string;
  /** The node's copy of the cluster view: what its agent and mesh read. */
  readonly view = new Store();
  /** The swarm object, as the manager sends it to managers: as /info shows it, and whole (to lead it, should the leader go). */
  swarm: Record<string, unknown> | undefined;
  swarmState: SwarmState['swarm'] | undefined;
  /** When the last session broke, while no other has synced since. */
  #lostAt: number | undefined;
  readonly #address: string;
  #agent: https.Agent;
  #tls: NodeTls;
  /** When its certificate is half way through its life: it asks for a new one then, as swarmkit's nodes renew theirs. */
  #renewAt: number;
  #renewing = false;
  /** Said once, not each beat. */
  #renewFailed = false;
  readonly #log: (line: string) => void;
  readonly #retryMs: number;
  readonly #fenceAckTimeoutMs: number;
  #managers: string[];
  #current = 0;
  #periodMs: number;
  #epoch: string | undefined;
  #seq = 0;
  /** The seq every Ready node's mesh has applied, as the manager last said; -1 while none is said. */
  #appliedByAll = -1;
  #waiters: { seq: number; release: () => void }[] = [];
  #stream: http.ClientRequest | undefined;
  #synced = false;
  #reports: StatusReport[] = [];
  #sending = false;
  #ackQueued = false;
  #acking = false;
  #ackSent = -1;
  #heartbeat: Timer | undefined;
  /** Armed by each chunk of the session: fires when the manager has been silent too long. */
  #silence: Timer | undefined;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ManagerLinkOptions) {
    super();
    this.nodeId = options.nodeId;
    this.#address = options.address;
    this.#managers = [...options.managers];
    this.#periodMs = options.heartbeatPeriodMs;
    this.#retryMs = options.retryMs ?? 250;
    this.#fenceAckTimeoutMs = options.fenceAckTimeoutMs ?? 5000;
    this.#log = options.log ?? (() => {});
    this.#tls = options.tls;
    this.#agent = clusterAgent(options.tls, this.#address, true);
    this.#renewAt = halfLife(options.tls.cert);
  }

  /** Its key, certificate and the swarm's root, as it speaks now (renewed: the `certificate` event says so). */
  get tls(): NodeTls {
    return this.#tls;
  }

  /**
   * Asks a manager to admit this node (a manager that does not lead names the leader, which is asked then),
   * with a new key of its own; resolves with the answer and the TLS the node speaks from then on. A node new
   * to the swarm first fetches the manager's root CA and checks it against its token's digest, so its token
   * goes only to a manager of the swarm it names; one rejoining (`tls`, its old certificate) trusts its root.
   */
  static async join(manager: string, request: Omit<JoinRequest, 'publicKey'>, tls?: NodeTls): Promise<{ answer: JoinAnswer; tls: NodeTls }> {
    const rootCA = tls?.ca ?? await ManagerLink.#pinnedRoot(manager, request.token, request.addr);
    const key = newNodeKey();
    const agent = clusterAgent({ ...tls, ca: rootCA }, request.addr);
    const body = { ...request, publicKey: key.publicKeyPem };
    try {
      const answer = await post<JoinAnswer>(agent, manager, PATHS.join, body).catch((error: ClusterRequestError) => {
        if (error.leader && error.leader !== manager) return post<JoinAnswer>(agent, error.leader, PATHS.join, body);
        throw error;
      });
      return { answer, tls: { key: key.privateKeyPem, cert: answer.certificate, ca: answer.rootCA } };
    } finally {
      agent.destroy();
    }
  }

  /** The manager's root CA, once its digest is the one `token` carries (Swarm's pinning). */
  static async #pinnedRoot(manager: string, token: string, localAddress: string): Promise<string> {
    const digest = tokenDigest(token);
    if (!digest) throw new ClusterRequestError('invalid_argument', 'invalid join token');
    const agent = unverifiedAgent(localAddress);
    try {
      const { rootCA } = await get<{ rootCA?: string }>(agent, manager, PATHS.ca, REQUEST_TIMEOUT_MS);
      if (typeof rootCA !== 'string' || joinTokenDigestOf(rootCA) !== digest) {
        throw new ClusterRequestError('invalid_argument', `the manager at ${manager} is not one of the swarm this token joins: ` +
          "its root CA does not match the token's digest (a token of another swarm, or the wrong address?)");
      }
      return rootCA;
    } finally {
      agent.destroy();
    }
  }

  /**
   * Whether the manager at `manager` answers, whether it leads, and the index of its swarm (or its copy);
   * undefined when it does not answer within a second. A manager shows its certificate (`tls`), and trusts
   * only a manager of its swarm; without, anyone may ask (a ping tells nothing of the swarm).
   */
  static async ping(manager: string, localAddress: string, tls?: NodeTls): Promise<Pong | undefined> {
    const agent = tls ? clusterAgent(tls, localAddress) : unverifiedAgent(localAddress);
    try {
      return await get<Pong>(agent, manager, PATHS.ping, PING_TIMEOUT_MS);
    } catch {
      return undefined;
    } finally {
      agent.destroy();
    }
  }

  /** The swarm as this manager's copies have it, whole: what it leads from should the leader go. */
  swarmCopy(): SwarmState | undefined {
    const view = this.view;
    return this.swarmState && structuredClone({
      format: SWARM_STATE_FORMAT, swarm: this.swarmState, index: view.index, nodes: view.nodes(), services: view.services(), tasks: view.tasks(),
    });
  }

  /** The copy as a backend follows it (once the swarm object is in): the view, the whole state, the swarm object's changes. */
  copySource(): SwarmSource | undefined {
    if (!this.swarmState) return undefined;
    return {
      store: this.view,
      exportState: () => this.swarmCopy()!,
      exportSwarm: () => structuredClone(this.swarmState!),
      onSwarmChanged: (listener) => {
        this.on('swarm', listener);
        return () => { this.off('swarm', listener); };
      },
    };
  }

  get managers(): readonly string[] {
    return this.#managers;
  }

  /**
   * Opens the session and starts beating. Resolves once the first whole view is in and the first beat
   * answered; rejects (the link closed) when no manager gave the view within `deadlineMs`.
   */
  async start(deadlineMs = START_DEADLINE_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const synced = new Promise<void>((resolve, reject) => {
      this.once('synced', resolve);
      // Told at once, rather than after the deadline.
      this.once('removed', () => reject(new ClusterRequestError('not_found', `the manager at ${this.#managers[this.#current]} says node ${this.nodeId} is not a member of the swarm`)));
      timer = setTimeout(() => reject(new ClusterRequestError('unreachable', `no manager of ${this.#managers.join(', ')} gave this node the cluster view within ${deadlineMs / 1000} s`)), deadlineMs);
    });
    this.#connect();
    try {
      await Promise.all([synced, this.#beat()]);
    } catch (error) {
      this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queues a task report; reports go to the manager in batches, in the order they were made. */
  reportTaskStatus(taskId: string, report: TaskStatusReport): void {
    this.#reports.push({ taskId, report });
    if (this.#reports.length === 1 && !this.#sending) setImmediate(() => void this.#sendReports());
  }

  /**
   * Resolves once every Ready node's mesh has applied the view as this node sees it now (so a task this
   * view fences is fenced everywhere), or after the fence acknowledgement timeout, which is said.
   */
  fenced(): Promise<void> {
    const seq = this.#seq;
    if (this.#appliedByAll >= seq || this.#closed) return Promise.resolve();
    return new Promise((release) => {
      const timer = setTimeout(() => {
        this.#log(`node ${this.nodeId}: not every mesh said it applied view ${seq} within ${this.#fenceAckTimeoutMs} ms; stopping after the fence period anyway`);
        release();
      }, this.#fenceAckTimeoutMs);
      this.#waiters.push({ seq, release: () => { clearTimeout(timer); release(); } });
    });
  }

  /**
   * A network request to the leader (see NetworkRequest): to the manager this link follows, or the leader
   * it names. Its refusal is the manager's, as a ClusterRequestError.
   */
  async networks(request: DistributiveOmit<NetworkRequest, 'nodeId'>): Promise<NetworkAnswer> {
    const body = { ...request, nodeId: this.nodeId };
    try {
      return await post<NetworkAnswer>(this.#agent, this.#leader(), PATHS.networks, body);
    } catch (error) {
      if (!(error instanceof ClusterRequestError) || !error.leader) throw error;
      return post<NetworkAnswer>(this.#agent, error.leader, PATHS.networks, body);
    }
  }

  async leave(): Promise<void> {
    await post(this.#agent, this.#leader(), PATHS.leave, { nodeId: this.nodeId }).catch(() => {});
  }

  close(): void {
    this.#closed = true;
    this.#heartbeat?.cancel();
    this.#silence?.cancel();
    clearTimeout(this.#retry);
    this.#stream?.destroy();
    this.#releaseWaiters(Infinity);
    this.#agent.destroy();
  }

  // ---- the session ---------------------------------------------------------------------------

  #connect(): void {
    if (this.#closed) return;
    const manager = this.#managers[this.#current]!;
    const [host, port] = splitAddr(manager);
    let buffered = '';
    const request = https.get({
      host, port, localAddress: this.#address, path: `${PATHS.session}?node=${encodeURIComponent(this.nodeId)}`, agent: false, ...clientTls(this.#tls),
    }, (res) => {
      if (res.statusCode !== 200) {
        void readAll(res).then(
          (text) => this.#sessionFailed(request, manager, errorOf(res.statusCode!, text)),
          (error: Error) => this.#sessionFailed(request, manager, new ClusterRequestError('unreachable', error.message)),
        );
        return;
      }
      res.setEncoding('utf8');
      this.#watch(request, manager);
      res.on('data', (chunk: string) => {
        this.#watch(request, manager);
        buffered += chunk;
        if (buffered.length > MAX_MESSAGE_CHARS) {
          this.#sessionFailed(request, manager, new ClusterRequestError('unavailable', `the manager sent a message longer than ${MAX_MESSAGE_CHARS} characters`));
          return;
        }
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0 && this.#stream === request) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          try {
            this.#receive(JSON.parse(line) as SessionMessage, request);
          } catch (error) {
            // Whatever the manager sent that is not a message of the protocol: the session is not to be trusted.
            this.#sessionFailed(request, manager, new ClusterRequestError('unavailable', `the manager sent a line that is not a session message (${(error as Error).message}): ${line.slice(0, 80)}`));
            return;
          }
        }
      });
      // After a SIGKILL of the manager the response ends with `close`, not `end`: both mean reconnect.
      res.on('close', () => this.#sessionFailed(request, manager, new ClusterRequestError('unreachable', 'the session ended')));
    });
    request.setNoDelay(true);
    // A manager that takes the connection and never answers (stopped, not dead) is given as long as a silent one.
    this.#watch(request, manager);
    request.on('error', (error) => this.#sessionFailed(request, manager, new ClusterRequestError('unreachable', error.message)));
    this.#stream = request;
  }

  /**
   * A manager says something at least every heartbeat period (the `alive` message, if nothing else): one
   * silent for three of them is frozen or gone, as a node that misses three beats is Down.
   */
  #watch(request: http.ClientRequest, manager: string): void {
    this.#silence?.cancel();
    this.#silence = realTimer(() => {
      this.#sessionFailed(request, manager, new ClusterRequestError('unreachable', `the manager said nothing for ${MISSED_PERIODS} heartbeat periods`));
    }, Math.max(this.#periodMs * MISSED_PERIODS, MIN_SILENCE_MS));
  }

  #sessionFailed(request: http.ClientRequest, manager: string, error: ClusterRequestError): void {
    if (this.#closed || this.#stream !== request) return;
    this.#silence?.cancel();
    request.destroy();
    this.#stream = undefined;
    if (error.code === 'not_found') {
      this.emit('removed');
      return;
    }
    // A session that had synced was working: say once that it broke, then try the managers in turn.
    if (this.#synced) {
      this.#log(`node ${this.nodeId}: lost its session with the manager at ${manager} (${error.message}); trying the managers in turn`);
      this.#lostAt = Date.now();
    }
    this.#synced = false;
    // No manager has served a session for as long as it takes to mark a node Down: the leader is gone.
    // Or the leader left and named this node Leader in its last changes: it hands over at once.
    const handedOver = this.view.node(this.nodeId)?.ManagerStatus?.Leader === true;
    if (this.#lostAt !== undefined && (handedOver || (Date.now() - this.#lostAt >= this.#periodMs * MISSED_PERIODS && this.#current === this.#managers.length - 1))) {
      this.emit('leaderless');
    }
    this.#current = (this.#current + 1) % this.#managers.length;
    this.#retry = setTimeout(() => this.#connect(), this.#current === 0 ? this.#retryMs : 0);
  }

  /** Throws on anything that is not a message of the protocol (the session is then dropped). */
  #receive(message: SessionMessage, request: http.ClientRequest): void {
    switch (message?.type) {
      case 'complete':
        this.#replaceView(message);
        // The same manager again (after a gap): its numbers, and what waits for them, still hold. A new
        // manager process numbers anew and no mesh has applied anything of it yet: what waited for the
        // old numbers waits for every mesh to have its whole view, which fences the same tasks (their
        // desired state is the swarm's, kept), not assumed fenced because the numbering changed.
        if (message.epoch !== this.#epoch) {
          this.#appliedByAll = -1;
          for (const waiter of this.#waiters) waiter.seq = message.seq;
        } else if (message.seq < this.#seq) {
          // A manager whose copy is behind the one before (a manager's catch-up should prevent it): its view is
          // the one this mesh routes by now, and the acknowledgement says so; what waits, waits for its own seq.
          this.#log(`node ${this.nodeId}: the manager at ${this.#managers[this.#current]} sent an older view (${message.seq}, had ${this.#seq})`);
        }
        this.#epoch = message.epoch;
        this.#seq = message.seq;
        this.#synced = true;
        this.#lostAt = undefined;
        this.#queueAck();
        this.emit('synced');
        return;
      case 'changes':
        if (message.epoch !== this.#epoch || message.appliesTo !== this.#seq) {
          this.#log(`node ${this.nodeId}: missed a change of the cluster view (have ${this.#seq}, got one after ${message.appliesTo}); asking for the whole view`);
          this.#sessionFailed(request, this.#managers[this.#current]!, new ClusterRequestError('unavailable', 'a change was missed'));
          return;
        }
        for (const change of message.changes) {
          if (change.op === 'put') this.view.mirror(change.kind, change.object);
          else this.view.delete(change.kind, change.id);
        }
        this.#seq = message.resultsIn;
        this.#refreshManagers();
        this.#queueAck();
        return;
      case 'applied':
        if (message.epoch !== this.#epoch) return;
        this.#appliedByAll = Math.max(this.#appliedByAll, message.seq);
        this.#releaseWaiters(this.#appliedByAll);
        // A manager that serves sessions of its own (etcd) passes the leader's watermark on to them.
        this.emit('applied', message.epoch, message.seq);
        return;
      case 'swarm':
        this.swarm = message.swarm;
        this.swarmState = message.state;
        this.emit('swarm');
        return;
      case 'alive':
        return;
      case 'removed':
        this.emit('removed');
        return;
      default:
        throw new Error(`unknown message type ${JSON.stringify((message as { type?: unknown } | null)?.type)}`);
    }
  }

  /** The whole view: objects gone since are deleted, the rest written as the manager has them. */
  #replaceView(message: Extract<SessionMessage, { type: 'complete' }>): void {
    const view = this.view;
    const keep = { node: new Set(message.nodes.map((n) => n.ID)), service: new Set(message.services.map((s) => s.ID)), task: new Set(message.tasks.map((t) => t.ID)) };
    for (const task of view.tasks()) if (!keep.task.has(task.ID)) view.deleteTask(task.ID);
    for (const service of view.services()) if (!keep.service.has(service.ID)) view.deleteService(service.ID);
    for (const kind of PLAIN_KINDS) {
      const kept = new Set((message[`${kind}s`] ?? []).map((o) => o.ID));
      for (const object of view.all(kind)) if (!kept.has(object.ID)) view.delete(kind, object.ID);
    }
    for (const node of view.nodes()) if (!keep.node.has(node.ID)) view.deleteNode(node.ID);
    for (const node of message.nodes) view.mirror('node', node);
    for (const kind of PLAIN_KINDS) for (const object of message[`${kind}s`] ?? []) view.mirror(kind, object);
    for (const service of message.services) view.mirror('service', service);
    for (const task of message.tasks) view.mirror('task', task);
    this.#refreshManagers();
  }

  /**
   * The managers as the view has them join the list (those given at the start stay as a fallback), in the
   * order the link has them: where a node's session starts is the swarm's choice at its join.
   */
  #refreshManagers(): void {
    const fromView = this.view.nodes()
      .filter((n) => n.Spec.Role === 'manager' && n.ManagerStatus)
      .map((n) => n.ManagerStatus!.Addr);
    if (!fromView.length) return;
    const before = [...this.#managers].sort().join();
    this.#managers = [...new Set([...this.#managers, ...fromView])];
    // A node keeps the managers it knows for a restart: told when there is one more.
    if ([...this.#managers].sort().join() !== before) this.emit('managers');
  }

  /**
   * A manager node takes its session from the leader, whose watermark it passes on to the sessions it serves
   * (etcd): once a beat shows where the leader is (only the leader takes one), a session elsewhere moves there.
   * Never to itself: a leader's own sessions are its dispatcher's.
   */
  #followLeader(leader: string): void {
    const own = this.view.node(this.nodeId);
    const stream = this.#stream;
    if (!stream || own?.Spec.Role !== 'manager' || own.ManagerStatus?.Addr === leader || this.#managers[this.#current] === leader) return;
    this.#log(`node ${this.nodeId}: takes its session from the leader at ${leader}`);
    this.#stream = undefined;
    this.#silence?.cancel();
    stream.destroy();
    this.#synced = false;
    if (!this.#managers.includes(leader)) this.#managers.push(leader);
    this.#current = this.#managers.indexOf(leader);
    this.#connect();
  }

  /** The leader as the view has it. */
  #viewLeader(): SwarmNode | undefined {
    return this.view.nodes().find((n) => n.ManagerStatus?.Leader);
  }

  /** Where what only the leader takes goes (beats, reports, acknowledgements, network requests): the view's leader, else the session's manager. */
  #leader(): string {
    return this.#viewLeader()?.ManagerStatus?.Addr ?? this.#managers[this.#current]!;
  }

  #releaseWaiters(upTo: number): void {
    const due = this.#waiters.filter((w) => w.seq <= upTo);
    if (!due.length) return;
    this.#waiters = this.#waiters.filter((w) => w.seq > upTo);
    for (const waiter of due) waiter.release();
  }

  /** After the mesh's sync (a microtask of the change), on the next turn: this node applied the view. */
  #queueAck(): void {
    if (this.#ackQueued) return;
    this.#ackQueued = true;
    setImmediate(() => {
      this.#ackQueued = false;
      const seq = this.#seq;
      // One at a time, so that they arrive in order: the leader takes a node's last word.
      if (this.#closed || this.#acking || seq === this.#ackSent || !this.#synced) return;
      this.#ackSent = seq;
      this.#acking = true;
      post(this.#agent, this.#leader(), PATHS.applied, { nodeId: this.nodeId, epoch: this.#epoch, seq }).then(() => {
        this.#acking = false;
        if (this.#seq !== this.#ackSent) this.#queueAck();
      }, () => {
        // An acknowledgement lost is asked for again: fences everywhere wait on it, and no change may come to resend it.
        this.#acking = false;
        this.#ackSent = -1;
        if (!this.#closed) setTimeout(() => this.#queueAck(), this.#retryMs);
      });
    });
  }

  // ---- heartbeats and reports ----------------------------------------------------------------

  /**
   * A beat goes to the manager of the session, else to each other one in turn (the one a manager names
   * as leader first): a node must not be marked Down while its session finds the new leader.
   */
  async #beat(): Promise<void> {
    if (this.#closed) return;
    const tried = new Set<string>();
    let next: string | undefined = this.#leader();
    while (next !== undefined && !this.#closed) {
      tried.add(next);
      try {
        // A stopped manager takes the beat and never answers: it is given one period (5 s at most), not the
        // three after which the leader (maybe just elected) marks this node Down.
        const timeoutMs = Math.min(this.#periodMs, REQUEST_TIMEOUT_MS);
        this.#periodMs = (await call<{ periodMs: number }>(this.#agent, next, PATHS.heartbeat, timeoutMs, JSON.stringify({ nodeId: this.nodeId }))).periodMs;
        this.#followLeader(next);
        break;
      } catch (error) {
        const refusal = error as ClusterRequestError;
        if (refusal.code === 'not_found') {
          this.emit('removed');
          break;
        }
        next = refusal.leader && !tried.has(refusal.leader) ? refusal.leader : this.#managers.find((m) => !tried.has(m));
      }
    }
    if (!this.#closed) this.#heartbeat = realTimer(() => this.#beat(), this.#periodMs);
    if (Date.now() >= this.#renewAt && !this.#renewing) void this.#renew();
  }

  /**
   * A new key and certificate, asked of the managers with the one it has (a member needs no token for it);
   * until it expires, it is tried again each beat.
   */
  async #renew(): Promise<void> {
    this.#renewing = true;
    try {
      const manager = this.#managers[this.#current]!;
      const { tls } = await ManagerLink.join(manager, { token: '', hostname: '', addr: this.#address, nodeId: this.nodeId }, this.#tls);
      if (this.#closed) return;
      const old = this.#agent;
      this.#tls = tls;
      this.#agent = clusterAgent(tls, this.#address, true);
      this.#renewAt = halfLife(tls.cert);
      this.#renewFailed = false;
      old.destroy();
      this.emit('certificate', tls);
    } catch (error) {
      if (!this.#renewFailed) this.#log(`node ${this.nodeId}: could not renew its certificate (${(error as Error).message}); trying again each heartbeat`);
      this.#renewFailed = true;
    } finally {
      this.#renewing = false;
    }
  }

  async #sendReports(): Promise<void> {
    if (this.#sending || this.#closed || !this.#reports.length) return;
    this.#sending = true;
    const batch = this.#reports.splice(0, REPORTS_PER_POST);
    try {
      await post(this.#agent, this.#leader(), PATHS.status, { nodeId: this.nodeId, reports: batch });
    } catch (error) {
      // Kept, in order, for the next manager to answer.
      this.#reports.unshift(...batch);
      this.#sending = false;
      if (!this.#closed) setTimeout(() => void this.#sendReports(), this.#retryMs);
      return;
    }
    this.#sending = false;
    if (this.#reports.length) void this.#sendReports();
  }
}

function halfLife(certificatePem: string): number {
  const certificate = new X509Certificate(certificatePem);
  const from = Date.parse(certificate.validFrom);
  return from + (Date.parse(certificate.validTo) - from) / 2;
}

function splitAddr(addr: string): [string, number] {
  const colon = addr.lastIndexOf(':');
  return colon < 0 ? [addr, CLUSTER_PORT] : [addr.slice(0, colon), Number(addr.slice(colon + 1))];
}

function post<T = unknown>(agent: https.Agent, manager: string, path: string, body: unknown): Promise<T> {
  return call<T>(agent, manager, path, REQUEST_TIMEOUT_MS, JSON.stringify(body));
}

function get<T>(agent: https.Agent, manager: string, path: string, timeoutMs: number): Promise<T> {
  return call<T>(agent, manager, path, timeoutMs);
}

/** One request to a manager: a POST with `text`, else a GET; its JSON answer, or its refusal as a ClusterRequestError. */
function call<T>(agent: https.Agent, manager: string, path: string, timeoutMs: number, text?: string): Promise<T> {
  const [host, port] = splitAddr(manager);
  return new Promise<T>((resolve, reject) => {
    const request = https.request({
      host, port, path, method: text === undefined ? 'GET' : 'POST', agent, timeout: timeoutMs,
      headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      void readAll(res).then((answer) => {
        if (res.statusCode !== 200) return reject(errorOf(res.statusCode!, answer));
        try {
          resolve(JSON.parse(answer) as T);
        } catch {
          reject(new ClusterRequestError('unavailable', `the manager answered something that is not JSON: ${answer.slice(0, 80)}`));
        }
      }, (error: Error) => reject(new ClusterRequestError('unreachable', error.message)));
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    request.on('error', (error) => reject(new ClusterRequestError('unreachable', error.message)));
    request.end(text);
  });
}

async function readAll(res: http.IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res as AsyncIterable<string>) text += chunk;
  return text;
}

function errorOf(status: number, text: string): ClusterRequestError {
  try {
    const { code, message, leader } = JSON.parse(text) as { code: SwarmErrorCode; message: string; leader?: string };
    return new ClusterRequestError(code, message, leader);
  } catch {
    return new ClusterRequestError('unavailable', `the manager answered ${status}: ${text.slice(0, 200)}`);
  }
}

/** The manager's refusal as the control plane's own error, for the engine API to answer as it would. */
export function asSwarmError(error: ClusterRequestError): SwarmError {
  return new SwarmError(error.code === 'unreachable' ? 'unavailable' : error.code, error.message);
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
