// A node's volumes (Docker's `local` driver): each a directory, `<dir>/<name>/_data` as Docker's
// /var/lib/docker/volumes/<name>/_data, with its labels and creation time beside it in `volume.json`.
// `<dir>` is `<data dir>/volumes`; a node without a data directory keeps them in a temporary directory
// of its own, removed when the node closes (as its swarm, which it keeps in memory only). Volumes are
// node-local, as Docker's: a service's volume mount makes the volume on the node that runs the task.
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApiError } from './api/index.js';
import type { EventSink } from './EventSink.js';

/** Docker's volume.Volume as the API shows it. */
export interface Volume {
  CreatedAt: string;
  Driver: 'local';
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: 'local';
  UsageData?: { RefCount: number; Size: number };
}

/** Docker's rule for a local volume's name. */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const META = 'volume.json';

export interface VolumesOptions {
  /** `<data dir>/volumes`; absent: a temporary directory, removed at close. */
  dir?: string;
  /** Told of create, destroy, mount and unmount, as dockerd's volume events. */
  events?: EventSink;
}

export class Volumes {
  readonly #given: string | undefined;
  #dir: Promise<string> | undefined;
  readonly #events: EventSink | undefined;

  constructor(options: VolumesOptions = {}) {
    this.#given = options.dir;
    this.#events = options.events;
  }

  /** Where the volumes live (made on first use). */
  dir(): Promise<string> {
    this.#dir ??= this.#given
      ? mkdir(this.#given, { recursive: true, mode: 0o711 }).then(() => this.#given!)
      : mkdtemp(path.join(tmpdir(), 'routemesh-volumes-'));
    return this.#dir;
  }

  /** Removes the temporary directory of a node without a data directory; a data directory's volumes stay. */
  async close(): Promise<void> {
    const dir = this.#dir;
    if (this.#given || !dir) return;
    // A node restarted in the same process (a fault injected, then recovered) starts with a new one.
    this.#dir = undefined;
    await rm(await dir, { recursive: true, force: true }).catch(() => {});
  }

  /** `docker volume create`: a name already taken answers with that volume, as Docker does; none given, an anonymous one. */
  async create(input: { Name?: unknown; Driver?: unknown; DriverOpts?: unknown; Labels?: unknown } = {}): Promise<Volume> {
    const name = input.Name === undefined || input.Name === '' ? randomBytes(32).toString('hex') : input.Name;
    if (typeof name !== 'string') throw new ApiError(400, 'volume Name must be a string');
    checkName(name);
    if (input.Driver !== undefined && input.Driver !== '' && input.Driver !== 'local') {
      throw new ApiError(404, `error looking up volume plugin ${String(input.Driver)}: plugin "${String(input.Driver)}" not found`);
    }
    if (input.DriverOpts && typeof input.DriverOpts === 'object' && Object.keys(input.DriverOpts).length) {
      throw new ApiError(400, 'routemesh volumes take no driver options (-o): each is a plain directory on its node');
    }
    const labels = input.Labels ?? {};
    if (typeof labels !== 'object' || labels === null || Object.values(labels).some((v) => typeof v !== 'string')) {
      throw new ApiError(400, 'volume Labels must be an object of strings');
    }
    const existing = await this.find(name);
    if (existing) return existing;
    const home = path.join(await this.dir(), name);
    await mkdir(path.join(home, '_data'), { recursive: true, mode: 0o755 });
    const meta = { CreatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), Labels: labels as Record<string, string> };
    await writeFile(path.join(home, META), JSON.stringify(meta));
    this.#record('create', name, { driver: 'local' });
    return (await this.find(name))!;
  }

  async list(): Promise<Volume[]> {
    const dir = await this.dir();
    const names = await readdir(dir).catch(() => [] as string[]);
    const volumes = await Promise.all(names.map((name) => this.find(name)));
    return volumes.filter((v): v is Volume => v !== undefined).sort((a, b) => a.Name.localeCompare(b.Name));
  }

  async find(name: string): Promise<Volume | undefined> {
    if (!NAME.test(name)) return undefined;
    const home = path.join(await this.dir(), name);
    try {
      const meta = JSON.parse(await readFile(path.join(home, META), 'utf8')) as { CreatedAt: string; Labels: Record<string, string> };
      return { CreatedAt: meta.CreatedAt, Driver: 'local', Labels: meta.Labels, Mountpoint: path.join(home, '_data'), Name: name, Options: {}, Scope: 'local' };
    } catch {
      return undefined;
    }
  }

  async inspect(name: string): Promise<Volume> {
    const volume = await this.find(name);
    if (!volume) throw new ApiError(404, `get ${name}: no such volume`);
    return volume;
  }

  /** `docker volume rm`: refused while a container (a task of this node) uses it, with Docker's words; `force` removes a missing one quietly. */
  async remove(name: string, users: readonly string[], force: boolean): Promise<void> {
    const volume = await this.find(name);
    if (!volume) {
      if (force) return;
      throw new ApiError(404, `get ${name}: no such volume`);
    }
    if (users.length) throw new ApiError(409, `remove ${name}: volume is in use - [${users.join(', ')}]`);
    await rm(path.join(await this.dir(), name), { recursive: true, force: true });
    this.#record('destroy', name, { driver: 'local' });
  }

  /** The directory a task's volume mount binds: the volume, made first when it does not exist (as Docker makes it). */
  async forMount(name: string, container: string, destination: string, readOnly: boolean): Promise<string> {
    const volume = (await this.find(name)) ?? (await this.create({ Name: name }));
    this.#record('mount', name, { container, destination, driver: 'local', propagation: '', 'read/write': String(!readOnly) });
    return volume.Mountpoint;
  }

  unmounted(name: string, container: string): void {
    this.#record('unmount', name, { container, driver: 'local' });
  }

  /** Bytes a volume's files take (what `docker system df -v` shows). */
  async size(volume: Volume): Promise<number> {
    return sizeOf(volume.Mountpoint);
  }

  #record(action: string, name: string, attributes: Record<string, string>): void {
    this.#events?.record({ Type: 'volume', Action: action, Actor: { ID: name, Attributes: attributes }, scope: 'local' });
  }
}

function checkName(name: string): void {
  if (name.length < 2) throw new ApiError(400, 'volume name is too short, names should be at least two alphanumeric characters');
  if (!NAME.test(name)) {
    throw new ApiError(400, `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}

async function sizeOf(at: string): Promise<number> {
  const stats = await lstat(at).catch(() => undefined);
  if (!stats) return 0;
  if (!stats.isDirectory()) return stats.size;
  let total = 0;
  for (const entry of await readdir(at).catch(() => [] as string[])) total += await sizeOf(path.join(at, entry));
  return total;
}

