// How long the engine's HTTP servers (the engine API on TCP and on its Unix socket, /metrics) wait for a
// client: a connection that sends no whole request head in time is answered 408 and closed, as HAProxy's
// `timeout http-request` does, so idle or slow connections cannot pile up until descriptors run out.
import type http from 'node:http';

/** HAProxy's usual `timeout http-request`. */
export const DEFAULT_REQUEST_HEAD_TIMEOUT_MS = 10_000;

/**
 * Node's headersTimeout counts from a connection's accept (and from each request's first byte), and is
 * checked every connectionsCheckingInterval. Once a request is whole the timers stop, so a response
 * that lasts (`service logs -f`) is never cut; between requests keepAliveTimeout applies.
 */
export function serverTimeouts(requestHeadTimeoutMs: number, keepAliveTimeoutMs: number): http.ServerOptions {
  return {
    headersTimeout: requestHeadTimeoutMs,
    // Node's default for a whole request (its body too); it may not be shorter than the head's.
    requestTimeout: Math.max(300_000, requestHeadTimeoutMs),
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(requestHeadTimeoutMs / 4))),
    keepAliveTimeout: keepAliveTimeoutMs,
  };
}
