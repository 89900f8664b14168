// Test support: a steady stream of new-connection HTTP requests through the mesh, as a client population
// does, counting what was answered and when and why each failed request failed; and a service update
// through the engine API, for the planned-change tests (in one process and as processes).
import http from 'node:http';
import { api, waitFor } from './cluster.js';

export interface FailedRequest {
  /** When the request was sent (Date.now()). */
  at: number;
  /** `<host>: <why>` */
  what: string;
}

export interface SteadyLoad {
  readonly ok: number;
  readonly failures: FailedRequest[];
  /** Stops sending and resolves once every request in flight has its outcome. */
  stop(): Promise<void>;
}

/**
 * About `perSecond` requests spread over `hosts` (a connection each: agent false) until stopped; a
 * request fails on an error, a status other than 200, or no answer within 5 s.
 */
export function steadyLoad(hosts: string[], port: number, perSecond: number): SteadyLoad {
  let ok = 0;
  const failures: FailedRequest[] = [];
  let inFlight = 0;
  const one = (host: string): void => {
    const at = Date.now();
    inFlight++;
    let settled = false;
    // Each request has exactly one outcome, whichever of its events comes first.
    const settle = (why?: string): void => {
      if (settled) return;
      settled = true;
      inFlight--;
      if (why === undefined) ok++;
      else failures.push({ at, what: `${host}: ${why}` });
    };
    const req = http.get({ host, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`));
      res.on('close', () => settle(res.complete ? undefined : 'the answer was cut'));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => settle(error.message));
  };
  let i = 0;
  const timer = setInterval(() => {
    for (let k = 0; k < perSecond / 100; k++) one(hosts[i++ % hosts.length]!);
  }, 10);
  return {
    get ok() { return ok; },
    failures,
    async stop(): Promise<void> {
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
