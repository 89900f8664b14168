// /networks: the swarm's `ingress` (every published port's network, made with the swarm), the overlay
// networks users create, and each node's own bridge networks, in Docker's NetworkResource shape. The
// docker CLI reads them for `network ls/inspect`, `--network` and `service inspect --pretty`;
// Prometheus's dockerswarm_sd reads the list for its network labels.
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import type { ApiRequest } from './Router.js';
import { ApiError, isTrue } from './http.js';
import { FORWARDED_FROM_HEADER } from './leaderForward.js';
import { matches, matchesLabels, parseFilters } from './filters.js';
import { INGRESS_NETWORK_NAME, PREDEFINED_NETWORKS, SwarmError, isTerminal } from '../../swarm/index.js';
import type { Manager, Network } from '../../swarm/index.js';

/** routemesh's IPAM option naming a network's loopback block, the one its tasks really bind. */
export const LOOPBACK_SUBNET_OPTION = 'routemesh.loopback-subnet';

/** VXLAN IDs as Swarm numbers them: 4096 for ingress, then one per overlay network. */
const FIRST_VXLAN_ID = 4096;

function ingress(manager: Manager): Record<string, unknown> {
  return {
    Name: INGRESS_NETWORK_NAME,
    Id: manager.ingressNetworkId,
    Created: manager.createdAt,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: manager.taskSubnet }] },
    Internal: false,
    Attachable: false,
    Ingress: true,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: null,
    Options: { 'com.docker.network.driver.overlay.vxlanid_list': String(FIRST_VXLAN_ID) },
    Labels: {},
  };
}

/** A network as Docker's NetworkResource shows it: its subnet as given, and routemesh's loopback block beside it. */
function resource(network: Network, index: number): Record<string, unknown> {
  const driver = network.Spec.DriverConfiguration?.Name ?? 'overlay';
  const config = network.IPAMOptions?.Configs ?? [];
  return {
    Name: network.Spec.Name,
    Id: network.ID,
    Created: network.CreatedAt,
    Scope: network.Spec.Scope ?? 'swarm',
    Driver: driver,
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: {
      Driver: 'default',
      Options: network.LoopbackSubnet ? { [LOOPBACK_SUBNET_OPTION]: network.LoopbackSubnet } : null,
      Config: config.map((c) => ({ Subnet: c.Subnet, Gateway: c.Gateway })),
    },
    Internal: network.Spec.Internal === true,
    Attachable: network.Spec.Attachable === true,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {
      ...(driver === 'overlay' ? { 'com.docker.network.driver.overlay.vxlanid_list': String(FIRST_VXLAN_ID + 1 + index) } : {}),
      ...network.Spec.DriverConfiguration?.Options,
    },
    Labels: network.Spec.Labels ?? {},
    /** routemesh's addition: the loopback block mapped one to one onto the subnet above. */
    LoopbackSubnet: network.LoopbackSubnet,
  };
}

/** The node a request was made to: this engine's, or the one that forwarded it to this leader. */
function askingNode(r: ApiRequest, engine: EngineContext, manager: Manager): string | undefined {
  const from = r.req.headers[FORWARDED_FROM_HEADER];
  if (typeof from === 'string') return manager.store.nodes().find((n) => n.Status.Addr === from)?.ID;
  return engine.nodeId();
}

/** Whether anything is on the network (Docker's `dangling=false`): a service that asks for it, or a task that still holds an address on it. */
function inUse(manager: Manager, network: Network): boolean {
  return manager.store.services().some((s) => (s.Spec.TaskTemplate.Networks ?? []).some((n) => n.Target === network.ID)) ||
    manager.store.tasks().some((t) => !isTerminal(t.Status.State) && (t.NetworksAttachments ?? []).some((a) => a.Network.ID === network.ID));
}

/** Docker matches `name` filters as regular expressions (a plain word is a substring). */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

export function networkRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/networks$/, (r) => {
    const manager = engine.requireManager();
    const filters = parseFilters(r.query.get('filters'), ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    const dangling = filters.get('dangling');
    if (dangling?.some((v) => !['true', 'false', '1', '0'].includes(v))) throw new ApiError(400, `invalid filter 'dangling=${dangling.join(',')}'`);
    const ordered = manager.store.all('network').sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
    const seen = new Set(manager.networksSeenBy(askingNode(r, engine, manager)).map((n) => n.ID));
    const listed: { body: Record<string, unknown>; name: string; id: string; driver: string; scope: string; labels: Record<string, string>; used: boolean }[] = [
      { body: ingress(manager), name: INGRESS_NETWORK_NAME, id: manager.ingressNetworkId, driver: 'overlay', scope: 'swarm', labels: {}, used: true },
      ...ordered.flatMap((network, index) => seen.has(network.ID) ? [{
        body: resource(network, index), name: network.Spec.Name, id: network.ID, driver: network.Spec.DriverConfiguration?.Name ?? 'overlay',
        scope: network.Spec.Scope ?? 'swarm', labels: network.Spec.Labels ?? {}, used: inUse(manager, network),
      }] : []),
    ];
    const body = listed.filter((n) =>
      matches(filters, 'name', (v) => nameMatches(v, n.name)) &&
      matches(filters, 'id', (v) => n.id.startsWith(v)) &&
      matches(filters, 'scope', (v) => v === n.scope) &&
      matches(filters, 'driver', (v) => v === n.driver) &&
      matches(filters, 'type', (v) => v === ((PREDEFINED_NETWORKS as readonly string[]).includes(n.name) && n.name !== INGRESS_NETWORK_NAME ? 'builtin' : 'custom')) &&
      matches(filters, 'dangling', (v) => (v === 'true' || v === '1') !== n.used) &&
      matchesLabels(filters, n.labels)).map((n) => n.body);
    return { status: 200, body };
  });

  router.add('POST', /^\/networks\/create$/, async (r) => {
    const manager = engine.requireManager();
    const input = await r.body();
    const network = manager.createNetwork(input, askingNode(r, engine, manager));
    return { status: 201, body: { Id: network.ID, Warning: '' } };
  });

  router.add('GET', /^\/networks\/([^/]+)$/, (r) => {
    const manager = engine.requireManager();
    const ref = r.params[0]!;
    const scope = r.query.get('scope');
    if (ref === INGRESS_NETWORK_NAME || ref === manager.ingressNetworkId || (ref.length && manager.ingressNetworkId.startsWith(ref) && !manager.store.all('network').some((n) => n.ID.startsWith(ref)))) {
      if (scope === 'local') throw new ApiError(404, `network ${ref} not found`);
      return { status: 200, body: ingress(manager) };
    }
    const network = manager.resolveNetwork(ref, askingNode(r, engine, manager));
    if (scope && scope !== (network.Spec.Scope ?? 'swarm')) throw new ApiError(404, `network ${ref} not found`);
    const index = manager.store.all('network').sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID)).indexOf(network);
    const body = resource(network, index);
    if (isTrue(r.query.get('verbose'))) body.Services = {};
    return { status: 200, body };
  });

  router.add('DELETE', /^\/networks\/([^/]+)$/, (r) => {
    const manager = engine.requireManager();
    const ref = r.params[0]!;
    if (ref === INGRESS_NETWORK_NAME || ref === manager.ingressNetworkId) {
      throw new SwarmError('failed_precondition', `rpc error: code = FailedPrecondition desc = routemesh's ingress network carries every published port and is made with the swarm: it cannot be removed`);
    }
    manager.removeNetwork(ref, askingNode(r, engine, manager));
    return { status: 204 };
  });
}
