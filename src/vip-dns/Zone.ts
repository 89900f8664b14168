// The names the embedded DNS server owns, as Swarm's resolver answers them: made again at every cluster
// change from each service's record, and read per query. It knows services, tasks and addresses, not
// where they come from. Names are scoped as Swarm scopes them by network: a query whose source the zone's
// `scopeOf` places in scopes (a task on networks) is answered only the services that share one of them,
// with their addresses in that scope; any other source gets the unscoped answers.
import { ipToInt, parseCidr } from './Ipam.js';

export interface TaskRecord {
  /** The container-like name, `<service>.<slot>.<task id>`: the zone finds it by its first label. */
  name: string;
  address: string;
  /** Where the task really listens for each target port, when that differs (SRV tells the truth). */
  listenPorts?: ReadonlyMap<string, number>;
  /** Its address in each scope it is in (a network's address, by the scope's name). */
  scopedAddresses?: ReadonlyMap<string, string>;
}

/** A service as the sources in one scope see it: its VIP there, and more names (aliases). */
export interface ServiceScope {
  scope: string;
  /** The suffix its names also answer with: `<service>.<network>`. */
  network: string;
  vip?: string;
  aliases?: readonly string[];
}

/** The scopes a query's source is in; undefined: none (the source gets the unscoped answers). */
export type ScopeOf = (source: string) => ReadonlySet<string> | undefined;

export interface ServiceRecord {
  /** One DNS label, unique in the zone regardless of case (the swarm checks both). */
  name: string;
  /** Absent in dnsrr mode: the name then resolves to the task addresses. */
  vip?: string;
  /** The tasks in the pool, the only ones DNS hands out. */
  tasks: readonly TaskRecord[];
  /** The service's target ports, for SRV names `_<port>._<protocol>.<service>`. */
  ports: readonly { port: number; protocol: string }[];
  /** Networks the service is on: each name also answers as `<name>.<network>`. */
  networks?: readonly string[];
  /** What sources in each scope are answered, in the service's order: the first scope a source shares wins. */
  scopes?: readonly ServiceScope[];
  /** More names of the service (in a scoped view, its aliases there). */
  aliases?: readonly string[];
}

export interface ZoneOptions {
  /** TTL of a VIP answer; a VIP never moves while its service lives (Swarm: 600 s). */
  vipTtl: number;
  /** TTL of task answers, short so clients follow scale and updates. */
  taskTtl: number;
  /** Address blocks whose reverse names are ours (an unknown address in them is NXDOMAIN, not forwarded). */
  ownedBlocks?: readonly string[];
}

export type ZoneRecord =
  | { type: 'A'; name: string; ttl: number; address: string }
  | { type: 'PTR'; name: string; ttl: number; target: string }
  | { type: 'SRV'; name: string; ttl: number; priority: number; weight: number; port: number; target: string };

export interface ZoneAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  answers: ZoneRecord[];
  /** The A records of SRV targets, so a client needs no second query. */
  additionals: ZoneRecord[];
}

/** The record types a query may ask for, by their names; anything else on a name we own is NODATA. */
export type QueryType = 'A' | 'AAAA' | 'PTR' | 'SRV' | 'ANY' | 'OTHER';

interface SrvTarget {
  port: number;
  task: TaskRecord;
}

interface Entry {
  addresses?: { list: string[]; ttl: number };
  srv?: SrvTarget[];
  ptr?: { target: string; ttl: number };
}

const REVERSE_SUFFIX = '.in-addr.arpa';

/**
 * One service's names. Made from its record the first time a query needs them, and kept with the record:
 * a zone made again after a change reuses the names of every service whose record is the same object, so
 * a change costs the services it touched, and only once they are asked about.
 */
class ServiceNames {
  readonly names = new Map<string, Entry>();
  /**
   * Names whose whole subtree is ours, so an unknown name below one is NXDOMAIN: `tasks.<service>`, task
   * names, and `_tcp.<service>` / `_udp.<service>` (SRV). Not a bare service name: a service called `dev`
   * must not swallow `pkg.go.dev`, which Swarm would forward too.
   */
  readonly subtrees = new Set<string>();

