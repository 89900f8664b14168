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
import { DEFAULT_BRIDGE_SUBNET, INGRESS_NETWORK_NAME, PREDEFINED_NETWORKS, SwarmError, defaultBridgeId, isTerminal, networksSeenBy } from '../../swarm/index.js';
import type { ClusterView, Network, SwarmReader } from '../../swarm/index.js';
import { createHash } from 'node:crypto';

/** routemesh's IPAM option naming a network's loopback block, the one its tasks really bind. */
const LOOPBACK_SUBNET_OPTION = 'routemesh.loopback-subnet';

/** VXLAN IDs as Swarm numbers them: 4096 for ingress, then one per overlay network. */
const FIRST_VXLAN_ID = 4096;

function ingress(reader: SwarmReader): Record<string, unknown> {
  return {
    Name: INGRESS_NETWORK_NAME,
    Id: reader.ingressNetworkId,
    Created: reader.createdAt,
    Scope: 'swarm',
    Driver: 'overlay',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: reader.taskSubnet }] },
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
    Containers: Object.fromEntries(Object.entries(network.Containers ?? {}).map(([id, c]) => [id, {
      Name: c.Name, EndpointID: createHash('sha256').update(`${network.ID}:${id}`).digest('hex'), MacAddress: '',
      IPv4Address: c.Address, IPv6Address: '', LoopbackAddress: c.LoopbackAddress,
    }])),
    Options: {
      ...(driver === 'overlay' ? { 'com.docker.network.driver.overlay.vxlanid_list': String(FIRST_VXLAN_ID + 1 + index) } : {}),
      ...network.Spec.DriverConfiguration?.Options,
    },
    Labels: network.Spec.Labels ?? {},
    /** routemesh's addition: the loopback block mapped one to one onto the subnet above. */
    LoopbackSubnet: network.LoopbackSubnet,
  };
}

/** Docker's own local networks of every node beside its `bridge`: shown, never attached to (host networking is the node's own address). */
function predefined(nodeId: string, name: 'host' | 'none'): Record<string, unknown> {
  return {
    Name: name, Id: createHash('sha256').update(`${name}:${nodeId}`).digest('hex'), Created: '0001-01-01T00:00:00Z', Scope: 'local',
    Driver: name === 'host' ? 'host' : 'null', EnableIPv4: true, EnableIPv6: false, IPAM: { Driver: 'default', Options: null, Config: null },
    Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}

/** The node's default bridge before its first container made it (then it is a stored network like the others). */
function defaultBridge(nodeId: string): Network {
  return {
    ID: defaultBridgeId(nodeId), Version: { Index: 0 }, CreatedAt: '0001-01-01T00:00:00Z', UpdatedAt: '0001-01-01T00:00:00Z',
    Spec: { Name: 'bridge', Labels: {}, DriverConfiguration: { Name: 'bridge' }, Scope: 'local' },
    IPAMOptions: { Driver: { Name: 'default' }, Configs: [{ Subnet: DEFAULT_BRIDGE_SUBNET, Gateway: DEFAULT_BRIDGE_SUBNET.replace(/0\/24$/, '1') }] },
    NodeID: nodeId,
  };
}

/** The node a request was made to: this engine's, or the one that forwarded it to this leader. */
function askingNode(r: ApiRequest, engine: EngineContext, reader: SwarmReader): string | undefined {
  const from = r.req.headers[FORWARDED_FROM_HEADER];
  if (typeof from === 'string') return reader.store.nodes().find((n) => n.Status.Addr === from)?.ID;
  return engine.nodeId();
}

/** What a node's network routes read: the swarm as a manager reads it, the node's own view on a worker. */
interface Source {
  store: ClusterView;
  nodeId: string | undefined;
  /** The networks this node sees, oldest first, its default bridge among them. */
  networks: Network[];
  /** The ingress network as Docker shows it, where the node knows it. */
  ingress: Record<string, unknown> | undefined;
  reader: SwarmReader | undefined;
}

async function sourceOf(r: ApiRequest, engine: EngineContext): Promise<Source> {
  let reader: SwarmReader | undefined;
  let store: ClusterView;
  let nodeId: string | undefined;
  try {
    reader = await engine.reader();
    store = reader.store;
    nodeId = askingNode(r, engine, reader);
  } catch (error) {
    // A worker shows what its own copy of the cluster holds, as a Docker worker lists its networks.
    const own = engine.swarmState() === 'active/worker' ? engine.nodeView() : undefined;
    if (!own) throw error;
    ({ view: store, nodeId } = own);
  }
  const networks = networksSeenBy(store, nodeId)
    .sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID));
  if (nodeId && !networks.some((n) => n.ID === defaultBridgeId(nodeId))) networks.unshift(defaultBridge(nodeId));
  return { store, nodeId, networks, ingress: reader && ingress(reader), reader };
}

