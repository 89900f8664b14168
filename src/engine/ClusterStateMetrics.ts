// What a manager knows of the whole cluster, as gauges read from its store at scrape time: tasks by
// service and state, nodes by state, availability and role. A worker exports none of it.
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { ClusterView } from '../swarm/index.js';

export class ClusterStateMetrics {
  /** `view` is the cluster as this node's manager sees it, or undefined while the node is no manager. */
  constructor(registry: Registry, view: () => ClusterView | undefined) {
    new Gauge({
      name: 'routemesh_tasks', registers: [registry],
      help: 'Tasks the managers keep, by service and state (running, shutdown, failed ...): history included, as `service ps` shows it.',
      labelNames: ['service', 'state'],
      collect() {
        this.reset();
        const cluster = view();
        if (!cluster) return;
        const names = new Map(cluster.services().map((s) => [s.ID, s.Spec.Name]));
        for (const task of cluster.tasks()) {
          const service = names.get(task.ServiceID);
          if (service) this.inc({ service, state: task.Status.State });
        }
      },
    });
    new Gauge({
      name: 'routemesh_nodes', registers: [registry],
      help: 'Nodes of the cluster by state (ready, down ...), availability (active, pause, drain) and role (manager, worker).',
      labelNames: ['state', 'availability', 'role'],
      collect() {
        this.reset();
        for (const node of view()?.nodes() ?? []) {
          this.inc({ state: node.Status.State, availability: node.Spec.Availability, role: node.Spec.Role });
        }
      },
    });
  }
}
