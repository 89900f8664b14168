// A manager that is not the leader answers what needs the control plane by asking the leader, as
// swarmkit's managers proxy the control API to theirs: the request goes on over the leader's cluster port
// (`/v1/engine/...`, served by the leader's engine API) in mutual TLS with this node's certificate, and its
// answer comes back as it is.
import type http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ENGINE_PREFIX, clientTls } from '../../cluster/index.js';
import type { NodeTls } from '../../cluster/index.js';
import { ApiError, rawBodyOf, sendError } from './http.js';

/** Thrown by `requireManager()` on a manager that is not the leader; the API then forwards the request. */
export class NotTheLeader extends Error {
  /** The leader's cluster address, `addr:2377`. */
  readonly leader: string;
  /** This node's own address: the forwarded request comes from it. */
  readonly from: string;
  /** What this node speaks to managers with. */
  readonly tls: NodeTls;
  constructor(leader: string, from: string, tls: NodeTls) {
    super(`this manager is not the leader; the leader is at ${leader}`);
    this.leader = leader;
    this.from = from;
    this.tls = tls;
  }
}

/** Set on a forwarded request: the address of the node the request was made to (a bridge network is that node's). */
export const FORWARDED_FROM_HEADER = 'x-routemesh-forwarded-from';

/**
 * How long the leader has to start its answer: a change's waits for etcd (5 s a call) fit in it. A leader
 * that is stopped (not dead) takes the connection and never answers; another is elected meanwhile.
 */
const ANSWER_TIMEOUT_MS = 10_000;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export function forwardToLeader(req: IncomingMessage, res: ServerResponse, to: NotTheLeader): void {
  const colon = to.leader.lastIndexOf(':');
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
  const body = rawBodyOf(req);
  if (body) headers['content-length'] = body.length;
  headers[FORWARDED_FROM_HEADER] = to.from;
  const upstream = https.request({
    host: to.leader.slice(0, colon), port: Number(to.leader.slice(colon + 1)), localAddress: to.from, ...clientTls(to.tls),
    method: req.method, path: `${ENGINE_PREFIX}${req.url}`, headers,
  }, (answer) => {
    // Answering: a stream (logs --follow) may then be quiet for as long as it likes.
    upstream.setTimeout(0);
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
    res.writeHead(answer.statusCode ?? 502, out);
    answer.pipe(res);
  });
  upstream.on('error', (error) => {
    if (!res.headersSent) sendError(res, new ApiError(500, `the leader at ${to.leader} did not answer (${error.message}): try again, or run the command on another manager`));
    else res.destroy();
  });
  upstream.setTimeout(ANSWER_TIMEOUT_MS, () => upstream.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)));
  res.on('close', () => upstream.destroy());
  if (body) upstream.end(body);
  else req.pipe(upstream);
}
