export { Ipam, IpamError, ipToInt, intToIp, parseCidr } from './Ipam.js';
export type { Cidr } from './Ipam.js';
