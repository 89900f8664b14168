export { Cluster, checkAddressing, startCluster } from './Cluster.js';
export type { ClusterOptions, ClusterNodeInfo } from './Cluster.js';
export { Engine, CLUSTER_PORT } from './Engine.js';
export { startNode } from './NodeDaemon.js';
export type { NodeHandle, NodeOptions } from './NodeDaemon.js';
export { defaultSocketDir } from './EngineSocket.js';
export type { EngineOptions, SwarmDirectory } from './Engine.js';
export { Agent } from './Agent.js';
export type { AgentLink } from './Agent.js';
