// One standalone container (`docker run`): its configuration, its run through the node's Runtime (a real
// server or process at its address), its published ports, and the states Docker's has: created, running,
// exited, removing. It says what happens to it (events), feeds attached clients and answers waits.
import type { LogLine, Runtime, RunningTask } from '../../runtime/index.js';
import { ApiError } from '../api/http.js';
import type { ContainerAttachment, ContainerNetworking } from '../ContainerNetworking.js';
import type { EventSink } from '../EventSink.js';
import type { ContainerEndpoint, ContainerFacts, ContainerPort, ContainerState } from './ContainerFacts.js';
import type { ContainerConfig } from './createRequest.js';
import { PortPublisher } from './PortPublisher.js';
import type { PublishedPort } from './PortPublisher.js';

/** What a container needs from the node it runs on. */
export interface ContainerHost {
  runtime: Runtime;
  hostname: string;
  /** The node's own address: the host network's. */
  address: string;
  networking: ContainerNetworking | undefined;
  events: EventSink | undefined;
  /** Forgets a removed container. */
  forget(id: string): void;
}

/** Docker's wait conditions (`docker run` waits for `next-exit`, or `removed` with --rm). */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface WaitResult {
  StatusCode: number;
  Error?: { Message: string };
}

/**
 * Signals a container can be sent, by every name Docker takes for them. SIGINT (what the docker CLI passes
 * on when a foreground `docker run` gets Ctrl-C) stops it as SIGTERM does.
 */
const SIGNALS: Record<string, 'SIGKILL' | 'SIGTERM'> = {
  KILL: 'SIGKILL', SIGKILL: 'SIGKILL', '9': 'SIGKILL', TERM: 'SIGTERM', SIGTERM: 'SIGTERM', '15': 'SIGTERM', INT: 'SIGTERM', SIGINT: 'SIGTERM', '2': 'SIGTERM',
};
/** A SIGTERM sent alone is never followed by a SIGKILL: about a day stands for never. */
const NO_KILL_MS = 86_400_000;

export class StandaloneContainer implements ContainerFacts {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly env: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly created = new Date();
  readonly autoRemove: boolean;
  readonly task = false;
  readonly #config: ContainerConfig;
  readonly #host: ContainerHost;
  state: ContainerState = 'created';
  startedAt: Date | undefined;
  finishedAt: Date | undefined;
  exitCode = 0;
  error = '';
  #handle: RunningTask | undefined;
  #attachment: ContainerAttachment | undefined;
  #published: PublishedPort[] = [];
  #publisher: PortPublisher | undefined;
  #starting: Promise<void> | undefined;
  /** Clients reading its output (attached or following logs), told each line and its end. */
  readonly #readers = new Set<{ line(line: LogLine): void; end(): void }>();
  readonly #waiters: { condition: WaitCondition; resolve(result: WaitResult): void }[] = [];
  #unfollow: (() => void) | undefined;
  /** Settles once its run's end has been taken in (state, events, readers, waiters, --rm). */
  #exitTaken: Promise<void> = Promise.resolve();

  constructor(id: string, name: string, config: ContainerConfig, host: ContainerHost) {
    this.id = id;
    this.name = name;
    this.image = config.image;
    this.command = config.command;
    this.env = config.env;
    this.labels = config.labels;
    this.autoRemove = config.autoRemove;
    this.#config = config;
    this.#host = host;
    this.#event('create');
  }

  get hostname(): string {
    return this.#config.network === 'host' ? this.#host.hostname : this.id.slice(0, 12);
  }

  get networkMode(): string {
    return this.#config.network;
  }

