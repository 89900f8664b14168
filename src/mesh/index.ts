export { Mesh } from './Mesh.js';
export { LocalMeshes } from './LocalMeshes.js';
export { MeshMetrics } from './MeshMetrics.js';
export type { LiveConnection, PoolView } from './MeshMetrics.js';
export type { MeshOptions, DnsSink } from './Mesh.js';
export { buildRoutingTable, backendFor, poolKeyOf, vipRouteKey } from './RoutingTable.js';
export { dnsRecords } from './dnsRecords.js';
export type { PublishedRoute, RoutingTable } from './RoutingTable.js';
