// /_ping, /version, /info and /distribution: the questions a docker CLI asks before anything else; and
// /system/df.
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { API_VERSION, ApiError, ENGINE_VERSION } from './http.js';

export function systemRoutes(router: Router, engine: EngineContext): void {
  router.add('GET', /^\/_ping$/, (r) => {
    r.res.setHeader('Cache-Control', 'no-cache, no-store, must-revalidate');
    r.res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    r.res.statusCode = 200;
    r.res.end('OK');
    return undefined;
  });
  router.add('HEAD', /^\/_ping$/, () => ({ status: 200 }));

  router.add('GET', /^\/version$/, () => ({
    status: 200,
    body: {
      Platform: { Name: 'routemesh' },
      Version: ENGINE_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: '1.24',
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: os.release(),
      GoVersion: 'go1.24.3',
      GitCommit: 'routemesh',
      Components: [{ Name: 'Engine', Version: ENGINE_VERSION, Details: { ApiVersion: API_VERSION, MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64' } }],
    },
  }));

  router.add('GET', /^\/info$/, () => {
    const state = engine.swarmState();
    const nodeId = engine.nodeId() ?? '';
    const swarm: Record<string, unknown> = {
      NodeID: nodeId,
      NodeAddr: state === 'inactive' ? '' : engine.address,
      LocalNodeState: state === 'inactive' || state === 'pending' ? state : 'active',
      ControlAvailable: state === 'active/manager',
      Error: '',
      RemoteManagers: state === 'inactive' || state === 'pending' ? null : engine.remoteManagers(),
    };
    if (state === 'active/manager') {
      // A manager that is not the leader answers from its copy of the view and of the swarm object.
      const { nodes, cluster } = engine.managerView();
      swarm.Nodes = nodes.length;
      swarm.Managers = nodes.filter((n) => n.Spec.Role === 'manager').length;
      swarm.Cluster = cluster;
    }
    return {
      status: 200,
      body: {
        ID: nodeId,
        Name: engine.hostname,
        ServerVersion: ENGINE_VERSION,
        OperatingSystem: 'routemesh',
        OSType: 'linux',
        Architecture: 'x86_64',
        NCPU: os.cpus().length,
        MemTotal: os.totalmem(),
        Labels: Object.entries(engine.engineLabels).map(([key, value]) => `${key}=${value}`),
        Swarm: swarm,
      },
    };
  });

  // `docker system df`: this node's images, containers and volumes.
  router.add('GET', /^\/system\/df$/, async (r) => ({ status: 200, body: await engine.containers.diskUsage(r.query.getAll('type')) }));

  // The docker CLI pins images to a digest through this call; catalogue images get a stable one.
  router.add('GET', /^\/distribution\/(.+)\/json$/, (r) => {
    const image = r.params[0]!;
    if (!engine.hasImage(image)) {
      throw new ApiError(404, `errors:\ndenied: requested access to the resource is denied\nunauthorized: '${image}' is not in routemesh's image catalogue`);
    }
    const name = image.split('@')[0]!;
    const digest = createHash('sha256').update(`routemesh:${name}`).digest('hex');
    return {
      status: 200,
      body: {
        Descriptor: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${digest}`, size: 10229 },
        Platforms: [{ architecture: 'amd64', os: 'linux' }, { architecture: 'arm64', os: 'linux' }],
      },
    };
  });
}