  get pid(): number {
    return this.state === 'running' ? (this.#handle?.pid ?? 0) : 0;
  }

  /** Published ports, then those only exposed; none on the host network (the container's ports are the host's). */
  get ports(): ContainerPort[] {
    if (this.#config.network === 'host') return [];
    const ports: ContainerPort[] = this.#published.map((p) => ({ IP: this.#host.address, PrivatePort: p.targetPort, PublicPort: p.hostPort, Type: 'tcp' }));
    for (const port of this.#config.exposed) if (!ports.some((p) => p.PrivatePort === port)) ports.push({ PrivatePort: port, Type: 'tcp' });
    return ports;
  }

  get networks(): Record<string, ContainerEndpoint> {
    if (this.#config.network === 'host') {
      return { host: { NetworkID: 'host', IPAddress: '', IPPrefixLen: 0, Gateway: '', Aliases: [], BindAddress: this.#host.address } };
    }
    const a = this.#attachment;
    return {
      [a?.networkName ?? this.#config.network]: {
        NetworkID: a?.networkId ?? '', IPAddress: a?.shownAddress ?? '', IPPrefixLen: a?.prefixLength ?? 0, Gateway: a?.gateway ?? '',
        Aliases: a?.aliases ?? this.#config.aliases, BindAddress: a?.address ?? '',
      },
    };
  }

  output(): ReturnType<Runtime['outputOf']> {
    return this.#host.runtime.outputOf(this.id);
  }

  /** `docker start`: 'already' when it runs (Docker's 304). A failure leaves it as it was, with the error. */
  async start(): Promise<'started' | 'already'> {
    if (this.state === 'running' || this.#starting) {
      await this.#starting;
      return 'already';
    }
    if (this.state === 'removing') throw new ApiError(409, `container ${this.id} is marked for removal and cannot be started`);
    this.#starting = this.#run().finally(() => { this.#starting = undefined; });
    try {
      await this.#starting;
    } catch (error) {
      // As the daemon does: a --rm container that cannot start is removed (`docker run --rm` waits for that).
      if (this.autoRemove) await this.remove(true);
      throw error;
    }
    return 'started';
  }

  async #run(): Promise<void> {
    const config = this.#config;
    let address = this.#host.address;
    try {
      if (config.network !== 'host') {
        const networking = this.#host.networking;
        if (!networking) throw new ApiError(400, noNetworking(config.network));
        this.#attachment = await networking.attach({ containerId: this.id, containerName: this.name, network: config.network, aliases: config.aliases });
        address = this.#attachment.address;
      }
      const handle = await this.#host.runtime.start({
        taskId: this.id,
        taskName: this.name,
        hostname: this.hostname,
        address,
        image: config.image,
        ...(config.command.length ? { command: config.command } : {}),
        env: config.env,
        ports: config.exposed.map((targetPort) => ({ protocol: 'tcp' as const, targetPort })),
      }).catch((error: Error) => { throw new ApiError(error.name === 'RuntimeError' && /No such image/.test(error.message) ? 404 : 400, error.message); });
      this.#handle = handle;
      if (config.publish.length) {
        const publisher = new PortPublisher();
        const listenPort = (target: number): number => handle.ports.find((p) => p.TargetPort === target)?.ListenPort ?? target;
        try {
          this.#published = await publisher.open(this.#host.address, handle.address, config.publish, listenPort);
        } catch (error) {
          await handle.stop(0);
          throw error;
        }
        this.#publisher = publisher;
      }
    } catch (error) {
      this.#handle = undefined;
      this.error = (error as Error).message;
      await this.#release();
      throw error;
    }
    this.state = 'running';
    this.startedAt = new Date();
    this.error = '';
    this.#follow(this.#handle);
    this.#exitTaken = this.#handle.exited.then((code) => this.#ended(code));
    this.#event('start');
  }

  /** Hands its output to the readers: the lines said before this (the run's first turn), then each new one. */
  #follow(handle: RunningTask): void {
    const seen = handle.logs;
    for (const line of seen) for (const reader of this.#readers) reader.line(line);
    this.#unfollow = handle.onLog((line) => { for (const reader of this.#readers) reader.line(line); });
  }

  /** Its network address and published ports given back. */
  async #release(): Promise<void> {
    this.#publisher?.close();
    this.#publisher = undefined;
    this.#published = [];
    if (this.#attachment) {
      this.#attachment = undefined;
      await this.#host.networking?.detach(this.id).catch(() => {});
    }
  }

  async #ended(code: number): Promise<void> {
    this.#unfollow?.();
    this.#unfollow = undefined;
    this.#handle = undefined;
    this.state = 'exited';
    this.exitCode = code;
    this.finishedAt = new Date();
    await this.#release();
    this.#event('die', { exitCode: String(code) });
    this.#endReaders();
    this.#settle((c) => c !== 'removed');
    if (this.autoRemove) await this.remove(true);
  }

  /** Its readers are told the output ended (an attached connection closes: nothing else would close it). */
  #endReaders(): void {
    for (const reader of this.#readers) reader.end();
    this.#readers.clear();
  }

