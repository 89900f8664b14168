// Secrets and configs as swarmkit's control API keeps them: created whole (a unique name, data within
// the size limit), found by ID, name or ID prefix, changed only in their labels, and removed only while
// no service refers to them. One class serves both kinds; they differ in their size limit and in whether
// the engine API may show their data (a config's yes, a secret's never).
import type { Config, Secret, Service, SecretSpec } from './model.js';
import { nowIso } from './model.js';
import type { ClusterView, Store } from './Store.js';
import { invalidArgument, outOfSequence, rpcError } from './errors.js';
import { resolveRef } from './resolveRef.js';
import { isObject, checkStringMap } from './specChecks.js';
import { newObjectId } from './ids.js';

export type SecretKindName = 'secret' | 'config';

/** swarmkit's MaxSecretSize (500 KiB) and MaxConfigSize (1000 KiB): the data must be shorter. */
export const MAX_DATA_BYTES: Record<SecretKindName, number> = { secret: 500 * 1024, config: 1000 * 1024 };

/** swarmkit's rule for both kinds' names: up to 64 of [a-zA-Z0-9-_.], starting and ending with a letter or digit. */
const NAME = /^[a-zA-Z0-9]+(?:[a-zA-Z0-9-_.]*[a-zA-Z0-9])?$/;

/** A service's references to one kind, as ContainerSpec carries them. */
export interface DataReference {
  File?: { Name?: string; UID?: string; GID?: string; Mode?: number };
  SecretID?: string;
  SecretName?: string;
  ConfigID?: string;
  ConfigName?: string;
}

/** The references a service's tasks make to `kind` (ContainerSpec.Secrets or .Configs). */
export function referencesOf(kind: SecretKindName, spec: Service['Spec']): DataReference[] {
  const container = spec.TaskTemplate.ContainerSpec;
  return ((kind === 'secret' ? container.Secrets : container.Configs) ?? []) as DataReference[];
}

function referenceId(kind: SecretKindName, ref: DataReference): string | undefined {
  return kind === 'secret' ? ref.SecretID : ref.ConfigID;
}
function referenceName(kind: SecretKindName, ref: DataReference): string | undefined {
  return kind === 'secret' ? ref.SecretName : ref.ConfigName;
}

/** A secret or config without its data: what the API shows of a secret, what a node that does not need it is sent. */
export function withoutData<T extends Secret | Config>(object: T): T {
  if (object.Spec.Data === undefined) return object;
  const { Data: _data, ...spec } = object.Spec;
  return { ...object, Spec: spec };
}

/** What the engine API reads of one kind: the leader's SecretKind answers it, and so does a follower's copy of the swarm. */
export interface SecretReads {
  list(): readonly (Secret | Config)[];
  /** Swarm's lookup order: full ID, then exact name, then unique ID prefix. */
  resolve(ref: string): Secret | Config;
}

/** The reads of `kind` in any copy of the swarm's objects. */
export function secretReadsOf(view: ClusterView, kind: SecretKindName): SecretReads {
  return {
    list: () => view.all(kind),
    resolve: (ref) => resolveRef(kind, view.all(kind), ref, (o) => [o.Spec.Name]),
  };
}

export class SecretKind implements SecretReads {
  readonly #store: Store;
  readonly #kind: SecretKindName;
  readonly #reads: SecretReads;

  constructor(store: Store, kind: SecretKindName) {
    this.#store = store;
    this.#kind = kind;
    this.#reads = secretReadsOf(store, kind);
  }

  list(): readonly (Secret | Config)[] {
    return this.#reads.list();
  }

  resolve(ref: string): Secret | Config {
    return this.#reads.resolve(ref);
  }

  create(input: unknown): Secret | Config {
    const spec = this.#checkSpec(input);
    if (this.list().some((o) => o.Spec.Name === spec.Name)) {
      throw rpcError('already_exists', 'AlreadyExists', `${this.#kind} ${spec.Name} already exists`);
    }
    const now = nowIso();
    const object: Secret = { ID: newObjectId(), Version: { Index: 0 }, CreatedAt: now, UpdatedAt: now, Spec: spec };
    return this.#store.put(this.#kind, object);
  }

