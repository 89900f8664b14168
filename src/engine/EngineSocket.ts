// A node's engine API on a Unix socket, as Docker's /var/run/docker.sock: mode 0600 in a directory only
// routemesh's user can enter, so only that user (and root) reaches it. Opened and removed with the node.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Where the sockets go unless told: the user's runtime directory (`$XDG_RUNTIME_DIR/routemesh`), else
 * `/run/routemesh` for root, else `<tmpdir>/routemesh-<uid>`.
 */
export function defaultSocketDir(): string {
  const runtime = process.env['XDG_RUNTIME_DIR'];
  if (runtime) return path.join(runtime, 'routemesh');
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/routemesh' : path.join(os.tmpdir(), `routemesh-${uid}`);
}

export class EngineSocket {
  /** The socket file: `<dir>/<node address>.sock`. */
  readonly path: string;
  readonly #server: http.Server;

  /** `options`: the engine API's timeouts, the same as on TCP; `upgrade` serves hijacked connections (attach). */
  constructor(handler: http.RequestListener, dir: string, address: string, options: http.ServerOptions, upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void) {
    this.#server = http.createServer(options, handler);
    if (upgrade) this.#server.on('upgrade', upgrade);
    this.path = path.join(dir, `${address}.sock`);
  }

  /** `unix:///...`, as DOCKER_HOST takes it. */
  get url(): string {
    return `unix://${this.path}`;
  }

  async listen(): Promise<void> {
    privateDir(path.dirname(this.path));
    await removeStale(this.path);
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ path: this.path }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    // Made with the umask's mode; nobody else can enter the directory meanwhile.
    fs.chmodSync(this.path, 0o600);
  }

  /** Closes the server, which removes the socket file. */
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * Creates `dir` (mode 0700), or checks that it is a directory of this user's that nobody else may enter.
 * A directory others use is never to be chmodded (a sticky /tmp made 0700 breaks every other user):
 * the advice is a new directory of the sockets' own, which this function then creates owner-only.
 */
function privateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) {
    const what = stat.isDirectory() ? `owner uid ${stat.uid}, mode ${(stat.mode & 0o7777).toString(8)}` : 'not a directory';
    const own = path.join(stat.isDirectory() ? dir : path.dirname(dir), `routemesh-${uid}`);
    throw new Error(`the engine socket directory ${dir} must be a directory only uid ${uid} can enter (it is ${what}): ` +
      `give the sockets a new directory of their own, which routemesh creates owner-only, such as --socket-dir ${own}`);
  }
}

/** A socket file left by a routemesh that was killed is removed; one that answers is another routemesh's. */
async function removeStale(file: string): Promise<void> {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${file} exists and is not a socket: remove it, or choose another --socket-dir`);
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect(file, () => { probe.destroy(); resolve(true); });
    probe.on('error', () => resolve(false));
  });
  if (answered) throw new Error(`${file} is in use: is another routemesh running with a node at this address? Stop it or pick another --subnet`);
  fs.rmSync(file, { force: true });
}
