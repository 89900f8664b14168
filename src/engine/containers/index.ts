// A node's containers (node-local, as dockerd's): the swarm tasks it runs and its standalone containers.
export { NodeContainers } from './NodeContainers.js';
export type { NodeContainersOptions, NodeTasks } from './NodeContainers.js';
export type { ContainerFacts } from './ContainerFacts.js';
export { StandaloneContainer } from './StandaloneContainer.js';
export type { WaitCondition } from './StandaloneContainer.js';
export { canonicalImage, containerInspect, containerSummary, imageIdOf } from './containerJson.js';
export { selectContainers } from './containerFilters.js';
export { parseCreateRequest } from './createRequest.js';
export { sampleStats, statsJson } from './containerStats.js';
export type { VolumeUsageProvider } from './diskUsage.js';
