// The process's own metrics (CPU, memory, event loop, GC: prom-client's defaults), on one registry for
// the whole process: made once, however many clusters and nodes it holds, since they all share it.
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * prom-client's gauges named like counters, which `promtool check metrics` flags. Each is the sum of the
 * series of its namesake without `_total` (`nodejs_active_handles` by type), so nothing is lost.
 */
const MISNAMED = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let registry: Registry | undefined;

export function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry });
    for (const name of MISNAMED) registry.removeSingleMetric(name);
  }
  return registry;
}
