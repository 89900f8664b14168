// The process's own metrics (CPU, memory, event loop, GC: prom-client's defaults), on one registry for
// the whole process: made once, however many clusters and nodes it holds, since they all share it.
import { Registry, collectDefaultMetrics } from 'prom-client';

let registry: Registry | undefined;

export function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
  }
  return registry;
}