  constructor(service: ServiceRecord, { vipTtl, taskTtl }: ZoneOptions) {
    const taskAddresses = service.tasks.map((t) => t.address);
    const suffixes = ['', ...(service.networks ?? []).map((n) => `.${n}`)];
    for (const suffix of suffixes) {
      this.#entry(service.name + suffix).addresses = service.vip
        ? { list: [service.vip], ttl: vipTtl }
        : { list: taskAddresses, ttl: taskTtl };
      this.#entry(`tasks.${service.name}${suffix}`).addresses = { list: taskAddresses, ttl: taskTtl };
      for (const task of service.tasks) this.#entry(task.name + suffix).addresses = { list: [task.address], ttl: taskTtl };
      for (const subtree of [`tasks.${service.name}`, `_tcp.${service.name}`, `_udp.${service.name}`, ...service.tasks.map((t) => t.name)]) {
        this.subtrees.add(`${subtree}${suffix}`.toLowerCase());
      }
      for (const { port, protocol } of service.ports) {
        const key = `${port}/${protocol}`;
        this.#entry(`_${port}._${protocol}.${service.name}${suffix}`).srv = service.tasks.map((task) => ({ port: task.listenPorts?.get(key) ?? port, task }));
      }
    }
    for (const alias of service.aliases ?? []) {
      this.#entry(alias).addresses = service.vip ? { list: [service.vip], ttl: vipTtl } : { list: taskAddresses, ttl: taskTtl };
    }
    for (const task of service.tasks) {
      this.#entry(reverseName(task.address)).ptr = { target: task.name, ttl: taskTtl };
      for (const address of task.scopedAddresses?.values() ?? []) this.#entry(reverseName(address)).ptr = { target: task.name, ttl: taskTtl };
    }
    if (service.vip) this.#entry(reverseName(service.vip)).ptr = { target: service.name, ttl: vipTtl };
    for (const scope of service.scopes ?? []) if (scope.vip) this.#entry(reverseName(scope.vip)).ptr = { target: service.name, ttl: vipTtl };
  }

  #entry(name: string): Entry {
    const key = name.toLowerCase();
    let entry = this.names.get(key);
    if (!entry) this.names.set(key, (entry = {}));
    return entry;
  }
}

/** Each record's names (and each of its scopes'), per zone options (the TTLs are in them). */
const namesMade = new WeakMap<ZoneOptions, WeakMap<object, ServiceNames>>();

/** The service as a scope's sources see it: its tasks in that scope at their addresses there, its VIP there, its aliases. */
function scopedRecord(service: ServiceRecord, scope: ServiceScope): ServiceRecord {
  const tasks: TaskRecord[] = [];
  for (const task of service.tasks) {
    const address = task.scopedAddresses?.get(scope.scope);
    if (address !== undefined) tasks.push({ name: task.name, address, ...(task.listenPorts ? { listenPorts: task.listenPorts } : {}) });
  }
  return { name: service.name, ...(scope.vip ? { vip: scope.vip } : {}), tasks, ports: service.ports, networks: [scope.network], ...(scope.aliases ? { aliases: scope.aliases } : {}) };
}

export class Zone {
  readonly #options: ZoneOptions;
  readonly #services: readonly ServiceRecord[];
  readonly #made: WeakMap<object, ServiceNames>;
  readonly #scopeOf: ScopeOf | undefined;
  /** Each alias's services (by place), made when a scoped query first needs them. */
  #byAlias: Map<string, number[]> | undefined;
  readonly #owned: { base: number; size: number }[];
  /**
   * Each service's place in #services by its lower-case name, so a question goes straight to the
   * services its labels name instead of through all of them (names are unique: the swarm refuses a second).
   */
  readonly #byName = new Map<string, number>();
  /** Each task and VIP address's reverse name to its service's place, made when first asked. */
  #byReverse: Map<string, number> | undefined;