/** Docker's lookup among what the node sees: full ID, exact name, unique ID prefix. */
function find(source: Source, ref: string): Network {
  const byId = source.networks.find((n) => n.ID === ref);
  if (byId) return byId;
  const byName = source.networks.filter((n) => n.Spec.Name === ref);
  if (byName.length === 1) return byName[0]!;
  const byPrefix = ref ? source.networks.filter((n) => n.ID.startsWith(ref)) : [];
  if (byName.length > 1 || byPrefix.length > 1) throw new ApiError(400, `network ${ref} is ambiguous (${Math.max(byName.length, byPrefix.length)} matches found)`);
  if (byPrefix.length === 1) return byPrefix[0]!;
  throw new ApiError(404, `network ${ref} not found`);
}

/** Whether anything is on the network (Docker's `dangling=false`): a service that asks for it, a task or a container on it. */
function inUse(store: ClusterView, network: Network): boolean {
  return Object.keys(network.Containers ?? {}).length > 0 ||
    store.services().some((s) => (s.Spec.TaskTemplate.Networks ?? []).some((n) => n.Target === network.ID)) ||
    store.tasks().some((t) => !isTerminal(t.Status.State) && (t.NetworksAttachments ?? []).some((a) => a.Network.ID === network.ID));
}

/** Docker matches `name` filters as regular expressions (a plain word is a substring). */
function nameMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

function isIngressRef(ref: string, source: Source): boolean {
  const id = source.reader?.ingressNetworkId;
  return ref === INGRESS_NETWORK_NAME || (id !== undefined && ref.length > 0 && id.startsWith(ref) && !source.networks.some((n) => n.ID.startsWith(ref)));
}

