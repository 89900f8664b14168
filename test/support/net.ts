// Test support: clients that open a new connection per request, as the mesh's per-connection
// balancing needs to be observed (fetch would reuse one keep-alive connection).
import http from 'node:http';
import net from 'node:net';

export function httpGet(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

/** The first line of traefik/whoami's answer names the task: `Hostname: <12 hex>`. */
export async function whoamiHost(host: string, port: number): Promise<string> {
  return hostnameOf((await httpGet(host, port)).body);
}

/** The task named by a traefik/whoami answer. */
export function hostnameOf(body: string): string {
  const match = /^Hostname: (\S+)/.exec(body);
  if (!match) throw new Error(`not a whoami answer: ${body.slice(0, 80)}`);
  return match[1]!;
}

/** Connects and resolves with how the connection ended without sending anything: 'closed' or 'open' (after ms). */
export function connectAndWait(host: string, port: number, ms: number): Promise<'closed' | 'open' | 'refused'> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => { socket.destroy(); resolve('open'); }, ms);
    socket.on('error', (e: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'closed'); });
    socket.on('close', () => { clearTimeout(timer); resolve('closed'); });
  });
}

/** An open connection to an echo service: `roundTrip` sends a line and waits for it back. */
export async function echoConnection(host: string, port: number): Promise<{ roundTrip(text: string): Promise<string>; socket: net.Socket }> {
  const socket = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  socket.setEncoding('utf8');
  let ended = false;
  socket.once('end', () => { ended = true; });
  socket.on('error', () => { ended = true; });
  return {
    socket,
    roundTrip: (text) => new Promise((resolve, reject) => {
      if (ended || !socket.writable) return reject(new Error('connection closed'));
      let got = '';
      const onData = (chunk: string) => {
        got += chunk;
        if (got.length >= text.length) { socket.off('data', onData); resolve(got); }
      };
      socket.on('data', onData);
      socket.once('end', () => reject(new Error('connection closed')));
      socket.once('error', reject);
      socket.write(text);
    }),
  };
}
