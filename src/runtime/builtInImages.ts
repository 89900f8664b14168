// The images this runtime has, as `docker system df` and a pull see them: each by its references, with the
// size of the code that is the image (its module in this installation; a built-in image has no layers) and
// when that code was installed.
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface BuiltInImage {
  /** Its references, the first the one it is known by. */
  references: readonly string[];
  /** Bytes of the module that implements it. */
  size: number;
  created: Date;
}

const IMAGES: readonly { references: readonly string[]; module: string }[] = [
  { references: ['nginx:latest'], module: 'NginxImage' },
  { references: ['traefik/whoami:latest'], module: 'WhoamiImage' },
  { references: ['madvirus/simplenode:0.1'], module: 'SimpleNodeV01Image' },
  { references: ['madvirus/simplenode:0.2', 'madvirus/simplenode:latest'], module: 'SimpleNodeV02Image' },
  { references: ['redis:latest'], module: 'RedisImage' },
  { references: ['routemesh/echo:latest'], module: 'EchoImage' },
  { references: ['routemesh/exec:latest'], module: 'ExecImage' },
];

/** The module's file: the build's .js, or the source's .ts when run from source (tests). */
async function moduleFile(name: string): Promise<{ size: number; mtime: Date }> {
  for (const ext of ['.js', '.ts']) {
    const found = await stat(fileURLToPath(new URL(`./images/${name}${ext}`, import.meta.url))).catch(() => undefined);
    if (found) return found;
  }
  return { size: 0, mtime: new Date(0) };
}

export async function builtInImages(): Promise<BuiltInImage[]> {
  return Promise.all(IMAGES.map(async ({ references, module }) => {
    const file = await moduleFile(module);
    return { references, size: file.size, created: file.mtime };
  }));
}
