export { Backend } from './Backend.js';
export type { BackendState } from './Backend.js';
export { Pool } from './Pool.js';
export type { BackendDesired } from './Pool.js';
export { RoundRobin } from './RoundRobin.js';
export type { Balancer } from './RoundRobin.js';
export { TcpForwarder } from './TcpForwarder.js';
export type { ForwardEvents, TcpForwarderOptions } from './TcpForwarder.js';
