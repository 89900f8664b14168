export { Cluster, startCluster } from './Cluster.js';
export type { ClusterOptions, ClusterNodeInfo } from './Cluster.js';
export { Engine } from './Engine.js';
export { CLUSTER_PORT } from '../cluster/index.js';
export { defaultSocketDir } from './EngineSocket.js';
export type { EngineOptions, SwarmDirectory } from './Engine.js';
export { Agent } from './Agent.js';
export type { AgentLink } from './Agent.js';
