// The bench's task program, run by routemesh/exec in a process of its own, as a container's program runs
// beside the engine: an HTTP/1.1 server on $HOST:$PORT that answers every request with whoami's first
// lines (which task, and which client it saw), keeping connections alive. Every route of the bench ends
// here, so the mesh and its peers are charged for their own work only, not for the task's.
import http from 'node:http';

const host = process.env.HOST;
const port = Number(process.env.PORT);
if (!host || !Number.isInteger(port)) {
  process.stderr.write('bench/backend.ts: HOST and PORT must say where to listen (routemesh/exec sets them)\n');
  process.exit(2);
}
const hostname = process.env.HOSTNAME ?? '';

const server = http.createServer((req, res) => {
  const body = `Hostname: ${hostname}\nIP: ${host}\nRemoteAddr: ${req.socket.remoteAddress}:${req.socket.remotePort}\n${req.method} ${req.url} HTTP/1.1\n`;
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
});
// Longer than any peer's idle timeout toward it, so none of them meets a connection closing under it.
server.keepAliveTimeout = 120_000;
server.listen(port, host, () => process.stdout.write(`listening on ${host}:${port}\n`));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
