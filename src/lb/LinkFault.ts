// What goes wrong on the way to one backend, as fault injection sets it: the library knows no more of
// faults than these effects. Every field is optional; several faults on one link are merged into one.

export interface LinkFault {
  /** Connects are refused, as by a host where nothing listens on the port (a real ECONNREFUSED). */
  refused?: boolean;
  /** Connects never complete, as when a partition drops the SYNs: the caller's connect timeout ends them. */
  unreachable?: boolean;
  /** Connects complete only after this long. */
  connectDelayMs?: number;
  /** Connections are accepted and never answered: nothing reaches the backend, nothing comes back. */
  blackhole?: boolean;
  /** What the backend sends arrives this much later (each chunk; TCP keeps their order). */
  latencyMs?: number;
  /** Each chunk's latency varies by up to this much either way. */
  jitterMs?: number;
  /** Each connection carries at most this many bytes a second, each way. */
  bytesPerSecond?: number;
  /** A connection is reset once this many bytes have crossed it (both ways together). */
  resetAfterBytes?: number;
  /** UDP: the share (0..1) of datagrams toward the backend that are lost. */
  loss?: number;
  /** UDP: the share (0..1) of datagrams toward the backend that arrive twice. */
  duplicate?: number;
}

/** Each field's type, for whoever reads a LinkFault from outside (a node's pool report). */
export const LINK_FAULT_FIELDS: Record<keyof LinkFault, 'boolean' | 'number'> = {
  refused: 'boolean', unreachable: 'boolean', connectDelayMs: 'number', blackhole: 'boolean', latencyMs: 'number',
  jitterMs: 'number', bytesPerSecond: 'number', resetAfterBytes: 'number', loss: 'number', duplicate: 'number',
};

/** The fault's effects on a TCP connection once connected: what a shaped pipe has to do. */
export function shapesStream(fault: LinkFault): boolean {
  return !!(fault.blackhole || fault.latencyMs || fault.jitterMs || fault.bytesPerSecond || fault.resetAfterBytes !== undefined);
}
