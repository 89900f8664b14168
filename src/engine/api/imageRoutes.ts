// The image questions a docker CLI asks of a daemon that has routemesh's built-in images: `docker pull`
// (POST /images/create: up to date at once for a built-in image, refused naming the images routemesh
// has for any other) and `docker image inspect` (GET /images/{name}/json).
import type { Router } from './Router.js';
import type { EngineContext } from './EngineContext.js';
import { ApiError } from './http.js';
import { builtInImages } from '../../runtime/index.js';
import { canonicalImage, imageIdOf } from '../containers/index.js';

async function imageList(): Promise<string> {
  return (await builtInImages()).map((image) => image.references.join(' = ')).join(', ');
}

export function imageRoutes(router: Router, engine: EngineContext): void {
  router.add('POST', /^\/images\/create$/, async (r) => {
    const from = r.query.get('fromImage');
    if (!from) throw new ApiError(400, 'routemesh imports no images (docker import, docker load): its images are built in');
    const tag = r.query.get('tag');
    const reference = tag && !from.includes('@') ? `${from}:${tag}` : from;
    if (!engine.hasImage(reference)) {
      const repository = canonicalImage(reference).replace(/:[^:/]*$/, '');
      throw new ApiError(404, `pull access denied for ${repository}, repository does not exist in routemesh: routemesh pulls nothing, its images are built in: ${await imageList()}`);
    }
    const name = canonicalImage(reference);
    const [repository, version] = [name.slice(0, name.lastIndexOf(':')), name.slice(name.lastIndexOf(':') + 1)];
    const lines = [
      { status: `Pulling from ${repository.includes('/') ? repository : `library/${repository}`}`, id: version },
      { status: `Digest: ${imageIdOf(reference)}` },
      { status: `Status: Image is up to date for ${name}` },
    ];
    r.res.writeHead(200, { 'content-type': 'application/json' });
    r.res.end(lines.map((line) => `${JSON.stringify(line)}\r\n`).join(''));
    return undefined;
  });

  router.add('GET', /^\/images\/(.+)\/json$/, async (r) => {
    const reference = r.params[0]!;
    if (!engine.hasImage(reference)) throw new ApiError(404, `No such image: ${reference}`);
    const name = canonicalImage(reference);
    const image = (await builtInImages()).find((i) => i.references.includes(name));
    return {
      status: 200,
      body: {
        Id: imageIdOf(reference),
        RepoTags: image ? [...image.references] : [name],
        RepoDigests: [],
        Parent: '',
        Comment: 'built into routemesh',
        Created: (image?.created ?? new Date(0)).toISOString(),
        Config: { Env: [], Cmd: null, Entrypoint: null, Labels: null, ExposedPorts: null },
        Architecture: 'amd64',
        Os: 'linux',
        Size: image?.size ?? 0,
        GraphDriver: { Name: 'routemesh', Data: null },
        RootFS: { Type: 'layers', Layers: [] },
        Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
      },
    };
  });
}
