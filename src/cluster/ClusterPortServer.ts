// A manager's cluster port (`<addr>:2377`): the cluster protocol over HTTP/1.1 in mutual TLS. Requests are
// small JSON POSTs; a session is one long response, a JSON message a line. Errors answer `{code, message}`,
// the control plane's own, so the node that asked can say what the manager said. Every manager listens; only
// the leader's serves the protocol (its dispatcher), the others answer where the leader is, and `ping`; with
// etcd, every manager serves sessions too, from its own copy of the swarm.
// Every call but `ca`, `ping` and `join` needs a node certificate of the swarm's root, and speaks only for the node
// it names; a node removed from the swarm is refused whatever its certificate (that is its revocation).
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SwarmError } from '../swarm/index.js';
import type { Dispatcher } from './Dispatcher.js';
import type { SessionStreams } from './SessionStreams.js';
import { ENGINE_PREFIX, NO_LEADER, PATHS } from './protocol.js';
import type { JoinRequest, NetworkRequest, StatusReport } from './protocol.js';
import type { Pong } from './ManagerLink.js';
import { peerNodeId } from './nodeTls.js';
import type { NodeTls } from './nodeTls.js';

const MAX_BODY_BYTES = 8 << 20;
/** A TLS handshake, request head or body that takes longer than this is cut: no client may hold the port. */
const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** A session reader this far behind (a stuck node) is dropped; it gets the whole view when it comes back. */
const DEFAULT_MAX_SESSION_BACKLOG_BYTES = 64 << 20;

export interface ClusterPortOptions {
  /** The engine API of this manager, which the other managers forward to while it leads (under `/v1/engine/`). */
  engineApi?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Where the leader is, as this manager knows it, for a node that asked a manager that is not. */
  leader?: () => string | undefined;
  /** The highest version of the swarm this manager has (its own, or its copy), which a ping answers. */
  index?: () => number;
  log?: (line: string) => void;
  /** How far behind a session reader may fall before it is dropped (64 MiB; tests lower it). */
  maxSessionBacklogBytes?: number;
  /** How long a TLS handshake, request head or body may take (10 s; tests lower it). */
  requestTimeoutMs?: number;
}

export class ClusterPortServer {
  /** Set while this manager leads. */
  #dispatcher: Dispatcher | undefined;
  /** The sessions it serves: the leader's, or with etcd every manager's own. */
  #streams: SessionStreams | undefined;
  readonly #leader: () => string | undefined;
  readonly #index: () => number;
  readonly #server: https.Server;
  #rootCA: string | undefined;
  readonly #log: (line: string) => void;
  readonly #maxBacklog: number;
  #sessionResponses = new Set<ServerResponse>();
  /** Every connection, from before its TLS handshake: one still shaking hands is no HTTP connection yet, which closeAllConnections would leave open. */
  readonly #sockets = new Set<Socket>();
  /** Nodes' addresses cut off from this manager by an injected partition: their connections are closed. */
  #cut: ReadonlySet<string> = new Set();

