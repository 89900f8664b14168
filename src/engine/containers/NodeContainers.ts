// The containers of one node, dockerd's node-local state (never the swarm's Store): the standalone
// containers `docker run` made here, and one for each swarm task this node runs (read from the node's
// copy of the view at each request). Lookups take an ID, a name or an unambiguous ID prefix, as Docker's.
import { randomBytes } from 'node:crypto';
import type { Runtime } from '../../runtime/index.js';
import type { Service, Task } from '../../swarm/index.js';
import { ApiError } from '../api/http.js';
import type { ContainerNetworking } from '../ContainerNetworking.js';
import type { EventSink } from '../EventSink.js';
import type { ContainerFacts } from './ContainerFacts.js';
import { canonicalImage } from './containerJson.js';
import { randomName } from './containerNames.js';
import { diskUsage } from './diskUsage.js';
import type { VolumeUsageProvider } from './diskUsage.js';
import { checkName } from './createRequest.js';
import type { ContainerConfig } from './createRequest.js';
import { StandaloneContainer, noNetworking } from './StandaloneContainer.js';
import { taskContainer } from './taskContainers.js';

/** The swarm tasks this node runs, as its copy of the view has them (none outside a swarm). */
export interface NodeTasks {
  tasks: readonly Task[];
  service(id: string): Service | undefined;
}

export interface NodeContainersOptions {
  runtime: Runtime;
  hostname: string;
  address: string;
  tasks: () => NodeTasks;
  /** Addresses on networks other than the host's; absent, only `--network host` runs. */
  networking?: ContainerNetworking;
  /** Where container events go (`docker events`). */
  events?: EventSink;
  /** The volumes `docker system df` counts; absent, none. */
  volumes?: VolumeUsageProvider;
  /** Between two readings of `docker stats` (Docker's 1 s). */
  statsIntervalMs?: number;
}

export class NodeContainers {
  readonly #options: NodeContainersOptions;
  readonly #standalone = new Map<string, StandaloneContainer>();
  #closed = false;

  constructor(options: NodeContainersOptions) {
    this.#options = { ...options };
  }

  /** Wires container networking once the node has it (the lead's wiring, or a test's double). */
  set networking(networking: ContainerNetworking | undefined) {
    this.#options.networking = networking;
  }

  set events(events: EventSink | undefined) {
    this.#options.events = events;
  }

  set volumes(volumes: VolumeUsageProvider | undefined) {
    this.#options.volumes = volumes;
  }

  get statsIntervalMs(): number {
    return this.#options.statsIntervalMs ?? 1000;
  }

  /** GET /system/df for this node; `types` narrows it (image, container, volume, build-cache). */
  diskUsage(types: readonly string[]): Promise<Record<string, unknown>> {
    return diskUsage(this.list(), this.#options.volumes, types);
  }

  /** Every container of this node: the swarm's tasks first, then the standalone ones. */
  list(): ContainerFacts[] {
    const { tasks, service } = this.#options.tasks();
    const fromTasks = tasks.flatMap((task) => {
      const c = taskContainer(task, service(task.ServiceID), this.#options.address, () => this.#options.runtime.outputOf(task.ID));
      return c ? [c] : [];
    });
    return [...fromTasks, ...this.#standalone.values()];
  }

  /** By ID, name (with or without its slash) or unambiguous ID prefix; Docker's 404 when none. */
  find(ref: string): ContainerFacts {
    const all = this.list();
    const name = ref.replace(/^\//, '');
    const exact = all.find((c) => c.id === ref) ?? all.find((c) => c.name === name);
    if (exact) return exact;
    const byPrefix = ref ? all.filter((c) => c.id.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw new ApiError(400, `multiple IDs found with provided prefix: ${ref}`);
    if (!byPrefix[0]) throw new ApiError(404, `No such container: ${ref}`);
    return byPrefix[0];
  }

  /** A container this node may start, stop or remove itself: a task's belongs to the swarm. */
  standalone(ref: string): StandaloneContainer {
    const found = this.find(ref);
    if (found instanceof StandaloneContainer) return found;
    const service = found.labels['com.docker.swarm.service.name'];
    throw new ApiError(409, `container ${found.name} is a task of service ${service}, which the swarm runs: change it with docker service scale/update/rm ${service}, not on the container`);
  }

  /** POST /containers/create: Docker's 404 for an image the catalogue lacks (the CLI then asks to pull it), 409 for a name in use. */
  create(name: string | undefined, config: ContainerConfig): { Id: string; Warnings: string[] } {
    if (this.#closed) throw new ApiError(503, 'this node is stopping');
    if (!this.#options.runtime.hasImage(config.image)) throw new ApiError(404, `No such image: ${canonicalImage(config.image)}`);
    if (config.network !== 'host' && !this.#options.networking) throw new ApiError(400, noNetworking(config.network));
    const given = name === undefined || name === '' ? undefined : checkName(name);
    if (given !== undefined) {
      const holder = this.#nameHolder(given);
      if (holder) {
        throw new ApiError(409, `Conflict. The container name "/${given}" is already in use by container "${holder}". You have to remove (or rename) that container to be able to reuse that name.`);
      }
    }
    const id = randomBytes(32).toString('hex');
    const chosen = given ?? randomName((n) => this.#nameHolder(n) !== undefined);
    const warnings: string[] = [];
    if (config.network === 'host' && config.publish.length) {
      warnings.push('Published ports are discarded when using host network mode');
      config = { ...config, publish: [] };
    }
    const options = this.#options;
    const container = new StandaloneContainer(id, chosen, config, {
      runtime: options.runtime,
      hostname: options.hostname,
      address: options.address,
      // Read at each use: the networking and the event feed may be wired after the container is made.
      get networking() { return options.networking; },
      get events() { return options.events; },
      forget: (gone) => this.#standalone.delete(gone),
    });
    this.#standalone.set(id, container);
    return { Id: id, Warnings: warnings };
  }

  /** The ID of the container named `name` on this node, if any. */
  #nameHolder(name: string): string | undefined {
    return this.list().find((c) => c.name === name)?.id;
  }

  /** The node stops: so do its containers (they outlive nothing), and those run with --rm go. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#standalone.values()].map((c) => c.close()));
  }

  /** The node runs again (a recovered node): containers may be created again. */
  reopen(): void {
    this.#closed = false;
  }
}
