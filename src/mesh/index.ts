export { Mesh } from './Mesh.js';
export { MeshMetrics } from './MeshMetrics.js';
export type { LiveConnection, PoolView } from './MeshMetrics.js';
export type { MeshOptions, DnsSink, VipHolding } from './Mesh.js';
export { buildRoutingTable, backendFor, nodesUpOf, poolKeyOf, poolOrder, serviceRoutingTable, vipRouteKey } from './RoutingTable.js';
export { dnsRecords } from './dnsRecords.js';
export { MeshService } from './MeshService.js';
export type { PublishedRoute, RoutingTable, ServicePort } from './RoutingTable.js';
export { NetworkMembership } from './NetworkMembership.js';
