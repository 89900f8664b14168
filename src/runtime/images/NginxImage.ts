// nginx (any tag): the official image's out-of-the-box server on port 80: the welcome page, nginx's own
// error pages, its startup notices and one combined-format access-log line per request.

import http from 'node:http';
import { InProcessTask } from '../InProcessTask.js';
import type { RunningTask, TaskRunSpec } from '../TaskRun.js';
import type { Image, ImageHost } from './Image.js';

/** /usr/share/nginx/html/index.html as the image ships it (615 bytes). */
const WELCOME = `<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
`;

/** The index file's mtime; nginx derives ETag from it and the size. */
const WELCOME_MTIME = new Date('2024-11-26T15:55:00Z');
const DEFAULT_VERSION = '1.27.3';
/** The last patch release of each line, so `nginx:1.25` reports what that tag last pointed at. */
const LAST_PATCH: Record<string, string> = {
  '1.19': '1.19.10', '1.20': '1.20.2', '1.21': '1.21.6', '1.22': '1.22.1', '1.23': '1.23.4',
  '1.24': '1.24.0', '1.25': '1.25.5', '1.26': '1.26.2', '1.27': '1.27.3',
};
/** nginx's master and worker PIDs inside a fresh container, as its log lines show them. */
const MASTER = '1#1';
const WORKER = '29#29';

export class NginxImage implements Image {
  readonly #version: string;

  constructor(tag: string) {
    this.#version = versionOf(tag);
  }

  async run(spec: TaskRunSpec, host: ImageHost): Promise<RunningTask> {
    const task = new InProcessTask(spec, host);
    const server = `nginx/${this.#version}`;
    const files = new Map([['/', WELCOME], ['/index.html', WELCOME]]);
    let connections = 0;
    const connectionIds = new WeakMap<object, number>();

    const site = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const method = req.method ?? 'GET';
      const file = files.get(path);
      const request = `${method} ${req.url} HTTP/${req.httpVersion}`;
      // Read now: by 'finish' a closing connection may already have forgotten its peer.
      const client = req.socket.remoteAddress ?? '-';
      let status = 200;
      if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') status = 405;
      else if (file === undefined) status = 404;
      else if (method === 'POST') status = 405;

      const body = status === 200 ? file! : errorPage(status, server);
      res.statusCode = status;
      res.setHeader('Server', server);
      res.setHeader('Content-Type', 'text/html');
      res.setHeader('Content-Length', Buffer.byteLength(body));
      if (status === 200) {
        res.setHeader('Last-Modified', WELCOME_MTIME.toUTCString());
        res.setHeader('ETag', `"${(WELCOME_MTIME.getTime() / 1000).toString(16)}-${Buffer.byteLength(body).toString(16)}"`);
        res.setHeader('Accept-Ranges', 'bytes');
      }
      if (status === 404) {
        const conn = connectionIds.get(req.socket) ?? 0;
        task.log(
          `${errorLogTime(new Date())} [error] ${WORKER}: *${conn} open() "/usr/share/nginx/html${path}" failed ` +
            `(2: No such file or directory), client: ${client}, server: localhost, ` +
            `request: "${request}", host: "${req.headers.host ?? ''}"`,
          'stderr',
        );
      }
      res.once('finish', () => {
        const sent = method === 'HEAD' ? 0 : Buffer.byteLength(body);
        task.log(
          `${client} - - [${accessLogTime(new Date())}] "${request}" ${status} ${sent} ` +
            `"${req.headers.referer ?? '-'}" "${req.headers['user-agent'] ?? '-'}"`,
        );
      });
      res.end(body);
    });
    site.on('connection', (socket) => connectionIds.set(socket, ++connections));

    const now = errorLogTime(new Date());
    task.log('/docker-entrypoint.sh: Configuration complete; ready for start up');
    task.log(`${now} [notice] ${MASTER}: using the "epoll" event method`, 'stderr');
    task.log(`${now} [notice] ${MASTER}: ${server}`, 'stderr');
    task.log(`${now} [notice] ${MASTER}: start worker processes`, 'stderr');
    // The image's STOPSIGNAL is SIGQUIT: nginx finishes what it is serving, then exits 0.
    task.onStop(() => task.log(`${errorLogTime(new Date())} [notice] ${MASTER}: signal 3 (SIGQUIT) received, shutting down`, 'stderr'));
    await task.serveHttp(site, 80);
    return task;
  }
}

/** `1.25` → 1.25.5, `1.25.3-alpine` → 1.25.3, `latest`/`alpine`/`mainline` → the current release. */
function versionOf(tag: string): string {
  if (tag === 'stable' || tag.startsWith('stable-')) return LAST_PATCH['1.26']!;
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?(?:-|$)/.exec(tag);
  if (!m) return DEFAULT_VERSION;
  const line = `${m[1]}.${m[2]}`;
  return m[3] !== undefined ? `${line}.${m[3]}` : (LAST_PATCH[line] ?? `${line}.0`);
}

/** nginx's special-response pages: CRLF line ends, the version in the footer. */
function errorPage(status: number, server: string): string {
  const title = status === 404 ? '404 Not Found' : status === 405 ? '405 Not Allowed' : `${status}`;
  return [
    '<html>',
    `<head><title>${title}</title></head>`,
    '<body>',
    `<center><h1>${title}</h1></center>`,
    `<hr><center>${server}</center>`,
    '</body>',
    '</html>',
    '',
  ].join('\r\n');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** `$time_local`, e.g. `26/Nov/2024:15:55:00 +0000` (a container's clock is UTC). */
function accessLogTime(d: Date): string {
  return (
    `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** The error log's `2024/11/26 15:55:00`. */
function errorLogTime(d: Date): string {
  return d.toISOString().slice(0, 19).replace(/-/g, '/').replace('T', ' ');
}
