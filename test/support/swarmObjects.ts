// Test support: Swarm objects (nodes, services, tasks) as the store holds them, with only what a table
// test varies as options; for the pure functions that turn the cluster view into routes and names.
import type {
  DesiredState, NodeState, PortConfig, Protocol, Service, SwarmNode, Task, TaskEndpoint, TaskState,
} from '../../src/swarm/index.js';

const CREATED = '2024-01-01T00:00:00.000Z';

export function node(id: string, state: NodeState = 'ready'): SwarmNode {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: CREATED,
    UpdatedAt: CREATED,
    Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
    Description: {
      Hostname: id,
      Platform: { Architecture: 'x86_64', OS: 'linux' },
      Resources: { NanoCPUs: 2e9, MemoryBytes: 2 * 1024 ** 3 },
      Engine: { EngineVersion: '24.0.0', Plugins: [] },
      TLSInfo: { TrustRoot: '', CertIssuerSubject: '', CertIssuerPublicKey: '' },
    },
    Status: { State: state, Addr: '127.1.0.1' },
  };
}

export function port(published: number | undefined, target: number, protocol: Protocol = 'tcp', mode: 'ingress' | 'host' = 'ingress'): PortConfig {
  return { Protocol: protocol, TargetPort: target, PublishMode: mode, ...(published ? { PublishedPort: published } : {}) };
}

export interface ServiceOptions {
  ports?: PortConfig[];
  /** The VirtualIPs' Addr values (`127.10.0.2/16`); the endpoint mode is vip with them, dnsrr without. */
  vips?: string[];
}

export function service(id: string, name: string, o: ServiceOptions = {}): Service {
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: CREATED,
    UpdatedAt: CREATED,
    Spec: { Name: name, Labels: {}, TaskTemplate: { ContainerSpec: { Image: 'nginx' } }, Mode: { Replicated: { Replicas: 1 } } },
    Endpoint: {
      Spec: { Mode: o.vips?.length ? 'vip' : 'dnsrr', ...(o.ports ? { Ports: o.ports } : {}) },
      ...(o.ports ? { Ports: o.ports } : {}),
      ...(o.vips ? { VirtualIPs: o.vips.map((Addr) => ({ NetworkID: 'ingress', Addr })) } : {}),
    },
  };
}

export interface TaskOptions {
  slot?: number;
  node?: string;
  state?: TaskState;
  desired?: DesiredState;
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** null = no Endpoint at all; absent = `127.20.0.<slot + 1>` with no ports. */
  endpoint?: TaskEndpoint | null;
  /** null = no Name; absent = `<service id>.<slot>.<task id>`. */
  name?: string | null;
  networks?: string[];
}

export function task(id: string, serviceId: string, o: TaskOptions = {}): Task {
  const slot = o.slot ?? 1;
  const endpoint = o.endpoint === undefined ? { Addr: `127.20.0.${slot + 1}`, Ports: [] } : o.endpoint;
  const name = o.name === undefined ? `${serviceId}.${slot}.${id}` : o.name;
  return {
    ID: id,
    Version: { Index: 1 },
    CreatedAt: CREATED,
    UpdatedAt: CREATED,
    ...(name !== null ? { Name: name } : {}),
    Labels: {},
    Spec: { ContainerSpec: { Image: 'nginx' } },
    ServiceID: serviceId,
    Slot: slot,
    NodeID: o.node ?? 'n1',
    Status: {
      Timestamp: CREATED, State: o.state ?? 'running', Message: '', PortStatus: {},
      ...(o.health ? { Health: o.health } : {}),
    },
    DesiredState: o.desired ?? 'running',
    ...(o.networks ? { NetworksAttachments: o.networks.map((n) => ({ Network: { ID: `net-${n}`, Spec: { Name: n } }, Addresses: [] })) } : {}),
    ...(endpoint ? { Endpoint: endpoint } : {}),
  };
}