export function networkRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/networks$/, async (r) => {
    const filters = parseFilters(r.query.get('filters'), ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    const dangling = filters.get('dangling');
    if (dangling?.some((v) => !['true', 'false', '1', '0'].includes(v))) throw new ApiError(400, `invalid filter 'dangling=${dangling.join(',')}'`);
    const source = await sourceOf(r, engine);
    type Listed = { body: Record<string, unknown>; name: string; id: string; driver: string; scope: string; labels: Record<string, string>; used: boolean };
    const listed: Listed[] = [];
    if (source.ingress) listed.push({ body: source.ingress, name: INGRESS_NETWORK_NAME, id: source.reader!.ingressNetworkId, driver: 'overlay', scope: 'swarm', labels: {}, used: true });
    source.networks.forEach((network, index) => listed.push({
      body: resource(network, index), name: network.Spec.Name, id: network.ID, driver: network.Spec.DriverConfiguration?.Name ?? 'overlay',
      scope: network.Spec.Scope ?? 'swarm', labels: network.Spec.Labels ?? {}, used: inUse(source.store, network),
    }));
    if (source.nodeId) {
      for (const name of ['host', 'none'] as const) {
        const body = predefined(source.nodeId, name);
        listed.push({ body, name, id: body.Id as string, driver: body.Driver as string, scope: 'local', labels: {}, used: true });
      }
    }
    const body = listed.filter((n) =>
      matches(filters, 'name', (v) => nameMatches(v, n.name)) &&
      matches(filters, 'id', (v) => n.id.startsWith(v)) &&
      matches(filters, 'scope', (v) => v === n.scope) &&
      matches(filters, 'driver', (v) => v === n.driver) &&
      matches(filters, 'type', (v) => v === ((PREDEFINED_NETWORKS as readonly string[]).includes(n.name) && n.name !== INGRESS_NETWORK_NAME ? 'builtin' : 'custom')) &&
      // Docker's predefined networks are never dangling.
      matches(filters, 'dangling', (v) => (v === 'true' || v === '1') !== (n.used || ['bridge', 'host', 'none'].includes(n.name))) &&
      matchesLabels(filters, n.labels)).map((n) => n.body);
    return { status: 200, body };
  });

  router.add('POST', /^\/networks\/create$/, async (r) => {
    const input = await r.body();
    // A bridge network is the node's own: asked of the leader over the node's link, from any node.
    const driver = typeof input === 'object' && input !== null ? (input as { Driver?: unknown }).Driver : undefined;
    if (driver === undefined || driver === '' || driver === 'bridge') {
      const network = await engine.networks.createLocal(input);
      return { status: 201, body: { Id: network.ID, Warning: '' } };
    }
    const manager = engine.requireManager();
    // Its event is the swarm's (SwarmEvents, on every manager), not this node's.
    const network = manager.networks.create(input, askingNode(r, engine, manager));
    return { status: 201, body: { Id: network.ID, Warning: '' } };
  });

  router.add('GET', /^\/networks\/([^/]+)$/, async (r) => {
    const source = await sourceOf(r, engine);
    const ref = r.params[0]!;
    const scope = r.query.get('scope');
    if (source.ingress && isIngressRef(ref, source)) {
      if (scope === 'local') throw new ApiError(404, `network ${ref} not found`);
      return { status: 200, body: source.ingress };
    }
    if (source.nodeId && (ref === 'host' || ref === 'none' || (predefined(source.nodeId, 'host').Id as string) === ref || (predefined(source.nodeId, 'none').Id as string) === ref)) {
      if (scope === 'swarm') throw new ApiError(404, `network ${ref} not found`);
      return { status: 200, body: predefined(source.nodeId, ref === 'none' || ref === predefined(source.nodeId, 'none').Id ? 'none' : 'host') };
    }
    const network = find(source, ref);
    if (scope && scope !== (network.Spec.Scope ?? 'swarm')) throw new ApiError(404, `network ${ref} not found`);
    const body = resource(network, source.networks.indexOf(network));
    if (isTrue(r.query.get('verbose'))) body.Services = {};
    return { status: 200, body };
  });

  router.add('DELETE', /^\/networks\/([^/]+)$/, async (r) => {
    const ref = r.params[0]!;
    if (['bridge', 'host', 'none'].includes(ref)) throw new ApiError(403, `${ref} is a pre-defined network and cannot be removed`);
    const own = engine.nodeView();
    const local = own?.view.all('network').find((n) => n.Spec.Scope === 'local' && n.NodeID === own.nodeId && (n.ID === ref || n.Spec.Name === ref || (ref.length >= 3 && n.ID.startsWith(ref))));
    if (local) {
      await engine.networks.removeLocal(local.ID, local);
      return { status: 204 };
    }
    const manager = engine.requireManager();
    if (ref === INGRESS_NETWORK_NAME || ref === manager.ingressNetworkId) {
      throw new SwarmError('failed_precondition', `rpc error: code = FailedPrecondition desc = routemesh's ingress network carries every published port and is made with the swarm: it cannot be removed`);
    }
    const network = manager.networks.resolve(ref, askingNode(r, engine, manager));
    manager.networks.remove(network.ID, askingNode(r, engine, manager));
    return { status: 204 };
  });
}
