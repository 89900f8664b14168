// The cluster protocol: how nodes reach the swarm's managers over the cluster port (see protocol.ts).
export { CLUSTER_PORT, ENGINE_PREFIX, NO_LEADER } from './protocol.js';
export type { JoinAnswer, JoinRequest, NetworkAnswer, NetworkRequest, SessionMessage } from './protocol.js';
export { Dispatcher } from './Dispatcher.js';
export { SessionStreams } from './SessionStreams.js';
export { ManagerFeed } from './ManagerFeed.js';
export { EtcdFeed } from './EtcdFeed.js';
export { ClusterPortServer } from './ClusterPortServer.js';
export { ManagerLink, ClusterRequestError, asSwarmError } from './ManagerLink.js';
export type { Pong } from './ManagerLink.js';
export { clientTls, isManagerCertificate, newNodeKey } from './nodeTls.js';
export type { NodeTls } from './nodeTls.js';
