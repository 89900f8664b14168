export { Ipam, IpamError, ipToInt, intToIp, parseCidr } from './Ipam.js';
export type { Cidr } from './Ipam.js';
export { Zone } from './Zone.js';
export type { ServiceRecord, TaskRecord, ZoneOptions, ZoneAnswer, ZoneRecord, QueryType } from './Zone.js';
export { DnsServer } from './DnsServer.js';
export type { AnsweredQuery, DnsServerOptions } from './DnsServer.js';
export { RCODE } from './dnsMessage.js';
export type { Upstream, Transport } from './Forwarder.js';
export { DNS_PORT, isLoopback, parseDnsAddress, resolvConfUpstreams, systemUpstreams } from './upstreams.js';
