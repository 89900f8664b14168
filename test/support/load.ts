// Test support: steady new-connection load through a set of nodes, counting what failed and when, and
// a service update through the engine API, for the planned-change tests (in one process and as processes).
import http from 'node:http';
import { api, waitFor } from './cluster.js';

/**
 * About `perSecond` new-connection requests spread over `hosts` until stopped; counts what failed, why,
 * and when (ms since the load began), so a failure can be set against the fence and stop times in the logs.
 */
export function steadyLoad(hosts: string[], port: number, perSecond: number) {
  let ok = 0;
  const failures: string[] = [];
  let stopped = false;
  let inFlight = 0;
  const began = Date.now();
  const one = (host: string): void => {
    inFlight++;
    const sent = Date.now() - began;
    const failed = (why: string): void => { failures.push(`${host} (sent at ${sent} ms, failed at ${Date.now() - began} ms, ${new Date().toISOString()}): ${why}`); };
    const req = http.get({ host, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => {
        inFlight--;
        if (res.statusCode === 200) ok++;
        else failed(`HTTP ${res.statusCode}`);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => { inFlight--; failed(error.message); });
  };
  let i = 0;
  const timer = setInterval(() => {
    if (stopped) return;
    for (let k = 0; k < perSecond / 100; k++) one(hosts[i++ % hosts.length]!);
  }, 10);
  return {
    get ok() { return ok; },
    failures,
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await waitFor('requests in flight to finish', () => inFlight === 0, 10_000);
    },
  };
}

/** Updates service `name` through the engine API at `manager` to `change(its spec)`. */
export async function updateService(manager: string, name: string, change: (spec: any) => any): Promise<void> {
  const { body: service } = await api(manager, 'GET', `/services/${name}`);
  const res = await api(manager, 'POST', `/services/${service.ID}/update?version=${service.Version.Index}`, change(service.Spec));
  if (res.status !== 200) throw new Error(`update of ${name} failed: ${JSON.stringify(res.body)}`);
}
