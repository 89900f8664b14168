// The service requests several verbs make alike: read a service as stored (no defaults filled in, so
// an update sends back exactly what it got), send a full-spec update with the version that was read,
// and print the warnings the engine answers with (on stderr, as docker does).
import type { ApiService, ApiServiceSpec } from '../apiTypes.js';
import type { CommandContext } from '../CommandContext.js';
import type { EngineClient, Query } from '../EngineClient.js';

/** What create and update answer: the warnings, and for create the new ID. */
export interface WarningsResponse {
  Warnings?: string[] | null;
}

export function servicePath(ref: string): string {
  return `/services/${encodeURIComponent(ref)}`;
}

export function readService(client: EngineClient, ref: string): Promise<ApiService> {
  return client.get<ApiService>(servicePath(ref), { insertDefaults: false });
}

/** POSTs `spec` for `service`, at the version it was read at; `query` adds e.g. rollback=previous. */
export async function updateService(ctx: CommandContext, service: ApiService, spec: ApiServiceSpec, query: Query = {}): Promise<void> {
  const response = await ctx.client().post<WarningsResponse>(`${servicePath(service.ID)}/update`, spec,
    { ...query, version: service.Version?.Index ?? 0 });
  printWarnings(ctx, response);
}

export function printWarnings(ctx: CommandContext, response: WarningsResponse | undefined): void {
  for (const warning of response?.Warnings ?? []) ctx.err(warning);
}
