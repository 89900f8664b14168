// docker's idresolver: node and service IDs as names, for `service ps` and the prefixes of `service
// logs`. Each ID is looked up once per command; a lookup that fails shows the ID itself, as docker's does.
import type { ApiNode } from '../apiTypes.js';
import type { EngineClient } from '../EngineClient.js';
import { readService } from './serviceRequests.js';

export class IdResolver {
  readonly #client: EngineClient;
  /** Promises, not names, so that lookups started together for one ID make one request. */
  readonly #names = new Map<string, Promise<string>>();

  constructor(client: EngineClient) {
    this.#client = client;
  }

  node(id: string): Promise<string> {
    return this.#resolve(`node ${id}`, id, async () => {
      const node = await this.#client.get<ApiNode>(`/nodes/${encodeURIComponent(id)}`);
      return node?.Spec?.Name || node?.Description?.Hostname || id;
    });
  }

  service(id: string): Promise<string> {
    return this.#resolve(`service ${id}`, id, async () => (await readService(this.#client, id))?.Spec?.Name || id);
  }

  #resolve(key: string, id: string, lookup: () => Promise<string>): Promise<string> {
    let name = this.#names.get(key);
    if (name === undefined) {
      name = lookup().catch(() => id);
      this.#names.set(key, name);
    }
    return name;
  }
}
