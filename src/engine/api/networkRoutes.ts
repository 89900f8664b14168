// /networks: the one network of a routemesh swarm, `ingress`, that every task is attached to. The docker
// CLI reads it for `--network` and `service inspect --pretty`; Prometheus's dockerswarm_sd reads the list
// for its network labels before it names any service or task.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';
import { matches, parseFilters } from './filters.js';
import { INGRESS_NETWORK_NAME } from '../../swarm/index.js';
import type { Manager } from '../../swarm/index.js';

function ingress(manager: Manager): Record<string, unknown> {
  return {
    Name: INGRESS_NETWORK_NAME,
    Id: manager.ingressNetworkId,
    Created: manager.createdAt,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: manager.taskSubnet }] },
    Internal: false,
    Attachable: false,
    Ingress: true,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: null,
    Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' },
    Labels: {},
  };
}

export function networkRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/networks$/, (r) => {
    const manager = engine.requireManager();
    const filters = parseFilters(r.query.get('filters'), ['driver', 'id', 'label', 'name', 'scope', 'type']);
    const network = ingress(manager);
    const listed = matches(filters, 'name', (v) => INGRESS_NETWORK_NAME.startsWith(v)) &&
      matches(filters, 'id', (v) => manager.ingressNetworkId.startsWith(v)) &&
      matches(filters, 'scope', (v) => v === 'swarm') &&
      matches(filters, 'driver', (v) => v === 'overlay') &&
      matches(filters, 'type', (v) => v === 'custom') &&
      !filters.has('label');
    return { status: 200, body: listed ? [network] : [] };
  });

  router.add('GET', /^\/networks\/([^/]+)$/, (r) => {
    const manager = engine.requireManager();
    const ref = r.params[0]!;
    if (ref !== INGRESS_NETWORK_NAME && !manager.ingressNetworkId.startsWith(ref)) {
      throw new ApiError(404, `network ${ref} not found`);
    }
    return { status: 200, body: ingress(manager) };
  });
}
