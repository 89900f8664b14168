// The TCP engine API's defence against web pages: a browser can reach 127.x:2375 from any site, by a
// cross-origin request or by rebinding the site's own name to this machine. Programs send neither.
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './http.js';

/**
 * Refuses, with 403, a request that a web page sent: one whose Origin is another site's (the engine
 * serves no pages, so no Origin is its own but the request's own host), or whose Host is a name, not an
 * address: a name can be rebound to 127.x by its owner, an IP address or localhost cannot.
 */
export function refuseWebPage(req: IncomingMessage): void {
  const host = req.headers.host;
  const where = `http://${req.socket.localAddress}:${req.socket.localPort}`;
  if (host !== undefined && !isAddress(hostName(host))) {
    throw new ApiError(403, `request refused: its Host header names ${JSON.stringify(host)}, not this engine's address ` +
      `(a web page may have rebound its name to this machine); address the engine as ${where}`);
  }
  const origin = req.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${host ?? ''}`.toLowerCase()) {
    throw new ApiError(403, `cross-origin request refused: a web page from ${origin} may not use the engine API; ` +
      `send requests from a program (docker, routemesh, curl) to ${where} or to the node's Unix socket`);
  }
}

/** The host of a Host header: `[::1]:2375` → `::1`, `127.1.0.1:2375` → `127.1.0.1`. */
function hostName(host: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d*$/, '');
}

/** An IP address, or localhost and its subdomains, which resolve to loopback by RFC 6761 and no DNS. */
function isAddress(name: string): boolean {
  const lower = name.toLowerCase().replace(/\.$/, '');
  return isIP(lower) !== 0 || lower === 'localhost' || lower.endsWith('.localhost');
}