  constructor(services: readonly ServiceRecord[], options: ZoneOptions, scopeOf?: ScopeOf) {
    this.#options = options;
    this.#scopeOf = scopeOf;
    this.#services = [...services];
    let made = namesMade.get(options);
    if (!made) namesMade.set(options, (made = new WeakMap()));
    this.#made = made;
    this.#owned = (options.ownedBlocks ?? []).map((cidr) => parseCidr(cidr));
    this.#services.forEach((service, index) => {
      const key = service.name.toLowerCase();
      if (!this.#byName.has(key)) this.#byName.set(key, index);
    });
  }

  /** A service's names, made the first time a query needs them. */
  #names(index: number): ServiceNames {
    const service = this.#services[index]!;
    let names = this.#made.get(service);
    if (!names) this.#made.set(service, (names = new ServiceNames(service, this.#options)));
    return names;
  }

  /** A service's names as one of its scopes sees them, made the first time a query needs them. */
  #scopedNames(index: number, scope: ServiceScope): ServiceNames {
    let names = this.#made.get(scope);
    if (!names) this.#made.set(scope, (names = new ServiceNames(scopedRecord(this.#services[index]!, scope), this.#options)));
    return names;
  }

  #aliases(key: string): readonly number[] {
    if (!this.#byAlias) {
      const byAlias = (this.#byAlias = new Map<string, number[]>());
      this.#services.forEach((service, index) => {
        for (const scope of service.scopes ?? []) {
          for (const alias of scope.aliases ?? []) {
            const list = byAlias.get(alias.toLowerCase()) ?? [];
            if (!list.includes(index)) list.push(index);
            byAlias.set(alias.toLowerCase(), list);
          }
        }
      });
    }
    return this.#byAlias.get(key) ?? [];
  }

  /**
   * A name's entry for a source in `scopes`: the services its labels (or an alias) name, each as the first of
   * its scopes the source shares sees it; a service that shares none is not there. `hidden`: a name some
   * service has, that this source may not see.
   */
  #findScoped(key: string, scopes: ReadonlySet<string>): { entry?: Entry; hidden: boolean } {
    const labels = key.split('.', 3);
    const candidates = [...labels.map((label) => this.#byName.get(label)), ...this.#aliases(key), ...this.#aliases(labels[0]!)];
    const indexes = [...new Set(candidates.filter((index) => index !== undefined))].sort((x, y) => x - y);
    for (const index of indexes) {
      const scope = this.#services[index]!.scopes?.find((s) => scopes.has(s.scope));
      if (!scope) continue;
      const entry = this.#scopedNames(index, scope).names.get(key);
      if (entry) return { entry, hidden: false };
    }
    return { hidden: this.#aliases(key).length > 0 || this.#find(key) !== undefined };
  }

  /** The place of the service holding the address a reverse name stands for. */
  #serviceOfReverse(key: string): number | undefined {
    if (!this.#byReverse) {
      const byReverse = (this.#byReverse = new Map<string, number>());
      this.#services.forEach((service, index) => {
        const scoped = [...service.tasks.flatMap((task) => [...task.scopedAddresses?.values() ?? []]), ...(service.scopes ?? []).flatMap((s) => (s.vip ? [s.vip] : []))];
        for (const address of [...service.tasks.map((task) => task.address), ...(service.vip ? [service.vip] : []), ...scoped]) {
          const reverse = reverseName(address).toLowerCase();
          if (!byReverse.has(reverse)) byReverse.set(reverse, index);
        }
      });
    }
    return this.#byReverse.get(key);
  }

  /**
   * A name's entry. Every name of a service holds the service's name as its first label (`svc`,
   * `svc.<network>`, a task's `svc.<slot>.<id>`), its second (`tasks.svc`) or its third
   * (`_80._tcp.svc`), or is the reverse name of one of its addresses: only those services are asked,
   * the first in record order winning as when every service was asked in turn.
   */
  #find(key: string): Entry | undefined {
    const candidates = key.split('.', 3).map((label) => this.#byName.get(label));
    if (key.endsWith(REVERSE_SUFFIX)) candidates.push(this.#serviceOfReverse(key));
    const indexes = [...new Set(candidates.filter((index) => index !== undefined))].sort((x, y) => x - y);
    for (const index of indexes) {
      const entry = this.#names(index).names.get(key);
      if (entry) return entry;
    }
    return undefined;
  }

  /**
   * The answer for a question, or undefined when the name is not ours (the server forwards it).
   * Names are matched case-insensitively; answers carry the name as it was asked.
   */
  lookup(qname: string, type: QueryType, source?: string): ZoneAnswer | undefined {
    const name = qname.endsWith('.') ? qname.slice(0, -1) : qname;
    const key = name.toLowerCase();
    const scopes = source !== undefined && !key.endsWith(REVERSE_SUFFIX) ? this.#scopeOf?.(source) : undefined;
    let entry: Entry | undefined;
    if (scopes) {
      const found = this.#findScoped(key, scopes);
      if (found.hidden) return { rcode: 'NXDOMAIN', answers: [], additionals: [] };
      entry = found.entry;
    } else {
      entry = this.#find(key);
    }
    if (!entry) return this.#owns(key) ? { rcode: 'NXDOMAIN', answers: [], additionals: [] } : undefined;
    const answer: ZoneAnswer = { rcode: 'NOERROR', answers: [], additionals: [] };
    if ((type === 'A' || type === 'ANY') && entry.addresses) {
      const { list, ttl } = entry.addresses;
      for (const address of shuffled(list)) answer.answers.push({ type: 'A', name, ttl, address });
    }
    if ((type === 'SRV' || type === 'ANY') && entry.srv) {
      for (const { port, task } of shuffled(entry.srv)) {
        answer.answers.push({ type: 'SRV', name, ttl: this.#options.taskTtl, priority: 0, weight: 1, port, target: task.name });
        answer.additionals.push({ type: 'A', name: task.name, ttl: this.#options.taskTtl, address: task.address });
      }
    }
    if ((type === 'PTR' || type === 'ANY') && entry.ptr) {
      answer.answers.push({ type: 'PTR', name, ttl: entry.ptr.ttl, target: entry.ptr.target });
    }
    return answer;
  }

  /**
   * A name under one of our subtrees (`x.tasks.my-web`, `_81._tcp.my-web`), or an address of our blocks,
   * is ours too. A subtree starts with its service's name (a task's name) or one label before it
   * (`tasks.`, `_tcp.`, `_udp.`), so each label that names a service is checked at most twice.
   */
  #owns(name: string): boolean {
    if (name.endsWith(REVERSE_SUFFIX)) {
      const address = addressOf(name);
      if (address === undefined) return false;
      return this.#owned.some((block) => ((address - block.base) >>> 0) < block.size);
    }
    const labels = name.split('.');
    const starts = [0];
    for (const label of labels) starts.push(starts.at(-1)! + label.length + 1);
    for (let i = 1; i < labels.length; i++) {
      const index = this.#byName.get(labels[i]!);
      if (index === undefined) continue;
      const { subtrees } = this.#names(index);
      if (subtrees.has(name.slice(starts[i])) || (i > 1 && subtrees.has(name.slice(starts[i - 1])))) return true;
    }
    return false;
  }
}

function reverseName(address: string): string {
  return `${address.split('.').reverse().join('.')}${REVERSE_SUFFIX}`;
}

/** The IPv4 address a full reverse name stands for, or undefined for a partial or malformed one. */
function addressOf(reverse: string): number | undefined {
  const octets = reverse.slice(0, -REVERSE_SUFFIX.length).split('.');
  if (octets.length !== 4) return undefined;
  try {
    return ipToInt(octets.reverse().join('.'));
  } catch {
    return undefined;
  }
}

/** Multi-address answers are shuffled, as Swarm's are, so naive clients that take the first spread out. */
function shuffled<T>(items: readonly T[]): readonly T[] {
  if (items.length < 2) return items;
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}