  /** swarmkit's rule: only the labels change; the name and data stay as created (Data may be sent again unchanged, as the CLI does). */
  update(ref: string, version: number, input: unknown): void {
    const current = this.resolve(ref);
    if (!isObject(input)) throw invalidArgument(`the ${this.#kind} spec must be a JSON object`);
    const sameData = input.Data === undefined || input.Data === null || input.Data === '' || input.Data === current.Spec.Data;
    if ((input.Name !== undefined && input.Name !== current.Spec.Name) || !sameData) {
      throw invalidArgument('only updates to Labels are allowed');
    }
    if (current.Version.Index !== version) throw outOfSequence();
    const next = structuredClone(current);
    next.Spec.Labels = checkStringMap(input.Labels, 'Labels');
    this.#store.put(this.#kind, next, version);
  }

  remove(ref: string): void {
    const object = this.resolve(ref);
    const users = this.#store.services().filter((s) => referencesOf(this.#kind, s.Spec).some((r) => referenceId(this.#kind, r) === object.ID));
    if (users.length) {
      const names = users.map((s) => s.Spec.Name).sort().join(', ');
      throw invalidArgument(`${this.#kind} '${object.Spec.Name}' is in use by the following ${users.length === 1 ? 'service' : 'services'}: ${names}`);
    }
    this.#store.delete(this.#kind, object.ID);
  }

  /**
   * swarmkit's checks of a service's references to this kind (validateSecretRefsSpec, checkSecretExistence):
   * each names an existing object by ID and name, and no two share a target file.
   */
  checkReferences(spec: Service['Spec']): void {
    const kind = this.#kind;
    const targets = new Map<string, string>();
    const missing: string[] = [];
    for (const ref of referencesOf(kind, spec)) {
      const id = referenceId(kind, ref);
      const name = referenceName(kind, ref);
      if (!id || !name) throw invalidArgument(`malformed ${kind} reference`);
      if (!ref.File) throw invalidArgument(`malformed ${kind} reference, no target provided`);
      const file = ref.File.Name;
      if (!file) throw invalidArgument(`malformed file ${kind} reference, invalid target file name provided`);
      const previous = targets.get(file);
      if (previous !== undefined) throw invalidArgument(`${kind} references '${previous}' and '${name}' have a conflicting target: '${file}'`);
      targets.set(file, name);
      if (this.#store.get(kind, id)?.Spec.Name !== name) missing.push(name);
    }
    if (missing.length) throw invalidArgument(`${kind}${missing.length === 1 ? '' : 's'} not found: ${missing.join(', ')}`);
  }

  #checkSpec(input: unknown): SecretSpec {
    if (!isObject(input)) throw invalidArgument(`the ${this.#kind} spec must be a JSON object like {"Name":"db_pass","Data":"<base64>"}`);
    const name = input.Name;
    if (typeof name !== 'string' || name === '') throw invalidArgument('name must be provided');
    if (name.length > 64 || !NAME.test(name)) {
      throw invalidArgument('invalid name, only 64 [a-zA-Z0-9-_.] characters allowed, and the start and end character must be [a-zA-Z0-9]');
    }
    for (const field of ['Driver', 'Templating']) {
      if (isObject(input[field]) && input[field].Name) {
        throw invalidArgument(`${this.#kind} ${field.toLowerCase()}s are not supported: routemesh keeps ${this.#kind}s in the swarm itself; leave out --${field === 'Driver' ? 'driver' : 'template-driver'}`);
      }
    }
    const data = input.Data ?? '';
    if (typeof data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) throw invalidArgument(`${this.#kind} Data must be base64, as the API carries bytes`);
    const bytes = Buffer.from(data, 'base64').length;
    const max = MAX_DATA_BYTES[this.#kind];
    if (bytes >= max || bytes < 1) throw invalidArgument(`${this.#kind} data must be larger than 0 and less than ${max} bytes`);
    return { Name: name, Labels: checkStringMap(input.Labels, 'Labels'), Data: data };
  }
}