  /**
   * `engineApi` serves what other managers forward under `/v1/engine/` (they are not the leader): this
   * manager's own engine API.
   */
  constructor(options: ClusterPortOptions = {}) {
    this.#log = options.log ?? (() => {});
    this.#leader = options.leader ?? (() => undefined);
    this.#index = options.index ?? (() => 0);
    this.#maxBacklog = options.maxSessionBacklogBytes ?? DEFAULT_MAX_SESSION_BACKLOG_BYTES;
    const engineApi = options.engineApi;
    // A client without a certificate gets as far as `ca` and `join`; the rest check the peer's certificate.
    // The HTTP timeouts start after the handshake, whose own default (120 s) would let a silent client hold a socket.
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const timeouts = { requestTimeout: timeoutMs, headersTimeout: timeoutMs, handshakeTimeout: timeoutMs };
    this.#server = https.createServer({ ...timeouts, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      if (req.url?.startsWith(`${ENGINE_PREFIX}/`)) {
        // Only a manager forwards, and only with its certificate.
        const from = peerNodeId(req.socket as TLSSocket);
        if (!from || (this.#dispatcher && !this.#dispatcher.isManager(from))) return answerEngineError(res, 'only a manager of this swarm, with its certificate, may forward engine API requests', 403);
        // Forwarded to a leader that stepped down meanwhile: never forwarded again (two managers that each
        // still took the other for leader would pass it back and forth), but answered as Swarm would.
        if (!this.#dispatcher || !engineApi) return answerEngineError(res, NO_LEADER, 500);
        req.url = req.url.slice(ENGINE_PREFIX.length);
        engineApi(req, res);
        return;
      }
      this.#handle(req, res).catch((error: unknown) => answerError(res, error));
    });
    this.#server.on('connection', (socket: Socket) => {
      if (this.#cut.has(addressOf(socket))) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host, port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    return (this.#server.address() as AddressInfo).port;
  }

  get leading(): boolean {
    return this.#dispatcher !== undefined;
  }

  /** What it serves TLS with: this manager's own key and certificate, and the root it checks peers against. */
  setTls(tls: NodeTls): void {
    this.#rootCA = tls.ca;
    this.#server.setSecureContext({ key: tls.key, cert: tls.cert, ca: tls.ca });
  }

  /** This manager leads: its dispatcher serves the protocol from now on, and its sessions. */
  lead(dispatcher: Dispatcher): void {
    this.#dispatcher = dispatcher;
    this.#streams = dispatcher.streams;
  }

  /**
   * This manager leads no more: it names the leader from now on, as every other manager does. With etcd, it
   * serves sessions from its own copy (`streams`) whether it leads or not.
   */
  follow(streams?: SessionStreams): void {
    this.#dispatcher = undefined;
    this.#streams = streams;
  }

  /**
   * An injected partition: connections from these nodes' addresses are closed, now and from now on (their
   * sessions end, their beats stop reaching the leader, a manager among them pings no one). Replaces the last set.
   */
  cutOff(addresses: ReadonlySet<string>): void {
    this.#cut = addresses;
    for (const socket of this.#sockets) if (addresses.has(addressOf(socket))) socket.destroy();
  }

  async close(): Promise<void> {
    this.#dispatcher = undefined;
    this.#streams = undefined;
    for (const stream of this.#sessionResponses) stream.destroy();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Web pages can send to loopback: none may speak for a node (a "simple" cross-site POST is text/plain).
    if (req.headers.origin !== undefined) throw new SwarmError('invalid_argument', 'the cluster port does not answer web pages');
    const url = new URL(req.url ?? '/', 'http://cluster');
    const route = `${req.method} ${url.pathname}`;
    if (route === `GET ${PATHS.ca}`) return answer(res, { rootCA: this.#rootCA });
    if (route === `GET ${PATHS.ping}`) return answer(res, { leader: this.leading, index: this.#index() } satisfies Pong);
    const peer = peerNodeId(req.socket as TLSSocket);
    if (!peer && route !== `POST ${PATHS.join}`) {
      throw new SwarmError('permission_denied', `${route} needs a node certificate of this swarm: join the swarm first (docker swarm join)`);
    }
    const own = (nodeId: string): string => {
      if (nodeId !== peer) throw new SwarmError('permission_denied', `a node speaks only for itself: this certificate is node ${peer}'s, not ${nodeId}'s`);
      return nodeId;
    };
    if (route === `GET ${PATHS.session}` && this.#streams) return this.#session(this.#streams, own(url.searchParams.get('node') ?? ''), res);
    const d = this.#dispatcher;
    if (!d) {
      const leader = this.#leader();
      throw new NotTheLeaderError(leader
        ? `this manager is not the leader: the leader is at ${leader}`
        : 'this manager is not the leader, and knows of none: the swarm does not have a leader', leader);
    }
    switch (route) {
      case `POST ${PATHS.join}`: {
        const request = asJoin(await readJson(req));
        // The address a node names is where its mesh and tasks are reached: it must be the one it speaks from,
        // or a worker's token could claim a manager's address.
        const from = req.socket.remoteAddress?.replace(/^::ffff:/, '');
        if (from !== request.addr) throw new SwarmError('permission_denied', `a node joins from the address it names: ${request.addr}, not ${from}`);
        const joined = d.join(request, peer);
        await d.durable();
        return answer(res, joined);
      }
    }
    // A removed node's certificate is refused from then on, as swarmkit's CA revokes it.
    d.checkMember(peer!);
    switch (route) {
      case `POST ${PATHS.heartbeat}`:
        return answer(res, d.heartbeat(own(field(await readJson(req), 'nodeId', 'string'))));
      case `POST ${PATHS.status}`: {
        const body = await readJson(req);
        const reports = field(body, 'reports', 'object') as StatusReport[];
        if (!Array.isArray(reports)) throw new SwarmError('invalid_argument', 'reports must be a list of {taskId, report}');
        for (const error of d.reportStatus(own(field(body, 'nodeId', 'string')), reports)) this.#log(`cluster port: a task report from node ${peer} was refused: ${error.message}`);
        return answer(res, {});
      }
      case `POST ${PATHS.applied}`: {
        const body = await readJson(req);
        d.applied(own(field(body, 'nodeId', 'string')), field(body, 'epoch', 'string'), field(body, 'seq', 'number'));
        return answer(res, {});
      }
      case `POST ${PATHS.networks}`:
      {
        const request = asNetworkRequest(await readJson(req));
        own(request.nodeId);
        return answer(res, d.networks(request));
      }
      case `POST ${PATHS.leave}`:
        d.leave(own(field(await readJson(req), 'nodeId', 'string')));
        return answer(res, {});
      default:
        throw new SwarmError('not_found', `${route} is not part of the cluster protocol (${Object.values(PATHS).join(', ')})`);
    }
  }

  async #session(streams: SessionStreams, nodeId: string, res: ServerResponse): Promise<void> {
    // Before the answer's head: a node no longer a member (a removed node's certificate is refused from then on,
    // as swarmkit's CA revokes it) is told so (404), not cut off.
    await streams.admit(nodeId);
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.socket?.setNoDelay(true);
    this.#sessionResponses.add(res);
    const close = streams.open(nodeId, {
      write: (line) => {
        if (res.destroyed) return false;
        if (res.writableLength > this.#maxBacklog) {
          this.#log(`cluster port: node ${nodeId} reads its session too slowly (${res.writableLength} bytes behind): dropped; it resyncs when it reconnects`);
          res.destroy();
          return false;
        }
        res.write(`${line}\n`);
        return true;
      },
      end: () => res.end(),
    });
    res.on('close', () => {
      this.#sessionResponses.delete(res);
      close();
    });
  }
}

/** What a manager that does not lead answers: where the leader is, when it knows. */
class NotTheLeaderError extends SwarmError {
  readonly leader: string | undefined;
  constructor(message: string, leader: string | undefined) {
    super('unavailable', message);
    this.leader = leader;
  }
}

function answer(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const STATUS_OF: Record<string, number> = { invalid_argument: 400, permission_denied: 403, not_found: 404, unavailable: 503 };

/** An error in the engine API's shape (`{message}`), which the docker CLI prints. */
function answerEngineError(res: ServerResponse, message: string, status: number): void {
  const text = JSON.stringify({ message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function answerError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const code = error instanceof SwarmError ? error.code : 'unavailable';
  const text = JSON.stringify({ code, message: (error as Error).message, ...(error instanceof NotTheLeaderError && error.leader ? { leader: error.leader } : {}) });
  res.writeHead(STATUS_OF[code] ?? 500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (req.headers['content-type']?.split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw new SwarmError('invalid_argument', "a cluster request body must be sent as 'Content-Type: application/json'");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new SwarmError('invalid_argument', `a cluster request body is at most ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new SwarmError('invalid_argument', 'a cluster request body must be JSON');
  }
}

function field<T extends 'string' | 'number' | 'object'>(body: unknown, name: string, type: T): T extends 'string' ? string : T extends 'number' ? number : unknown {
  const value = (body as Record<string, unknown> | null)?.[name];
  if (typeof value !== type || value === null) throw new SwarmError('invalid_argument', `the request needs ${name} (a ${type})`);
  return value as never;
}

function asJoin(body: unknown): JoinRequest {
  const request: JoinRequest = {
    token: field(body, 'token', 'string'),
    hostname: field(body, 'hostname', 'string'),
    addr: field(body, 'addr', 'string'),
    publicKey: field(body, 'publicKey', 'string'),
  };
  const { engineLabels, nodeId } = body as Record<string, unknown>;
  if (engineLabels !== undefined) {
    if (typeof engineLabels !== 'object' || engineLabels === null || Object.values(engineLabels).some((v) => typeof v !== 'string')) {
      throw new SwarmError('invalid_argument', 'engineLabels must be an object of strings');
    }
    request.engineLabels = engineLabels as Record<string, string>;
  }
  if (nodeId !== undefined) request.nodeId = String(nodeId);
  return request;
}

/** A network request's fields checked as far as their types go (the manager checks the rest). */
function asNetworkRequest(body: unknown): NetworkRequest {
  const nodeId = field(body, 'nodeId', 'string');
  const op = field(body, 'op', 'string');
  const b = body as Record<string, unknown>;
  switch (op) {
    case 'create':
      return { nodeId, op, request: b.request };
    case 'remove':
      return { nodeId, op, ref: field(body, 'ref', 'string') };
    case 'attach': {
      const aliases = b.aliases ?? [];
      if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string')) throw new SwarmError('invalid_argument', 'aliases must be a list of names');
      return { nodeId, op, containerId: field(body, 'containerId', 'string'), containerName: field(body, 'containerName', 'string'), network: field(body, 'network', 'string'), aliases: aliases as string[] };
    }
    case 'detach':
      return { nodeId, op, containerId: field(body, 'containerId', 'string') };
    default:
      throw new SwarmError('invalid_argument', `op must be create, remove, attach or detach, got ${JSON.stringify(op)}`);
  }
}

/** A peer's IPv4 address as nodes name theirs (a dual-stack socket shows it IPv4-mapped). */
function addressOf(socket: Socket): string {
  return socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
}