  /** The node stops: the container with it, and every client attached to it is let go. */
  async close(): Promise<void> {
    await this.stop(0).catch(() => {});
    this.#endReaders();
  }

  #settle(which: (condition: WaitCondition) => boolean): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const waiter = this.#waiters[i]!;
      if (!which(waiter.condition)) continue;
      this.#waiters.splice(i, 1);
      waiter.resolve({ StatusCode: this.exitCode, ...(this.error ? { Error: { Message: this.error } } : {}) });
    }
  }

  /** POST /wait: resolves as Docker's does, with the exit code, once the condition holds. */
  wait(condition: WaitCondition): Promise<WaitResult> {
    if (condition === 'not-running' && this.state !== 'running' && !this.#starting) return Promise.resolve({ StatusCode: this.exitCode });
    return new Promise((resolve) => this.#waiters.push({ condition, resolve }));
  }

  /** A client attached to it (`docker run`, `docker attach`): Docker records it. */
  attached(): void {
    this.#event('attach');
  }

  /**
   * Reads its output as it comes until it exits (attach, logs --follow); returns the way to stop reading.
   * A container that is not running ends the reading at once.
   */
  read(line: (line: LogLine) => void, end: () => void): () => void {
    const reader = { line, end };
    if (this.state !== 'running' && this.state !== 'created') {
      end();
      return () => {};
    }
    this.#readers.add(reader);
    return () => this.#readers.delete(reader);
  }

  /** `docker stop`: SIGTERM, SIGKILL after the grace period; false when it was not running (Docker's 304). */
  async stop(graceMs: number): Promise<boolean> {
    await this.#starting?.catch(() => {});
    const handle = this.#handle;
    if (this.state !== 'running' || !handle) return false;
    this.#event('kill', { signal: '15' });
    await handle.stop(graceMs);
    await this.#exitTaken;
    this.#event('stop');
    return true;
  }

  /** `docker kill [--signal]`: SIGKILL (the default) or SIGTERM (SIGINT too), the signals routemesh can send every image. */
  async kill(signal: string): Promise<void> {
    const name = SIGNALS[signal.toUpperCase()];
    if (!name) {
      throw new ApiError(400, `routemesh sends containers SIGKILL or SIGTERM (or SIGINT, taken as SIGTERM) only, not ${signal}: docker kill --signal KILL (the default) or TERM`);
    }
    await this.#starting?.catch(() => {});
    const handle = this.#handle;
    if (this.state !== 'running' || !handle) throw new ApiError(409, `cannot kill container: ${this.id}: container ${this.id} is not running`);
    this.#event('kill', { signal: name === 'SIGKILL' ? '9' : '15' });
    if (name === 'SIGKILL') await this.#killNow(handle);
    else void handle.stop(NO_KILL_MS);
  }

  /** SIGKILL, where the container has a process of its own; a built-in image's servers close at once. */
  async #killNow(handle: RunningTask): Promise<void> {
    await (handle.kill ? handle.kill() : handle.stop(0));
    await this.#exitTaken;
  }

  /** `docker rm [-f]`: a running container only with force (killed first). */
  async remove(force: boolean): Promise<void> {
    if (this.state === 'removing') return;
    if (this.state === 'running' || this.#starting) {
      if (!force) {
        throw new ApiError(409, `cannot remove container "/${this.name}": container is running: stop the container before removing or force remove`);
      }
      await this.#starting?.catch(() => {});
      if (this.#handle) {
        this.#event('kill', { signal: '9' });
        await this.#killNow(this.#handle);
        // --rm took it meanwhile (TypeScript does not see the state change across the awaits).
        if ((this.state as ContainerState) === 'removing') return;
      }
    }
    this.state = 'removing';
    await this.#release();
    this.#host.forget(this.id);
    this.#event('destroy');
    this.#endReaders();
    this.#settle(() => true);
  }

  #event(action: string, extra: Record<string, string> = {}): void {
    this.#host.events?.record({
      Type: 'container',
      Action: action,
      Actor: { ID: this.id, Attributes: { ...this.labels, image: this.image, name: this.name, ...extra } },
      scope: 'local',
    });
  }
}

/** The refusal while this node has no container networking (a branch without the networks part). */
export function noNetworking(network: string): string {
  return `routemesh cannot attach this container to network "${network}": this node has no container networking; run it with --network host, which binds the node's own address`;
}
