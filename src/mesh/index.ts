export { Mesh } from './Mesh.js';
export type { MeshOptions } from './Mesh.js';
export { buildRoutingTable, backendFor, poolKeyOf } from './RoutingTable.js';
export type { PublishedRoute, RoutingTable } from './RoutingTable.js';
